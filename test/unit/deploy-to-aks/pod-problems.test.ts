import { strict as assert } from 'node:assert';
import type { KObj } from '../../../tasks/deploy-to-aks/kubeClient';
import { findPodProblem } from '../../../tasks/deploy-to-aks/rollout';
import { containerStates, isPodReady } from '../../../tasks/deploy-to-aks/rollout/podProblems';

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
  it('takes a pod as ready only by its Ready condition being True', () => {
    assert.equal(isPodReady(pod('web-1', { conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }] })), true);
    assert.equal(isPodReady(pod('web-1', { conditions: [{ type: 'Ready', status: 'False' }] })), false);
    assert.equal(isPodReady(pod('web-1', { conditions: [{ type: 'Ready', status: 'Unknown' }] })), false);
    assert.equal(isPodReady(pod('web-1', { conditions: [{ type: 'ContainersReady', status: 'True' }] })), false, 'another condition');
    assert.equal(isPodReady(pod('web-1', {})), false, 'no conditions yet');
  });

  it('describes each container, init containers first, in one clause for the diagnosis', () => {
    const states = containerStates(pod('web-1', {
      initContainerStatuses: [{ name: 'migrate', image: 'migrate:1', restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } }],
      containerStatuses: [
        { name: 'web', image: 'web:2', restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 20s' } },
          lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: '2026-03-01T10:00:00Z' } } },
        { name: 'proxy', image: 'proxy:1', ready: true, restartCount: 0, state: { running: { startedAt: '2026-03-01T09:00:00Z' } } },
        { name: 'warm', image: 'warm:1', ready: false, state: { running: {} } },
        { name: 'pull', image: 'pull:1', restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } },
        { name: 'new', image: 'new:1' },
      ],
    }));
    assert.deepEqual(states, [
      "container 'migrate' (migrate:1): terminated: exit code 0 (Completed); restarts 0",
      "container 'web' (web:2): waiting: CrashLoopBackOff (back-off 20s); last termination: exit code 1 (Error) at 2026-03-01T10:00:00Z; restarts 2",
      "container 'proxy' (proxy:1): running, ready; restarts 0",
      "container 'warm' (warm:1): running, not ready; restarts 0",
      "container 'pull' (pull:1): waiting: ContainerCreating; restarts 0",
      "container 'new' (new:1): unknown; restarts 0",
    ]);
    assert.deepEqual(containerStates(pod('web-1', {})), [], 'no container has a status yet');
    const unscheduled: KObj = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'shop' }, spec: {} };
    assert.deepEqual([containerStates(unscheduled), findPodProblem([unscheduled])], [[], undefined], 'a pod the API server has not given a status yet');
  });
});
