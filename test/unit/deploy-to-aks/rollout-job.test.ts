import { strict as assert } from 'node:assert';
import type { KObj } from '../../../tasks/deploy-to-aks/kubeClient';
import { job } from '../../../tasks/deploy-to-aks/rollout/job';
import { pod } from '../../../tasks/deploy-to-aks/rollout/pod';

describe('deploy-to-aks rollout: Jobs and Pods', () => {
  it('judges a Job by its Complete and Failed conditions', () => {
    const j = (conditions: object[], status: object = {}): KObj => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j' }, spec: { completions: 2 }, status: { conditions, ...status } });
    assert.deepEqual(job.evaluate(j([{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }])),
      { state: 'failed', message: 'the Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit' });
    assert.deepEqual(job.evaluate(j([{ type: 'Complete', status: 'True' }], { succeeded: 2 })), { state: 'ready', message: 'completed (2 of 2 succeeded)' });
    assert.equal(job.evaluate(j([], { active: 1 })).message, '0 of 2 completions, 1 active, 0 failed');
  });

  it('judges a bare Pod by its phase and Ready condition', () => {
    const p = (status: object): KObj => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, status });
    assert.equal(pod.evaluate(p({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] })).state, 'ready');
    assert.equal(pod.evaluate(p({ phase: 'Failed', reason: 'Evicted' })).message, 'the pod failed: Evicted');
    assert.equal(pod.evaluate(p({ phase: 'Pending', conditions: [{ type: 'Ready', status: 'False', message: 'containers with unready status: [c]' }] })).message, 'Pending: containers with unready status: [c]');
  });
  it('words every verdict of a Job and a bare Pod, and lists where each is read', () => {
    const j = (spec: object | undefined, status: object): KObj => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j', uid: 'j-1' }, spec, status });
    assert.deepEqual(job.evaluate(j(undefined, {})), { state: 'waiting', message: '0 of 1 completions, 0 active, 0 failed' }, 'one completion unless set');
    assert.deepEqual(job.evaluate(j({}, { succeeded: 1, active: 2, failed: 3 })), { state: 'waiting', message: '1 of 1 completions, 2 active, 3 failed' });
    assert.deepEqual(job.revisionPods(j({}, {}), { pods: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'j-a', ownerReferences: [{ uid: 'j-1' }] } }], replicaSets: [] }),
      { current: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'j-a', ownerReferences: [{ uid: 'j-1' }] } }], previous: [] });
    assert.equal(job.collection('shop'), '/apis/batch/v1/namespaces/shop/jobs');

    const p = (status?: object): KObj => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, status });
    assert.deepEqual(pod.evaluate(p({ phase: 'Succeeded' })), { state: 'ready', message: 'completed' });
    assert.deepEqual(pod.evaluate(p({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' })), { state: 'failed', message: 'the pod failed: Evicted (The node was low on resource: memory.)' });
    assert.deepEqual(pod.evaluate(p({ phase: 'Failed' })), { state: 'failed', message: 'the pod failed' });
    assert.deepEqual(pod.evaluate(p({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] })), { state: 'ready', message: 'running and ready' });
    assert.deepEqual(pod.evaluate(p({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] })), { state: 'waiting', message: 'Running' });
    assert.deepEqual(pod.evaluate(p({ phase: 'Running', conditions: [{ type: 'ContainersReady', status: 'True', message: 'x' }] })), { state: 'waiting', message: 'Running' });
    assert.deepEqual(pod.evaluate(p()), { state: 'waiting', message: 'Pending' }, 'no status yet');
    const bare = p({ phase: 'Running' });
    assert.deepEqual(pod.revisionPods(bare, { pods: [], replicaSets: [] }), { current: [bare], previous: [] });
    assert.equal(pod.collection('shop'), '/api/v1/namespaces/shop/pods');
  });
});
