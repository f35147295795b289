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
});
