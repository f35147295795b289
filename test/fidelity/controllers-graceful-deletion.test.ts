import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KObj } from '../env/kube/types';
import { fidelity, type FidelityContext } from './harness';
import { apply, daemonSetManifest, deploymentManifest, getJson, replicaSetsOf, sampler, statefulSetManifest, until } from './controllers-workloads';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const TERMINATION = 'docs concepts/workloads/pods/pod-lifecycle#pod-termination';
const IS_POD_ACTIVE = 'kubernetes pkg/controller/controller_utils.go IsPodActive; replicaset/replica_set.go manageReplicas';
const STS = 'kubernetes pkg/controller/statefulset/stateful_set_control.go processReplica, processCondemned';

/** Pods that keep running 3 seconds after SIGTERM, well within their grace period. */
const SLOW_STOP = { shutdownSeconds: 3, terminationGracePeriodSeconds: 20 };

/** `kubectl get pods` as name → STATUS column. */
async function podStatuses(c: FidelityContext, ns: string): Promise<Map<string, string>> {
  const out = await c.kubectl('get', 'pods', '-n', ns, '--no-headers');
  return new Map(out.split('\n').filter(Boolean).map((line) => {
    const [name, , status] = line.split(/\s+/);
    return [name, status];
  }));
}

const podsOf = (c: FidelityContext, ns: string, app: string): KObj[] => c.f.cluster.kube.list('v1', 'Pod', ns, (p) => p.metadata.labels?.app === app);
const isAlive = (pid: number) => fs.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('Kubernetes emulator fidelity: controllers delete pods gracefully', () => {
  fidelity('rolls a Deployment on while its old pods are Terminating: rollout status completes, the old ReplicaSet counts no replica, their endpoints are terminating',
    `${IS_POD_ACTIVE}; ${TERMINATION}`, async (c) => {
      const ns = c.namespace();
      const spec = { replicas: 2, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } };
      const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } };
      await apply(c, ns, deploymentManifest('web', spec, { image: `${c.f.image}:1.0`, ...SLOW_STOP }), service);
      await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      const oldPods = (await getJson(c, ns, 'pods')).items as Any[];
      await apply(c, ns, deploymentManifest('web', spec, { image: `${c.f.image}:2.0`, ...SLOW_STOP }));
      const status = await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
      assert.match(status, /successfully rolled out/);
      const shown = await podStatuses(c, ns);
      const terminating = oldPods.filter((p) => shown.get(p.metadata.name) === 'Terminating');
      assert.ok(terminating.length > 0, `the rollout did not wait for the old pods to end: ${JSON.stringify([...shown])}`);
      const [oldRs] = replicaSetsOf(c, ns, 'web');
      assert.equal((await getJson(c, ns, 'replicaset', oldRs.metadata.name)).status.replicas, 0, 'a Terminating pod is not one of its replicas');
      // The EndpointSlice controller follows on its own; a Terminating pod still serves but is not ready.
      const conditions = await until('the endpoint to be terminating', async () => {
        const slice = (await getJson(c, ns, 'endpointslices')).items[0];
        const endpoint = (slice?.endpoints ?? []).find((e: Any) => e.addresses.includes(terminating[0].status.podIP));
        return endpoint?.conditions?.terminating ? endpoint.conditions : undefined;
      }, 5000);
      assert.deepEqual(conditions, { ready: false, serving: true, terminating: true });
      await until('the old pods to be gone', async () => {
        const now = await podStatuses(c, ns);
        return oldPods.every((p) => !now.has(p.metadata.name));
      });
    });

  fidelity('ends a scaled-down ReplicaSet\'s pod with SIGTERM and removes the pod only once its process has ended', TERMINATION, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, deploymentManifest('web', { replicas: 2 }, { image: `${c.f.image}:1.0`, ...SLOW_STOP }));
    await c.kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s');
    const pids = new Map(podsOf(c, ns, 'web').map((p) => [p.metadata.name, c.f.cluster.kubelet.containers.pid(p, 'web')!]));
    await c.kubectl('scale', '-n', ns, 'deployment/web', '--replicas=1');
    const doomed = await until('a pod marked for deletion', async () => ((await getJson(c, ns, 'pods')).items as Any[]).find((p) => p.metadata.deletionTimestamp));
    assert.equal(doomed.metadata.deletionGracePeriodSeconds, 20, 'the pod\'s terminationGracePeriodSeconds');
    const pid = pids.get(doomed.metadata.name)!;
    await until('the SIGTERM in the log', async () => /received SIGTERM/.test(await c.kubectl('logs', '-n', ns, doomed.metadata.name)));
    let goneWhileRunning = false;
    let seenAfterTerm = false;
    await until('the pod to be gone', () => {
      const present = !!c.f.cluster.kube.get('v1', 'Pod', ns, doomed.metadata.name);
      const alive = isAlive(pid);
      if (!present && alive) goneWhileRunning = true;
      if (present) seenAfterTerm = true;
      return !present;
    }, 15_000);
    assert.ok(seenAfterTerm, 'the pod stayed while its process shut down');
    assert.ok(!goneWhileRunning, 'the pod went only after its process had ended');
    assert.ok(!isAlive(pid));
    const d = await getJson(c, ns, 'deployment', 'web');
    assert.equal(d.status.readyReplicas, 1);
  });

  fidelity('scales an OrderedReady StatefulSet down one pod at a time, each deleted once the one above is gone', STS, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, statefulSetManifest('db', { replicas: 3 }, { image: `${c.f.image}:1.0`, ...SLOW_STOP }));
    await c.kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=30s');
    const stop = sampler(() => podsOf(c, ns, 'db').map((p) => `${p.metadata.name}${p.metadata.deletionTimestamp ? ':T' : ''}`).sort().join(' '));
    await c.kubectl('scale', '-n', ns, 'statefulset/db', '--replicas=1');
    assert.equal((await podStatuses(c, ns)).get('db-2'), 'Terminating');
    await until('only db-0', () => podsOf(c, ns, 'db').map((p) => p.metadata.name).join() === 'db-0', 20_000);
    const seen = stop();
    assert.ok(seen.some((s) => s === 'db-0 db-1 db-2:T'), 'db-2 terminated while db-1 waited');
    assert.ok(seen.every((s) => !/db-1:T/.test(s) || !/db-2/.test(s)), `db-1 deleted only once db-2 was gone: ${[...new Set(seen)].join(' | ')}`);
    assert.ok(seen.some((s) => s === 'db-0 db-1:T'));
    assert.equal((await getJson(c, ns, 'statefulset', 'db')).status.replicas, 1);
  });

  fidelity('rolls a StatefulSet pod to the new revision only once the old pod of that name is gone', STS, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, statefulSetManifest('db', { replicas: 2 }, { image: `${c.f.image}:1.0`, ...SLOW_STOP }));
    await c.kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=30s');
    const old = new Map(podsOf(c, ns, 'db').map((p) => [p.metadata.name, p.metadata.uid]));
    const stop = sampler(() => Object.assign(new Map(podsOf(c, ns, 'db').map((p) => [p.metadata.name, { uid: p.metadata.uid, terminating: !!p.metadata.deletionTimestamp, status: p.status }])), { at: Date.now() }));
    await apply(c, ns, statefulSetManifest('db', { replicas: 2 }, { image: `${c.f.image}:2.0`, ...SLOW_STOP }));
    await c.kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=40s');
    const seen = stop();
    for (const name of ['db-0', 'db-1']) {
      const deleted = seen.find((s) => s.get(name)?.uid === old.get(name) && s.get(name)!.terminating);
      const lastOld = seen.findLast((s) => s.get(name)?.uid === old.get(name));
      const firstNew = seen.find((s) => s.has(name) && s.get(name)!.uid !== old.get(name));
      assert.ok(deleted && lastOld?.get(name)!.terminating, `${name} was Terminating until it went`);
      // The old pod takes 3 seconds to stop after SIGTERM; the new one of its name is made only after that.
      assert.ok(firstNew && firstNew.at - deleted.at >= 2500, `${name} was made again ${firstNew && firstNew.at - deleted.at} ms after the old one was deleted`);
    }
    // Every sample, not the first of each: the new db-1 turning ready and db-0's deletion can both fall between two
    // samples on a busy machine, and then neither comes first.
    const runsAnew = (s: (typeof seen)[number]) => {
      const db1 = s.get('db-1');
      return !!db1 && db1.uid !== old.get('db-1') && db1.status?.phase === 'Running' && db1.status.conditions?.some((k: Any) => k.type === 'Ready' && k.status === 'True');
    };
    const db0Terminating = seen.filter((s) => s.get('db-0')?.uid === old.get('db-0') && s.get('db-0')!.terminating);
    assert.ok(db0Terminating.length > 0, 'db-0 was seen Terminating');
    assert.ok(db0Terminating.every(runsAnew), 'db-0 deleted only once the new db-1 runs and is ready');
  }, 90_000);

  fidelity('gives a DaemonSet node its new pod only once the old one has terminated', 'kubernetes pkg/controller/daemon/daemon_controller.go podsShouldBeOnNode; update.go findUpdatedPodsOnNode', async (c) => {
    const ns = c.namespace();
    await apply(c, ns, daemonSetManifest('agent', {}, { image: `${c.f.image}:1.0`, ...SLOW_STOP }));
    await c.kubectl('rollout', 'status', '-n', ns, 'daemonset/agent', '--timeout=30s');
    const stop = sampler(() => {
      const byNode = new Map<string, string[]>();
      for (const p of podsOf(c, ns, 'agent')) byNode.set(p.spec.nodeName, [...(byNode.get(p.spec.nodeName) ?? []), p.metadata.deletionTimestamp ? 'T' : 'live']);
      return [...byNode.values()];
    });
    await apply(c, ns, daemonSetManifest('agent', {}, { image: `${c.f.image}:2.0`, ...SLOW_STOP }));
    await c.kubectl('rollout', 'status', '-n', ns, 'daemonset/agent', '--timeout=40s');
    const seen = stop();
    assert.ok(seen.some((nodes) => nodes.some((pods) => pods.includes('T'))), 'an old pod was seen Terminating');
    assert.ok(seen.every((nodes) => nodes.every((pods) => !pods.includes('T') || pods.length === 1)), 'no new pod beside a Terminating one');
    assert.ok(seen.every((nodes) => nodes.filter((pods) => pods.includes('T')).length <= 1), 'maxUnavailable 1: one node at a time');
  }, 90_000);

  fidelity('fails a Job past its backoff limit only once its deleted active pods have terminated: FailureTarget first, then Failed',
    'kubernetes pkg/controller/job/job_controller.go (delayTerminalCondition, deleteActivePods); docs concepts/workloads/controllers/job#termination-of-job-pods', async (c) => {
      const ns = c.namespace();
      const marker = path.join(c.f.dir, `first-${ns}`);
      // The first pod to start fails; the other runs until SIGTERM, then takes 3 seconds to stop.
      const script = `trap 'sleep 3; exit 0' TERM; if mkdir ${marker} 2>/dev/null; then exit 1; fi; sleep 60 & wait`;
      const job = {
        apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'migrate' },
        spec: {
          parallelism: 2, completions: 2, backoffLimit: 0,
          template: { spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 20, containers: [{ name: 'migrate', image: `${c.f.image}:1.0`, command: ['sh', '-c', script] }] } },
        },
      };
      const stop = sampler(() => {
        const j = c.f.cluster.kube.get('batch/v1', 'Job', ns, 'migrate');
        const types = ((j?.status?.conditions ?? []) as Any[]).filter((x) => x.status === 'True').map((x) => x.type);
        const terminating = c.f.cluster.kube.list('v1', 'Pod', ns).filter((p) => p.metadata.deletionTimestamp).length;
        return { types, terminating, reported: j?.status?.terminating };
      });
      await apply(c, ns, job);
      await c.kubectl('wait', '-n', ns, '--for=condition=Failed', 'job/migrate', '--timeout=30s');
      const seen = stop();
      assert.ok(seen.some((s) => s.types.includes('FailureTarget') && !s.types.includes('Failed') && s.terminating === 1 && s.reported === 1), 'FailureTarget while the running pod terminates');
      const failed = seen.find((s) => s.types.includes('Failed'))!;
      assert.equal(failed.terminating, 0, 'Failed once no pod terminates');
      const j = await getJson(c, ns, 'job', 'migrate');
      assert.deepEqual([j.status.active, j.status.failed, j.status.terminating], [0, 1, 0]);
      assert.equal((await podStatuses(c, ns)).size, 1, 'the failed pod is kept, the deleted one is gone');
    });

  fidelity('fails a Job past activeDeadlineSeconds with DeadlineExceeded, its running pod deleted with its grace period',
    'kubernetes pkg/controller/job/job_controller.go pastActiveDeadline; docs concepts/workloads/controllers/job#job-termination-and-cleanup', async (c) => {
      const ns = c.namespace();
      const job = {
        apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'report' },
        spec: {
          activeDeadlineSeconds: 2,
          template: { spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 20, containers: [{ name: 'report', image: `${c.f.image}:1.0`, command: ['sh', '-c', "trap 'sleep 2; exit 0' TERM; sleep 60 & wait"] }] } },
        },
      };
      await apply(c, ns, job);
      const pod = await until('the pod to be deleted', async () => ((await getJson(c, ns, 'pods')).items as Any[]).find((p) => p.metadata.deletionTimestamp), 10_000);
      const during = await getJson(c, ns, 'job', 'report');
      const trueTypes = (j: Any) => (j.status.conditions as Any[]).filter((x) => x.status === 'True').map((x) => `${x.type}:${x.reason}`);
      assert.deepEqual(trueTypes(during), ['FailureTarget:DeadlineExceeded'], 'not Failed while its pod terminates');
      assert.equal((await podStatuses(c, ns)).get(pod.metadata.name), 'Terminating');
      await c.kubectl('wait', '-n', ns, '--for=condition=Failed', 'job/report', '--timeout=20s');
      const after = await getJson(c, ns, 'job', 'report');
      assert.deepEqual(trueTypes(after), ['FailureTarget:DeadlineExceeded', 'Failed:DeadlineExceeded']);
      assert.equal(after.status.conditions.find((x: Any) => x.type === 'Failed').message, 'Job was active longer than specified deadline');
      assert.equal((await podStatuses(c, ns)).size, 0, 'the deleted pod is gone');
      const events = await c.kubectl('get', 'events', '-n', ns, '--field-selector', 'involvedObject.kind=Job', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}');
      assert.match(events, /DeadlineExceeded/);
    });
});
