import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { KObj } from '../kubeClient';
import { conditionOf } from './kind';

/** Container waiting reasons that do not fix themselves: the rollout fails at once. */
const FATAL_WAITING = new Set(['ImagePullBackOff', 'ErrImagePull', 'CrashLoopBackOff', 'CreateContainerConfigError', 'InvalidImageName', 'CreateContainerError', 'RunContainerError']);

export interface PodProblem {
  pod: KObj;
  container?: string;
  reason: string;
  /** One clause: `pod web-1, container 'web' is in CrashLoopBackOff: …; last exit code 1 (Error); restarted 3 times`. */
  summary: string;
}

export function isPodReady(pod: KObj): boolean {
  return conditionOf(pod as unknown as V1Pod, 'Ready')?.status === 'True';
}

function containerStatuses(pod: KObj): V1ContainerStatus[] {
  const status = (pod as unknown as V1Pod).status;
  return [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])];
}

/** The first pod that will not become ready by itself, and why. */
export function findPodProblem(pods: KObj[]): PodProblem | undefined {
  for (const pod of pods) {
    const scheduled = conditionOf(pod as unknown as V1Pod, 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      return { pod, reason: 'Unschedulable', summary: `pod ${pod.metadata.name} cannot be scheduled: ${scheduled.message}` };
    }
    for (const cs of containerStatuses(pod)) {
      const waiting = cs.state?.waiting;
      if (!waiting?.reason || !FATAL_WAITING.has(waiting.reason)) continue;
      const last = cs.lastState?.terminated;
      const termination = last ? `; last exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}${last.finishedAt ? ` at ${String(last.finishedAt)}` : ''}` : '';
      const restarts = cs.restartCount ? `; restarted ${cs.restartCount} time${cs.restartCount > 1 ? 's' : ''}` : '';
      return {
        pod, container: cs.name, reason: waiting.reason,
        summary: `pod ${pod.metadata.name}, container '${cs.name}' is in ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}${termination}${restarts}`,
      };
    }
  }
  return undefined;
}

/** Each container of a pod in one clause: `container 'web' (image): waiting: CrashLoopBackOff (…); restarts 2`. */
export function containerStates(pod: KObj): string[] {
  return containerStatuses(pod).map((cs) => {
    const { waiting, terminated, running } = cs.state ?? {};
    const state = waiting ? `waiting: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}`
      : terminated ? `terminated: exit code ${terminated.exitCode} (${terminated.reason})`
        : running ? (cs.ready ? 'running, ready' : 'running, not ready') : 'unknown';
    const lastTerm = cs.lastState?.terminated;
    const last = lastTerm ? `; last termination: exit code ${lastTerm.exitCode} (${lastTerm.reason}) at ${String(lastTerm.finishedAt)}` : '';
    return `container '${cs.name}' (${cs.image}): ${state}${last}; restarts ${cs.restartCount ?? 0}`;
  });
}
