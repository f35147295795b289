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
});
