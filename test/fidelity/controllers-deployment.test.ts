import { strict as assert } from 'node:assert';
import { fidelity, type FidelityContext } from './harness';
import { apply, deploymentManifest, getJson, replicaSetsOf, sampler, until } from './controllers-workloads';

const ROLLING = 'kubernetes pkg/controller/deployment/rolling.go; docs concepts/workloads/controllers/deployment#rolling-update-deployment';

/** Rolls `web` from 1.0 to 2.0 and samples the ReplicaSets' sizes and available pods on the way. */
async function rollAndSample(c: FidelityContext, ns: string, spec: Record<string, unknown>) {
  await apply(c, ns, deploymentManifest('web', spec, { image: `${c.f.image}:1.0` }));
  await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
  const stop = sampler(() => {
    const sets = replicaSetsOf(c, ns, 'web');
    return {
      sets: sets.length,
      pods: sets.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0),
      available: sets.reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0),
      newSize: sets.length > 1 ? sets[sets.length - 1].spec.replicas : undefined,
    };
  });
  await apply(c, ns, deploymentManifest('web', spec, { image: `${c.f.image}:2.0`, readyAfter: 0.3 }));
  const status = await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=60s');
  return { samples: stop(), status };
}

describe('Kubernetes emulator fidelity: the Deployment controller', () => {
  fidelity('rolls 4 replicas with maxSurge 1 / maxUnavailable 0: never more than 5 pods, never fewer than 4 available', ROLLING, async (c) => {
    const ns = c.namespace();
    const { samples, status } = await rollAndSample(c, ns, { replicas: 4, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } });
    assert.match(status, /deployment "web" successfully rolled out/);
    assert.ok(samples.some((s) => s.sets === 2), 'an old and a new ReplicaSet coexisted');
    assert.ok(samples.every((s) => s.pods <= 5), `at most replicas + maxSurge: ${Math.max(...samples.map((s) => s.pods))}`);
    assert.ok(samples.every((s) => s.available >= 4), `at least replicas - maxUnavailable: ${Math.min(...samples.map((s) => s.available))}`);
  });

  fidelity('rolls 4 replicas with maxSurge 0 / maxUnavailable 1: never more than 4 pods, never fewer than 3 available', ROLLING, async (c) => {
    const ns = c.namespace();
    const { samples } = await rollAndSample(c, ns, { replicas: 4, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } } });
    assert.ok(samples.every((s) => s.pods <= 4), `at most 4: ${Math.max(...samples.map((s) => s.pods))}`);
    assert.ok(samples.every((s) => s.available >= 3), `at least 3: ${Math.min(...samples.map((s) => s.available))}`);
    assert.ok(samples.some((s) => s.available === 3), 'it used its unavailability budget');
  });

  fidelity('rounds percentages as Kubernetes does: 6 replicas at 25% give a surge of 2 (1.5 up) and 1 unavailable (1.5 down)',
    'kubernetes pkg/controller/deployment/util/deployment_util.go ResolveFenceposts', async (c) => {
      const ns = c.namespace();
      const { samples } = await rollAndSample(c, ns, { replicas: 6 });
      assert.equal(Math.max(...samples.map((s) => s.pods)), 8, 'replicas + ceil(1.5)');
      assert.ok(samples.every((s) => s.available >= 5), `replicas - floor(1.5): ${Math.min(...samples.map((s) => s.available))}`);
      const events = await c.kubectl('get', 'events', '-n', ns, '--field-selector', 'involvedObject.kind=Deployment', '-o', 'jsonpath={range .items[*]}{.message}{"\\n"}{end}');
      assert.match(events, /Scaled up replica set web-\w+ from 0 to 2/, 'the new ReplicaSet starts at the surge');
    });

  fidelity('keeps replicas - maxUnavailable old pods when the new revision never becomes available', ROLLING, async (c) => {
    const ns = c.namespace();
    const spec = { replicas: 4, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } } };
    await apply(c, ns, deploymentManifest('web', spec, { image: `${c.f.image}:1.0` }));
    await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
    await apply(c, ns, deploymentManifest('web', spec, { image: `${c.f.image}:0.0-missing` }));
    await until('the rollout to settle', () => replicaSetsOf(c, ns, 'web').map((rs) => rs.spec.replicas).join() === '3,2');
    await new Promise((r) => setTimeout(r, 500));
    const [old, next] = replicaSetsOf(c, ns, 'web');
    assert.deepEqual([old.spec.replicas, old.status.availableReplicas, next.spec.replicas, next.status.availableReplicas ?? 0], [3, 3, 2, 0]);
    const d = await getJson(c, ns, 'deployment', 'web');
    assert.equal(d.status.availableReplicas, 3);
    assert.equal(d.status.conditions.find((x: { type: string }) => x.type === 'Available').status, 'True', '3 >= 4 - 1');
  });

  fidelity('Recreate scales the old ReplicaSet to 0 and waits for its pods to go before the new one gets any',
    'kubernetes pkg/controller/deployment/recreate.go', async (c) => {
      const ns = c.namespace();
      await apply(c, ns, deploymentManifest('web', { replicas: 3, strategy: { type: 'Recreate' } }, { image: `${c.f.image}:1.0` }));
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      const stop = sampler(() => {
        const sets = replicaSetsOf(c, ns, 'web');
        const pods = c.f.cluster.kube.list('v1', 'Pod', ns);
        const podsOf = (rs?: { metadata: { uid?: string } }) => pods.filter((p) => p.metadata.ownerReferences?.[0]?.uid === rs?.metadata.uid).length;
        return { oldPods: podsOf(sets[0]), newSize: sets.length > 1 ? sets[1].spec.replicas : 0 };
      });
      await apply(c, ns, deploymentManifest('web', { replicas: 3, strategy: { type: 'Recreate' } }, { image: `${c.f.image}:2.0` }));
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      const samples = stop();
      assert.ok(samples.every((s) => s.oldPods === 0 || s.newSize === 0), 'old pods and a sized new ReplicaSet never overlap');
      assert.deepEqual(replicaSetsOf(c, ns, 'web').map((rs) => rs.spec.replicas), [0, 3]);
    });

  fidelity('counts a pod available only after it has been Ready for minReadySeconds',
    'docs concepts/workloads/controllers/deployment#min-ready-seconds; pkg/api/v1/pod IsPodAvailable', async (c) => {
      const ns = c.namespace();
      await apply(c, ns, deploymentManifest('web', { replicas: 1, minReadySeconds: 3 }, { image: `${c.f.image}:1.0` }));
      await until('the pod to be ready', () => (c.f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web')?.status?.readyReplicas ?? 0) === 1);
      const readyAt = Date.now();
      const early = await getJson(c, ns, 'deployment', 'web');
      assert.equal(early.status.availableReplicas ?? 0, 0, 'ready, not yet available');
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      assert.ok(Date.now() - readyAt >= 1900, `available ${Date.now() - readyAt} ms after Ready (whole seconds of lastTransitionTime)`);
    });

  fidelity('reports NewReplicaSetAvailable and MinimumReplicasAvailable once complete',
    'kubernetes pkg/controller/deployment/util/deployment_util.go (reasons); docs deployment#complete-deployment', async (c) => {
      const ns = c.namespace();
      await apply(c, ns, deploymentManifest('web', {}, { image: `${c.f.image}:1.0` }));
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      const d = await getJson(c, ns, 'deployment', 'web');
      const rs = replicaSetsOf(c, ns, 'web')[0];
      const progressing = d.status.conditions.find((x: { type: string }) => x.type === 'Progressing');
      assert.deepEqual([progressing.status, progressing.reason, progressing.message], ['True', 'NewReplicaSetAvailable', `ReplicaSet "${rs.metadata.name}" has successfully progressed.`]);
      const available = d.status.conditions.find((x: { type: string }) => x.type === 'Available');
      assert.deepEqual([available.status, available.reason, available.message], ['True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.']);
      assert.equal(rs.metadata.annotations!['deployment.kubernetes.io/revision'], '1');
      assert.equal(d.metadata.annotations!['deployment.kubernetes.io/revision'], '1');
    });

  fidelity('fails kubectl rollout status with "exceeded its progress deadline" after progressDeadlineSeconds without progress',
    'docs deployment#failed-deployment; kubectl pkg/polymorphichelpers/rollout_status.go', async (c) => {
      const ns = c.namespace();
      await apply(c, ns, deploymentManifest('web', { replicas: 1, progressDeadlineSeconds: 2 }, { image: `${c.f.image}:0.0-missing` }));
      const r = await c.kubectlResult('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /error: deployment "web" exceeded its progress deadline/);
      const d = await getJson(c, ns, 'deployment', 'web');
      const progressing = d.status.conditions.find((x: { type: string }) => x.type === 'Progressing');
      assert.deepEqual([progressing.status, progressing.reason], ['False', 'ProgressDeadlineExceeded']);
      assert.match(progressing.message, /^ReplicaSet "web-\w+" has timed out progressing\.$/);
    });

  fidelity('observes a paused Deployment (observedGeneration moves, Progressing=Unknown DeploymentPaused) and rolls on resume',
    'docs deployment#pausing-and-resuming-a-deployment; deployment_controller.go checkPausedConditions', async (c) => {
      const ns = c.namespace();
      await apply(c, ns, deploymentManifest('web', {}, { image: `${c.f.image}:1.0` }));
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      await c.kubectl('rollout', 'pause', '-n', ns, 'deployment/web');
      await c.kubectl('set', 'image', '-n', ns, 'deployment/web', `web=${c.f.image}:2.0`);
      await until('the paused generation to be observed', async () => {
        const d = await getJson(c, ns, 'deployment', 'web');
        return d.status.observedGeneration === d.metadata.generation;
      });
      const d = await getJson(c, ns, 'deployment', 'web');
      const progressing = d.status.conditions.find((x: { type: string }) => x.type === 'Progressing');
      assert.deepEqual([progressing.status, progressing.reason, progressing.message], ['Unknown', 'DeploymentPaused', 'Deployment is paused']);
      assert.equal(replicaSetsOf(c, ns, 'web').length, 1, 'no new ReplicaSet while paused');
      const once = await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--watch=false');
      assert.match(once, /Waiting for deployment "web" rollout to finish: 0 out of 2 new replicas have been updated/);
      await c.kubectl('rollout', 'resume', '-n', ns, 'deployment/web');
      assert.match(await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s'), /successfully rolled out/);
      assert.equal(replicaSetsOf(c, ns, 'web').length, 2);
    });

  fidelity('rollout undo revives the previous ReplicaSet under a new revision number, and history lists what is kept',
    'docs deployment#rolling-back-a-deployment; sync.go getNewReplicaSet (revision, revision-history)', async (c) => {
      const ns = c.namespace();
      await apply(c, ns, deploymentManifest('web', {}, { image: `${c.f.image}:1.0` }));
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      const first = replicaSetsOf(c, ns, 'web')[0].metadata.name;
      await c.kubectl('set', 'image', '-n', ns, 'deployment/web', `web=${c.f.image}:2.0`);
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      await c.kubectl('rollout', 'undo', '-n', ns, 'deployment/web');
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      const sets = replicaSetsOf(c, ns, 'web');
      assert.equal(sets.length, 2, 'no third ReplicaSet');
      const revived = sets.find((rs) => rs.metadata.name === first)!;
      assert.equal(revived.metadata.annotations!['deployment.kubernetes.io/revision'], '3');
      assert.equal(revived.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1');
      assert.equal(revived.spec.replicas, 2);
      const history = await c.kubectl('rollout', 'history', '-n', ns, 'deployment/web');
      assert.match(history, /REVISION\s+CHANGE-CAUSE\n2\s+<none>\n3\s+<none>/);
      assert.match(await c.kubectl('rollout', 'history', '-n', ns, 'deployment/web', '--revision=3'), new RegExp(`Image:\\s+${c.f.image.replace(/\./g, '\\.')}:1\\.0`));
    });

  fidelity('keeps no more old ReplicaSets than revisionHistoryLimit', 'docs deployment#clean-up-policy; sync.go cleanupDeployment', async (c) => {
    const ns = c.namespace();
    for (const build of [1, 2, 3, 4]) {
      await apply(c, ns, deploymentManifest('web', { revisionHistoryLimit: 1 }, { image: `${c.f.image}:1.0`, env: { BUILD: String(build) } }));
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
    }
    await until('the history to be cleaned up', () => replicaSetsOf(c, ns, 'web').length === 2);
    const revisions = replicaSetsOf(c, ns, 'web').map((rs) => rs.metadata.annotations?.['deployment.kubernetes.io/revision']);
    assert.deepEqual(revisions, ['3', '4']);
  });

  fidelity('waits on a Deployment whose ServiceAccount is missing: ReplicaFailure FailedCreate with the admission message',
    'plugin/pkg/admission/serviceaccount; pkg/controller/replicaset (ReplicaFailure)', async (c) => {
      const ns = c.namespace();
      await apply(c, ns, deploymentManifest('web', { replicas: 1 }, { image: `${c.f.image}:1.0`, serviceAccountName: 'web' }));
      await until('the ReplicaFailure condition', () => (c.f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web')?.status?.conditions ?? []).some((x: { type: string }) => x.type === 'ReplicaFailure'));
      const d = await getJson(c, ns, 'deployment', 'web');
      const failure = d.status.conditions.find((x: { type: string }) => x.type === 'ReplicaFailure');
      assert.equal(failure.reason, 'FailedCreate');
      assert.match(failure.message, new RegExp(`^pods "web-\\w+-" is forbidden: error looking up service account ${ns}/web: serviceaccount "web" not found$`));
      const events = await c.kubectl('get', 'events', '-n', ns, '--field-selector', 'reason=FailedCreate', '-o', 'jsonpath={.items[0].type} {.items[0].message}');
      assert.match(events, /^Warning Error creating: pods "web-\w+-" is forbidden: error looking up service account/);
      await apply(c, ns, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'web' } });
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      const after = await getJson(c, ns, 'deployment', 'web');
      assert.ok(!after.status.conditions.some((x: { type: string }) => x.type === 'ReplicaFailure'), 'the condition goes once pods can be created');
    });

  fidelity('gives every namespace a default ServiceAccount', 'pkg/controller/serviceaccount (serviceaccounts controller)', async (c) => {
    const ns = c.namespace();
    await until('the default ServiceAccount', async () => (await c.kubectlResult('get', 'serviceaccount', 'default', '-n', ns)).code === 0, 5000);
    await apply(c, ns, deploymentManifest('web', { replicas: 1 }, { image: `${c.f.image}:1.0` }));
    await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
    assert.equal(await c.kubectl('get', 'pods', '-n', ns, '-o', 'jsonpath={.items[0].spec.serviceAccountName}'), 'default', 'pods without one run as default');
  });
  fidelity('a change of replicas resizes the one active ReplicaSet, with its size annotations, and is no new revision',
    'sync.go isScalingEvent, scale and SetReplicasAnnotations', async (c) => {
      const ns = c.namespace();
      await apply(c, ns, deploymentManifest('web', { replicas: 1 }, { image: `${c.f.image}:1.0` }));
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      // kubectl scale would say the same through the scale subresource, once the emulator answers it with a Scale.
      await c.kubectl('patch', '-n', ns, 'deployment/web', '--type=merge', '-p', '{"spec":{"replicas":3}}');
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      const [rs] = replicaSetsOf(c, ns, 'web');
      assert.equal(replicaSetsOf(c, ns, 'web').length, 1, 'scaling is no new revision');
      assert.deepEqual([rs.spec.replicas, rs.metadata.annotations!['deployment.kubernetes.io/desired-replicas'], rs.metadata.annotations!['deployment.kubernetes.io/max-replicas']], [3, '3', '4']);
    });

  fidelity('scales mid-rollout ReplicaSets in proportion to their sizes', 'kubernetes pkg/controller/deployment/sync.go scale, GetReplicaSetProportion', async (c) => {
    const ns = c.namespace();
    const spec = { replicas: 4, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } } };
    await apply(c, ns, deploymentManifest('web', spec, { image: `${c.f.image}:1.0` }));
    await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
    await apply(c, ns, deploymentManifest('web', spec, { image: `${c.f.image}:0.0-missing` }));
    await until('the broken rollout to settle at old 3 / new 2', () => replicaSetsOf(c, ns, 'web').map((rs) => rs.spec.replicas).join() === '3,2');
    await c.kubectl('patch', '-n', ns, 'deployment/web', '--type=merge', '-p', '{"spec":{"replicas":8}}');
    // 8 + maxSurge 1 = 9 pods allowed, 5 now: old round(3 * 9 / 5) - 3 = +2, new round(2 * 9 / 5) - 2 = +2.
    await until('the proportional sizes', () => replicaSetsOf(c, ns, 'web').map((rs) => rs.spec.replicas).join() === '5,4');
  });

  fidelity('kubectl rollout restart rolls to a new ReplicaSet and scales the old one to zero', 'kubectl rollout restart; docs deployment', async (c) => {
    const ns = c.namespace();
    await apply(c, ns, deploymentManifest('web', {}, { image: `${c.f.image}:1.0` }));
    await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
    await c.kubectl('rollout', 'restart', '-n', ns, 'deployment/web');
    await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
    const sets = replicaSetsOf(c, ns, 'web');
    assert.deepEqual(sets.map((rs) => [rs.metadata.annotations!['deployment.kubernetes.io/revision'], rs.spec.replicas]), [['1', 0], ['2', 2]]);
    assert.ok(sets[1].spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt'], 'the restart is in the new template');
  });
});
