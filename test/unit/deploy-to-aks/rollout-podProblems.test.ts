import { strict as assert } from 'node:assert';
import type { KObj } from '../../../tasks/deploy-to-aks/kubeClient';
import { findPodProblem } from '../../../tasks/deploy-to-aks/rollout/podProblems';

describe('deploy-to-aks rollout: pod problems', () => {
  it('finds the pod problems that never fix themselves', () => {
    const pod = (status: object): KObj => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, status });
    assert.equal(findPodProblem([pod({ containerStatuses: [{ name: 'c', state: { waiting: { reason: 'ContainerCreating' } } }] })]), undefined);
    const crash = findPodProblem([pod({ containerStatuses: [{ name: 'c', restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] })]);
    assert.match(crash!.summary, /container 'c' is in CrashLoopBackOff: back-off; last exit code 137 \(OOMKilled\); restarted 2 times/);
    const unschedulable = findPodProblem([pod({ conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] })]);
    assert.equal(unschedulable?.reason, 'Unschedulable');
    const init = findPodProblem([pod({ initContainerStatuses: [{ name: 'migrate', state: { waiting: { reason: 'ErrImagePull' } } }] })]);
    assert.equal(init?.container, 'migrate');
  });
});
