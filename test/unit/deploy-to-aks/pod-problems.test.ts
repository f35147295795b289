import { strict as assert } from 'node:assert';
import type { KObj } from '../../../tasks/deploy-to-aks/kubeClient';
import { findPodProblem } from '../../../tasks/deploy-to-aks/rollout';

const pod = (name: string, status: Record<string, unknown>): KObj => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop' }, spec: {}, status });
const waitingIn = (reason: string, extra: Record<string, unknown> = {}) => pod('web-1', { containerStatuses: [{ name: 'web', restartCount: 0, state: { waiting: { reason } }, ...extra }] });

describe('deploy-to-aks: the pod states that fail a rollout at once', () => {
  // The waiting reasons after which the kubelet only backs off and tries again: kubernetes/pkg/kubelet/images/types.go
  // (ErrImagePull, ImagePullBackOff, InvalidImageName), kuberuntime (CreateContainerConfigError,
  // CreateContainerError, RunContainerError) and the CrashLoopBackOff of a restarting container.
  const fatal = ['ImagePullBackOff', 'ErrImagePull', 'CrashLoopBackOff', 'CreateContainerConfigError', 'InvalidImageName', 'CreateContainerError', 'RunContainerError'];
  for (const reason of fatal) {
    it(`fails on ${reason}, naming the pod, the container and the reason`, () => {
      const problem = findPodProblem([waitingIn(reason)]);
      assert.equal(problem?.reason, reason);
      assert.equal(problem?.container, 'web');
      assert.equal(problem?.summary, `pod web-1, container 'web' is in ${reason}`);
    });
  }

  it('waits through the states a pod passes on its way to running', () => {
    for (const reason of ['ContainerCreating', 'PodInitializing', 'Pulling', '']) assert.equal(findPodProblem([waitingIn(reason)]), undefined, reason);
    assert.equal(findPodProblem([pod('web-1', { containerStatuses: [{ name: 'web', state: { running: { startedAt: 'now' } } }] })]), undefined);
    assert.equal(findPodProblem([pod('web-1', {})]), undefined, 'no status yet');
    assert.equal(findPodProblem([pod('web-1', { containerStatuses: [{ name: 'web' }] })]), undefined, 'a container status without a state yet');
    assert.equal(findPodProblem([pod('web-1', { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulerError', message: 'x' }] })]), undefined);
    assert.equal(findPodProblem([pod('web-1', { conditions: [{ type: 'Ready', status: 'False', reason: 'Unschedulable', message: 'x' }] })]), undefined, 'another condition');
    assert.equal(findPodProblem([pod('web-1', { conditions: [{ type: 'PodScheduled', status: 'True', reason: 'Unschedulable' }] })]), undefined);
  });

  it('fails on an unschedulable pod with the scheduler\'s words', () => {
    const problem = findPodProblem([pod('web-2', { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/2 nodes are available: 2 Insufficient cpu.' }] })]);
    assert.deepEqual({ reason: problem?.reason, summary: problem?.summary }, { reason: 'Unschedulable', summary: 'pod web-2 cannot be scheduled: 0/2 nodes are available: 2 Insufficient cpu.' });
  });

  it('adds the kubelet\'s message, the last termination and the restarts', () => {
    const crash = waitingIn('CrashLoopBackOff', {
      restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 10s restarting failed container' } },
      lastState: { terminated: { exitCode: 3, reason: 'Error', finishedAt: '2026-03-01T10:00:00Z' } },
    });
    assert.equal(findPodProblem([crash])?.summary, "pod web-1, container 'web' is in CrashLoopBackOff: back-off 10s restarting failed container; last exit code 3 (Error) at 2026-03-01T10:00:00Z; restarted 1 time");
    const again = waitingIn('CrashLoopBackOff', { restartCount: 4, lastState: { terminated: { exitCode: 137 } } });
    assert.equal(findPodProblem([again])?.summary, "pod web-1, container 'web' is in CrashLoopBackOff; last exit code 137; restarted 4 times");
  });

  it('reads init containers first and the first failing pod of several', () => {
    const init = pod('web-3', { initContainerStatuses: [{ name: 'migrate', state: { waiting: { reason: 'ErrImagePull' } } }], containerStatuses: [{ name: 'web', state: { waiting: { reason: 'PodInitializing' } } }] });
    assert.equal(findPodProblem([pod('web-0', { containerStatuses: [{ name: 'web', state: {} }] }), init])?.container, 'migrate');
  });
});
