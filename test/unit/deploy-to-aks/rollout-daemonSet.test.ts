import { strict as assert } from 'node:assert';
import type { KObj } from '../../../tasks/deploy-to-aks/kubeClient';
import { daemonSet } from '../../../tasks/deploy-to-aks/rollout/daemonSet';
import { pod, pulling, readyPod } from './rolloutObjects';

const ds = (status: object, generation = 3): KObj => ({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'shop', uid: 'ds-1', generation }, spec: {}, status: { observedGeneration: generation, ...status } });

describe('deploy-to-aks rollout: DaemonSets', () => {
  it('follows kubectl\'s DaemonSet rules', () => {
    assert.match(daemonSet.evaluate(ds({ desiredNumberScheduled: 2, updatedNumberScheduled: 1 })).message, /1 out of 2 new pods have been updated/);
    assert.match(daemonSet.evaluate(ds({ desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 1 })).message, /1 of 2 updated pods are available/);
    assert.equal(daemonSet.evaluate(ds({ desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2 })).state, 'ready');
    assert.equal(daemonSet.evaluate({ ...ds({}), status: { observedGeneration: 2 } }).state, 'waiting');
  });

  it('counts a pod as new by its template generation, or by the revision hash of such a pod', () => {
    const pods = [
      pod('agent-a', 'ds-1', pulling, { 'pod-template-generation': '2', 'controller-revision-hash': 'h2' }),
      pod('agent-b', 'ds-1', readyPod, { 'pod-template-generation': '3', 'controller-revision-hash': 'h3' }),
      pod('agent-c', 'ds-1', readyPod, { 'pod-template-generation': '2', 'controller-revision-hash': 'h3' }),
    ];
    const split = daemonSet.revisionPods(ds({}), { pods, replicaSets: [] })!;
    assert.deepEqual(split.current.map((p) => p.metadata.name), ['agent-b', 'agent-c']);
    assert.deepEqual(split.previous.map((p) => p.metadata.name), ['agent-a']);
  });
  it('words each verdict, OnDelete included, and waits for pods until the generation is observed', () => {
    const onDelete = (status: object): KObj => ({ ...ds(status), spec: { updateStrategy: { type: 'OnDelete' } } });
    assert.deepEqual(daemonSet.evaluate(ds({ desiredNumberScheduled: 2, updatedNumberScheduled: 1 })), { state: 'waiting', message: '1 out of 2 new pods have been updated' });
    assert.deepEqual(daemonSet.evaluate(ds({ desiredNumberScheduled: 2, updatedNumberScheduled: 2 })), { state: 'waiting', message: '0 of 2 updated pods are available' });
    assert.deepEqual(daemonSet.evaluate(ds({ desiredNumberScheduled: 2, updatedNumberScheduled: 2, numberAvailable: 2 })), { state: 'ready', message: 'successfully rolled out (2 of 2 pods available)' });
    assert.deepEqual(daemonSet.evaluate(ds({})), { state: 'ready', message: 'successfully rolled out (0 of 0 pods available)' }, 'no node to run on');
    assert.deepEqual(daemonSet.evaluate(onDelete({ desiredNumberScheduled: 2, updatedNumberScheduled: 1, numberAvailable: 2 })),
      { state: 'ready', message: 'all 2 pods are available; updateStrategy OnDelete: 1 of 2 run the new template (the others change when deleted)' });
    assert.deepEqual(daemonSet.evaluate(onDelete({ desiredNumberScheduled: 2, numberAvailable: 1 })), { state: 'waiting', message: '1 of 2 updated pods are available' });
    assert.deepEqual(daemonSet.evaluate({ ...ds({}), spec: undefined, status: { observedGeneration: 3, desiredNumberScheduled: 1, updatedNumberScheduled: 0 } }),
      { state: 'waiting', message: '0 out of 1 new pods have been updated' }, 'a spec without updateStrategy rolls');
    assert.deepEqual(daemonSet.evaluate({ ...ds({}), status: undefined }), { state: 'waiting', message: 'waiting for daemonset "agent" spec update to be observed' });
    assert.equal(daemonSet.revisionPods({ ...ds({}), status: { observedGeneration: 2 } }, { pods: [pod('agent-b', 'ds-1', readyPod, { 'pod-template-generation': '3' })], replicaSets: [] }), undefined);
    assert.equal(daemonSet.collection('shop'), '/apis/apps/v1/namespaces/shop/daemonsets');
  });

  it('takes a pod without labels as of the previous revision, and one without a hash only by its own generation', () => {
    const pods = [
      { ...pod('agent-x', 'ds-1', readyPod), metadata: { name: 'agent-x', namespace: 'shop', ownerReferences: [{ uid: 'ds-1', controller: true }] } },
      pod('agent-y', 'ds-1', readyPod, { 'pod-template-generation': '3' }),
      pod('agent-z', 'ds-1', readyPod, { 'pod-template-generation': '2' }),
    ];
    const split = daemonSet.revisionPods(ds({}), { pods, replicaSets: [] })!;
    assert.deepEqual([split.current.map((p) => p.metadata.name), split.previous.map((p) => p.metadata.name)], [['agent-y'], ['agent-x', 'agent-z']]);
  });
});
