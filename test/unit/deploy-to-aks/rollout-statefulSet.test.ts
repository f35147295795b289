import { strict as assert } from 'node:assert';
import type { KObj } from '../../../tasks/deploy-to-aks/kubeClient';
import { statefulSet } from '../../../tasks/deploy-to-aks/rollout/statefulSet';
import { crashing, pod, readyPod } from './rolloutObjects';

const sts = (spec: object, status: object): KObj => ({
  apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'shop', uid: 's-1', generation: 1 },
  spec: { replicas: 3, ...spec }, status: { observedGeneration: 1, ...status },
});

describe('deploy-to-aks rollout: StatefulSets', () => {
  it('follows kubectl\'s StatefulSet rules, partitions included', () => {
    const rolling = (partition: number) => ({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } } });
    assert.equal(statefulSet.evaluate(sts(rolling(2), { readyReplicas: 3, updatedReplicas: 1 })).state, 'ready');
    assert.equal(statefulSet.evaluate(sts(rolling(1), { readyReplicas: 3, updatedReplicas: 1 })).state, 'waiting');
    assert.equal(statefulSet.evaluate(sts(rolling(0), { readyReplicas: 3, updatedReplicas: 3, currentRevision: 'a', updateRevision: 'b' })).state, 'waiting');
    assert.equal(statefulSet.evaluate(sts(rolling(0), { readyReplicas: 3, updatedReplicas: 3, currentRevision: 'b', updateRevision: 'b' })).state, 'ready');
    assert.equal(statefulSet.evaluate(sts({ updateStrategy: { type: 'OnDelete' } }, { readyReplicas: 3, updatedReplicas: 0 })).state, 'ready');
    assert.equal(statefulSet.evaluate(sts({}, { observedGeneration: 0 })).state, 'waiting');
  });

  it('splits pods by updateRevision', () => {
    const s = sts({}, { currentRevision: 'db-1', updateRevision: 'db-2' });
    const pods = [pod('db-0', 's-1', readyPod, { 'controller-revision-hash': 'db-1' }), pod('db-2', 's-1', readyPod, { 'controller-revision-hash': 'db-2' })];
    const split = statefulSet.revisionPods(s, { pods, replicaSets: [] })!;
    assert.deepEqual([split.current.map((p) => p.metadata.name), split.previous.map((p) => p.metadata.name)], [['db-2'], ['db-0']]);
  });

  it('calls an OrderedReady StatefulSet stuck on a broken pod of the old revision, above the partition, and a Parallel one not', () => {
    const pods = [
      pod('db-0', 's-1', crashing, { 'controller-revision-hash': 'db-1', 'apps.kubernetes.io/pod-index': '0' }),
      pod('db-1', 's-1', readyPod, { 'controller-revision-hash': 'db-1', 'apps.kubernetes.io/pod-index': '1' }),
      pod('db-2', 's-1', crashing, { 'controller-revision-hash': 'db-1', 'apps.kubernetes.io/pod-index': '2' }),
    ];
    const status = { currentRevision: 'db-1', updateRevision: 'db-2' };
    const split = statefulSet.revisionPods(sts({}, status), { pods, replicaSets: [] })!;
    assert.deepEqual(statefulSet.stuckPods!(sts({}, status), split).map((p) => p.metadata.name), ['db-0', 'db-2']);
    const partitioned = sts({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }, status);
    assert.deepEqual(statefulSet.stuckPods!(partitioned, split).map((p) => p.metadata.name), ['db-2'], 'pods below the partition stay at the old revision anyway');
    assert.deepEqual(statefulSet.stuckPods!(sts({ podManagementPolicy: 'Parallel' }, status), split), []);
  });
});
