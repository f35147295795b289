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

  it('reports the newest FailedCreate event about this StatefulSet that came during the wait, and none about another', () => {
    const event = (uid: string, at: string, message: string): KObj => ({
      apiVersion: 'v1', kind: 'Event', metadata: { name: `db.${at}`, namespace: 'shop' }, involvedObject: { kind: 'StatefulSet', name: 'db', uid }, reason: 'FailedCreate', lastTimestamp: at, message,
    });
    const s = sts({}, { updateRevision: 'db-2' });
    const view = (failedCreates: KObj[]) => ({ pods: [], replicaSets: [], failedCreates });
    assert.equal(statefulSet.replicaFailure!(s, view([])), undefined);
    assert.equal(statefulSet.replicaFailure!(s, view([event('other', '2026-01-01T10:00:02Z', 'not ours')])), undefined);
    assert.equal(statefulSet.replicaFailure!(s, view([
      event('s-1', '2026-01-01T10:00:03Z', 'create Pod db-0 in StatefulSet db failed error: exceeded quota'),
      event('s-1', '2026-01-01T10:00:01Z', 'create Pod db-0 in StatefulSet db failed error: serviceaccount "db" not found'),
      event('other', '2026-01-01T10:00:05Z', 'not ours'),
    ])), 'FailedCreate: create Pod db-0 in StatefulSet db failed error: exceeded quota');
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
  it('words each verdict of a StatefulSet', () => {
    const rolling = (partition: number) => ({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } } });
    assert.deepEqual(statefulSet.evaluate(sts({}, { readyReplicas: 1 })), { state: 'waiting', message: 'waiting for 2 pods to be ready' });
    assert.deepEqual(statefulSet.evaluate({ ...sts({}, {}), spec: undefined }), { state: 'waiting', message: 'waiting for 1 pods to be ready' }, 'one replica unless set');
    assert.deepEqual(statefulSet.evaluate({ ...sts({}, {}), status: undefined }), { state: 'waiting', message: 'waiting for statefulset "db" spec update to be observed' });
    assert.deepEqual(statefulSet.evaluate(sts({ updateStrategy: { type: 'OnDelete' } }, { readyReplicas: 3, updatedReplicas: 1 })),
      { state: 'ready', message: 'all 3 pods are ready; updateStrategy OnDelete: 1 of 3 run the new revision (the others change when deleted)' });
    assert.deepEqual(statefulSet.evaluate(sts({ updateStrategy: { type: 'OnDelete' } }, { readyReplicas: 3 })),
      { state: 'ready', message: 'all 3 pods are ready; updateStrategy OnDelete: 0 of 3 run the new revision (the others change when deleted)' });
    assert.deepEqual(statefulSet.evaluate(sts(rolling(1), { readyReplicas: 3, updatedReplicas: 1 })),
      { state: 'waiting', message: 'waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated' });
    assert.deepEqual(statefulSet.evaluate(sts(rolling(1), { readyReplicas: 3 })),
      { state: 'waiting', message: 'waiting for partitioned roll out to finish: 0 out of 2 new pods have been updated' });
    assert.deepEqual(statefulSet.evaluate(sts(rolling(1), { readyReplicas: 3, updatedReplicas: 2 })),
      { state: 'ready', message: 'partitioned roll out complete: 2 new pods have been updated (partition 1)' });
    assert.deepEqual(statefulSet.evaluate(sts(rolling(3), { readyReplicas: 3 })),
      { state: 'ready', message: 'partitioned roll out complete: 0 new pods have been updated (partition 3)' });
    assert.deepEqual(statefulSet.evaluate(sts({ updateStrategy: { type: 'RollingUpdate' } }, { readyReplicas: 3, currentRevision: 'db-1', updateRevision: 'db-2' })),
      { state: 'waiting', message: 'waiting for statefulset rolling update to complete 0 pods at revision db-2' });
    assert.deepEqual(statefulSet.evaluate(sts({}, { readyReplicas: 3, updatedReplicas: 2, currentRevision: 'db-1', updateRevision: 'db-2' })),
      { state: 'waiting', message: 'waiting for statefulset rolling update to complete 2 pods at revision db-2' });
    assert.deepEqual(statefulSet.evaluate(sts({}, { readyReplicas: 3, currentRevision: 'db-2', updateRevision: 'db-2' })),
      { state: 'ready', message: 'rolling update complete 3 pods at revision db-2' });
    assert.equal(statefulSet.collection('shop'), '/apis/apps/v1/namespaces/shop/statefulsets');
    assert.deepEqual(statefulSet.evaluate({ ...sts({}, { readyReplicas: 1, currentRevision: 'db-2', updateRevision: 'db-2' }), spec: undefined }),
      { state: 'ready', message: 'rolling update complete 1 pods at revision db-2' }, 'a spec without updateStrategy rolls with no partition');
  });

  it('splits pods only once the revision is known and observed; a pod without labels is of the previous one', () => {
    const pods = [pod('db-0', 's-1', readyPod), pod('db-1', 's-1', readyPod, { 'controller-revision-hash': 'db-2' })];
    assert.equal(statefulSet.revisionPods(sts({}, { currentRevision: 'db-1' }), { pods, replicaSets: [] }), undefined, 'no updateRevision yet');
    assert.equal(statefulSet.revisionPods({ ...sts({}, {}), status: undefined }, { pods, replicaSets: [] }), undefined);
    assert.equal(statefulSet.revisionPods({ ...sts({}, { updateRevision: 'db-2' }), metadata: { name: 'db', uid: 's-1', generation: 2 } }, { pods, replicaSets: [] }), undefined, 'generation not observed');
    const unlabelled = { ...pods[0], metadata: { name: 'db-0', namespace: 'shop', ownerReferences: [{ uid: 's-1', controller: true }] } };
    const split = statefulSet.revisionPods(sts({}, { updateRevision: 'db-2' }), { pods: [unlabelled, pods[1]], replicaSets: [] })!;
    assert.deepEqual([split.current.map((p) => p.metadata.name), split.previous.map((p) => p.metadata.name)], [['db-1'], ['db-0']]);
  });

  it('calls stuck only the broken old pods that are not ready, at or above the partition, by index label or name', () => {
    const status = { currentRevision: 'db-1', updateRevision: 'db-2' };
    const readyButWaiting = { ...crashing, conditions: [{ type: 'Ready', status: 'True' }] };
    const pods = [
      pod('db-0', 's-1', crashing, { 'controller-revision-hash': 'db-1' }),
      pod('db-1', 's-1', readyButWaiting, { 'controller-revision-hash': 'db-1' }),
      pod('db-2', 's-1', crashing, { 'controller-revision-hash': 'db-1', 'apps.kubernetes.io/pod-index': '0' }),
      pod('db-3', 's-1', { phase: 'Pending' }, { 'controller-revision-hash': 'db-1' }),
      { ...pod('db-4', 's-1', crashing), metadata: { name: 'db-4', namespace: 'shop', ownerReferences: [{ uid: 's-1', controller: true }] } },
    ];
    const split = statefulSet.revisionPods(sts({}, status), { pods, replicaSets: [] })!;
    assert.deepEqual(statefulSet.stuckPods!({ ...sts({}, status), spec: undefined }, split).map((p) => p.metadata.name), ['db-0', 'db-2', 'db-4'], 'OrderedReady unless set');
    const partitioned = sts({ updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } } }, status);
    assert.deepEqual(statefulSet.stuckPods!(partitioned, split).map((p) => p.metadata.name), ['db-4'], 'db-0 is below the partition, db-2 by its index label too; db-4 by its name');
    assert.deepEqual(statefulSet.stuckPods!(sts({ updateStrategy: { type: 'RollingUpdate' } }, status), split).map((p) => p.metadata.name), ['db-0', 'db-2', 'db-4']);
    assert.deepEqual(statefulSet.stuckPods!(sts({ updateStrategy: { type: 'OnDelete' } }, status), split), [], 'OnDelete replaces no pod by itself');
  });
});
