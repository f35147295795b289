import type { KubeCluster } from '../cluster';
import { clone, type KObj } from '../types';
import { createPod, ownedBy, type Any } from './objects';
import { isReady, now, sameStatus } from '../status';

/** The Job controller: pods until completions succeed, or the Job fails past its backoff limit. */
export function reconcileJob(cluster: KubeCluster, j: KObj): void {
  const spec = j.spec as Any;
  const status = clone(j.status ?? {}) as Any;
  if ((status.conditions ?? []).some((x: Any) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True')) return;
  const pods = ownedBy(cluster, j, 'v1', 'Pod');
  const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length;
  const failed = pods.filter((p) => p.status?.phase === 'Failed').length + pods.reduce((n, p) => n + restarts(p), 0);
  const active = pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  const t = now();
  const next: Any = { startTime: status.startTime ?? t, active: active.length, succeeded, failed, ready: active.filter(isReady).length };
  if (succeeded >= spec.completions) {
    next.completionTime = t;
    next.conditions = [
      { type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods', lastProbeTime: t, lastTransitionTime: t },
      { type: 'Complete', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods', lastProbeTime: t, lastTransitionTime: t },
    ];
    cluster.event(j, 'Normal', 'Completed', 'Job completed', 'job-controller');
    for (const p of active) cluster.remove(p);
  } else if (failed > spec.backoffLimit) {
    next.conditions = [
      { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastProbeTime: t, lastTransitionTime: t },
      { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastProbeTime: t, lastTransitionTime: t },
    ];
    cluster.event(j, 'Warning', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', 'job-controller');
    for (const p of active) cluster.remove(p);
  } else {
    const want = Math.min(spec.parallelism, spec.completions - succeeded) - active.length;
    for (let i = 0; i < want; i++) {
      const labels = { 'batch.kubernetes.io/job-name': j.metadata.name, 'job-name': j.metadata.name, 'batch.kubernetes.io/controller-uid': j.metadata.uid!, 'controller-uid': j.metadata.uid! };
      createPod(cluster, j, { generateName: `${j.metadata.name}-` }, spec.template, labels);
    }
    next.conditions = status.conditions;
  }
  if (!sameStatus(j.status, next)) cluster.put({ ...j, status: next });
}

function restarts(p: KObj): number {
  return (p.status?.containerStatuses ?? []).reduce((n: number, cs: Any) => n + (cs.restartCount ?? 0), 0);
}
