import type { KubeCluster } from '../cluster';
import { clone, type KObj } from '../types';
import { createPod, deletePod, isActivePod, isFinished, isTerminating, ownedBy, type Any } from './objects';
import { isReady, now, sameStatus } from '../status';

/**
 * The Job controller (pkg/controller/job/job_controller.go): pods until completions succeed, or the Job fails past
 * its backoff limit (BackoffLimitExceeded) or once active for activeDeadlineSeconds (DeadlineExceeded). Kubernetes
 * 1.32 finishes in two steps (delayTerminalCondition, on with JobPodReplacementPolicy): first SuccessCriteriaMet or
 * FailureTarget, with the pods still active deleted through the API (deleteActivePods, so they get their grace
 * period), then Complete or Failed, with its event, once no pod is terminating. Terminating pods are not active
 * (IsPodActive) and are counted in status.terminating; with the default podReplacementPolicy (TerminatingOrFailed)
 * a replacement does not wait for them.
 */
export function reconcileJob(cluster: KubeCluster, j: KObj): void {
  const spec = j.spec as Any;
  const status = clone(j.status ?? {}) as Any;
  const conditions: Any[] = status.conditions ?? [];
  const has = (type: string) => conditions.some((x) => x.type === type && x.status === 'True');
  if (has('Complete') || has('Failed')) return;
  const pods = ownedBy(cluster, j, 'v1', 'Pod');
  const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length;
  // The count never goes down: the restarts of a pod deleted when the Job finishes stay counted (Kubernetes keeps
  // the counts in status, tracked through the pods' finalizers).
  const failed = Math.max(status.failed ?? 0, pods.filter((p) => p.status?.phase === 'Failed').length + pods.reduce((n, p) => n + restarts(p), 0));
  const t = now();
  const condition = (type: string, reason: string, message: string) => ({ type, status: 'True', reason, message, lastProbeTime: t, lastTransitionTime: t });
  const target = conditions.find((x) => (x.type === 'SuccessCriteriaMet' || x.type === 'FailureTarget') && x.status === 'True');
  let finishing: { type: 'Complete' | 'Failed'; reason: string; message: string } | undefined = target && { type: target.type === 'FailureTarget' ? 'Failed' : 'Complete', reason: target.reason, message: target.message };
  const startTime: string = status.startTime ?? t;
  // syncJob's order: completions, the backoff limit, then activeDeadlineSeconds (pastActiveDeadline: at or past it).
  if (!finishing && succeeded >= spec.completions) {
    finishing = { type: 'Complete', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' };
    conditions.push(condition('SuccessCriteriaMet', finishing.reason, finishing.message));
  } else if (!finishing && failed > spec.backoffLimit) {
    finishing = { type: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
    conditions.push(condition('FailureTarget', finishing.reason, finishing.message));
  } else if (!finishing && spec.activeDeadlineSeconds !== undefined && Date.now() - Date.parse(startTime) >= spec.activeDeadlineSeconds * 1000) {
    finishing = { type: 'Failed', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' };
    conditions.push(condition('FailureTarget', finishing.reason, finishing.message));
  }
  if (finishing) {
    for (const p of pods.filter(isActivePod)) deletePod(cluster, j, p);
  } else {
    const active = pods.filter(isActivePod).length;
    const want = Math.min(spec.parallelism, spec.completions - succeeded) - active;
    for (let i = 0; i < want; i++) {
      const labels = { 'batch.kubernetes.io/job-name': j.metadata.name, 'job-name': j.metadata.name, 'batch.kubernetes.io/controller-uid': j.metadata.uid!, 'controller-uid': j.metadata.uid! };
      createPod(cluster, j, { generateName: `${j.metadata.name}-` }, spec.template, labels);
    }
  }
  const live = ownedBy(cluster, j, 'v1', 'Pod');
  const active = live.filter(isActivePod);
  const terminating = live.filter((p) => isTerminating(p) && !isFinished(p)).length;
  const next: Any = { startTime, active: active.length, succeeded, failed, terminating, ready: active.filter(isReady).length };
  if (finishing && terminating === 0) {
    conditions.push(condition(finishing.type, finishing.reason, finishing.message));
    if (finishing.type === 'Complete') {
      next.completionTime = t;
      cluster.event(j, 'Normal', 'Completed', 'Job completed', 'job-controller');
    } else {
      cluster.event(j, 'Warning', finishing.reason, finishing.message, 'job-controller');
    }
  }
  if (conditions.length) next.conditions = conditions;
  if (!sameStatus(j.status, next)) cluster.put({ ...j, status: next });
}

function restarts(p: KObj): number {
  return (p.status?.containerStatuses ?? []).reduce((n: number, cs: Any) => n + (cs.restartCount ?? 0), 0);
}
