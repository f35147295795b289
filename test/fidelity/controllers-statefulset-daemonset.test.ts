import { strict as assert } from 'node:assert';
import type { KObj } from '../env/kube/types';
import { fidelity, type FidelityContext } from './harness';
import { apply, daemonSetManifest, getJson, sampler, statefulSetManifest, until } from './controllers-workloads';

const STS = 'kubernetes pkg/controller/statefulset/stateful_set_control.go; docs concepts/workloads/controllers/statefulset';
const DS = 'kubernetes pkg/controller/daemon/update.go; docs tasks/manage-daemon/update-daemon-set';

const podsOf = (c: FidelityContext, ns: string, app: string): KObj[] => c.f.cluster.kube.list('v1', 'Pod', ns, (p) => p.metadata.labels?.app === app);
const revisionOf = (p: KObj) => p.metadata.labels?.['controller-revision-hash'];

describe('Kubernetes emulator fidelity: the StatefulSet and DaemonSet controllers', () => {
  fidelity('creates OrderedReady pods one at a time, each after the one before is Ready', STS, async (c) => {
    const ns = c.namespace();
    const stop = sampler(() => podsOf(c, ns, 'db').map((p) => `${p.metadata.name}:${p.status?.conditions?.some((x: { type: string; status: string }) => x.type === 'Ready' && x.status === 'True') ? 'R' : '-'}`).sort().join(' '));
    await apply(c, ns, statefulSetManifest('db', {}, { image: `${c.f.image}:1.0`, readyAfter: 0.3 }));
    await c.kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=30s');
    const seen = stop();
    assert.ok(seen.every((s) => !/db-1:/.test(s) || /db-0:R/.test(s)), 'db-1 only once db-0 is ready');
    assert.ok(seen.every((s) => !/db-2:/.test(s) || /db-1:R/.test(s)), 'db-2 only once db-1 is ready');
  });

  fidelity('creates Parallel pods all at once', STS, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, statefulSetManifest('db', { podManagementPolicy: 'Parallel' }, { image: `${c.f.image}:1.0`, readyAfter: 1 }));
    await until('three pods', () => podsOf(c, ns, 'db').length === 3, 5000);
    assert.ok(podsOf(c, ns, 'db').every((p) => !p.status?.conditions?.some((x: { type: string; status: string }) => x.type === 'Ready' && x.status === 'True')), 'all made before any is ready');
  });

  fidelity('stays stuck on a broken pod of the old revision with OrderedReady: it waits for the pod to become ready before replacing it',
    'kubernetes/kubernetes#67250; docs statefulset#forced-rollback', async (c) => {
      const ns = c.namespace();
      await apply(c, ns, statefulSetManifest('db', { replicas: 2 }, { image: `${c.f.image}:1.0`, exitCode: 1 }));
      await until('db-0 to crash', () => podsOf(c, ns, 'db').some((p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff'));
      await apply(c, ns, statefulSetManifest('db', { replicas: 2 }, { image: `${c.f.image}:2.0` }));
      const r = await c.kubectlResult('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=3s');
      assert.notEqual(r.code, 0, 'kubectl waits in vain');
      const s = await getJson(c, ns, 'statefulset', 'db');
      assert.notEqual(s.status.updateRevision, s.status.currentRevision);
      assert.deepEqual(podsOf(c, ns, 'db').map((p) => [p.metadata.name, revisionOf(p)]), [['db-0', s.status.currentRevision]], 'db-0 still at the old revision, db-1 never made');
      await c.kubectl('delete', 'pod', '-n', ns, 'db-0');
      await c.kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=30s');
      assert.ok(podsOf(c, ns, 'db').every((p) => revisionOf(p) === s.status.updateRevision), 'deleting the pod lets the fix roll out');
    });

  fidelity('rolls a Parallel StatefulSet past a broken old pod', STS, async (c) => {
    const ns = c.namespace();
    const spec = { replicas: 2, podManagementPolicy: 'Parallel' };
    await apply(c, ns, statefulSetManifest('db', spec, { image: `${c.f.image}:1.0`, exitCode: 1 }));
    await until('the pods to crash', () => podsOf(c, ns, 'db').length === 2);
    await apply(c, ns, statefulSetManifest('db', spec, { image: `${c.f.image}:2.0` }));
    await c.kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=30s');
  });

  fidelity('updates from the highest ordinal down to the partition, and reports updateRevision and currentRevision', STS, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, statefulSetManifest('db', {}, { image: `${c.f.image}:1.0` }));
    await c.kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=30s');
    const before = await getJson(c, ns, 'statefulset', 'db');
    await apply(c, ns, statefulSetManifest('db', { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }, { image: `${c.f.image}:2.0` }));
    const out = await c.kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=30s');
    assert.match(out, /partitioned roll out complete: 2 new pods have been updated/);
    const after = await getJson(c, ns, 'statefulset', 'db');
    assert.equal(after.status.currentRevision, before.status.currentRevision, 'not every pod runs the update: current stays');
    assert.notEqual(after.status.updateRevision, before.status.updateRevision);
    const byName = Object.fromEntries(podsOf(c, ns, 'db').map((p) => [p.metadata.name, revisionOf(p)]));
    assert.deepEqual(byName, { 'db-0': before.status.currentRevision, 'db-1': after.status.updateRevision, 'db-2': after.status.updateRevision });
    assert.deepEqual([after.status.updatedReplicas, after.status.currentReplicas], [2, 1]);
  });

  fidelity('keeps a ControllerRevision per template, which kubectl rollout history lists', 'pkg/controller/history; kubectl rollout history', async (c) => {
    const ns = c.namespace();
    await apply(c, ns, statefulSetManifest('db', { replicas: 1 }, { image: `${c.f.image}:1.0` }));
    await c.kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=30s');
    await apply(c, ns, statefulSetManifest('db', { replicas: 1 }, { image: `${c.f.image}:2.0` }));
    await c.kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=30s');
    const revisions = JSON.parse(await c.kubectl('get', 'controllerrevisions', '-n', ns, '-o', 'json')) as { items: KObj[] };
    assert.deepEqual(revisions.items.map((r) => r.revision).sort(), [1, 2]);
    const s = await getJson(c, ns, 'statefulset', 'db');
    assert.ok(revisions.items.some((r) => r.metadata.name === s.status.updateRevision), 'updateRevision names a ControllerRevision');
    assert.match(await c.kubectl('rollout', 'history', '-n', ns, 'statefulset/db'), /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
  });

  fidelity('completes a DaemonSet fixed forward after a broken revision: unavailable old pods are replaced at once', DS, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, daemonSetManifest('agent', {}, { image: `${c.f.image}:0.0-missing` }));
    await until('the pods to fail pulling', () => podsOf(c, ns, 'agent').length === 2 && podsOf(c, ns, 'agent').every((p) => /ErrImagePull|ImagePullBackOff/.test(p.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? '')));
    await apply(c, ns, daemonSetManifest('agent', {}, { image: `${c.f.image}:1.0` }));
    const out = await c.kubectl('rollout', 'status', '-n', ns, 'daemonset/agent', '--timeout=30s');
    assert.match(out, /daemon set "agent" successfully rolled out/);
  });

  fidelity('replaces available DaemonSet pods no more than maxUnavailable at a time', DS, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, daemonSetManifest('agent', {}, { image: `${c.f.image}:1.0` }));
    await c.kubectl('rollout', 'status', '-n', ns, 'daemonset/agent', '--timeout=30s');
    const stop = sampler(() => c.f.cluster.kube.get('apps/v1', 'DaemonSet', ns, 'agent')?.status?.numberAvailable ?? 0);
    await apply(c, ns, daemonSetManifest('agent', {}, { image: `${c.f.image}:2.0`, readyAfter: 0.3 }));
    await c.kubectl('rollout', 'status', '-n', ns, 'daemonset/agent', '--timeout=30s');
    const available = stop();
    assert.ok(available.every((n) => n >= 1), `never below 2 - maxUnavailable 1: ${Math.min(...available)}`);
  });

  fidelity('labels DaemonSet pods with the revision hash and the template generation', 'pkg/controller/daemon/util (IsPodUpdated)', async (c) => {
    const ns = c.namespace();
    await apply(c, ns, daemonSetManifest('agent', {}, { image: `${c.f.image}:1.0` }));
    await c.kubectl('rollout', 'status', '-n', ns, 'daemonset/agent', '--timeout=30s');
    const revisions = JSON.parse(await c.kubectl('get', 'controllerrevisions', '-n', ns, '-o', 'json')) as { items: KObj[] };
    const hash = revisions.items[0].metadata.labels?.['controller.kubernetes.io/hash'];
    const labels = await c.kubectl('get', 'pods', '-n', ns, '-o', 'jsonpath={range .items[*]}{.metadata.labels.controller-revision-hash}/{.metadata.labels.pod-template-generation}{"\\n"}{end}');
    assert.deepEqual([...new Set(labels.trim().split('\n'))], [`${hash}/1`]);
  });
});
