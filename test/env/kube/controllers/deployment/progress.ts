import type { KObj } from '../../types';
import type { Any } from '../objects';
import { condition, hasProgressDeadline, removeCondition, setCondition } from './conditions';
import { replicasOf } from './replicaSets';
import { calculateStatus, type DeploymentSync } from './sync';

/**
 * checkPausedConditions (deployment_controller.go): pausing sets Progressing=Unknown DeploymentPaused, resuming
 * DeploymentResumed, so the time spent paused never counts towards the progress deadline; a deadline already
 * exceeded is not overwritten.
 */
export function checkPausedConditions(d: KObj): void {
  if (!hasProgressDeadline(d)) return;
  const progressing = condition(d, 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') return;
  const pausedNoted = progressing?.reason === 'DeploymentPaused';
  if (d.spec.paused && !pausedNoted) setCondition(d, { type: 'Progressing', status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' });
  else if (!d.spec.paused && pausedNoted) setCondition(d, { type: 'Progressing', status: 'Unknown', reason: 'DeploymentResumed', message: 'Deployment is resumed' });
}

/** DeploymentComplete: every replica updated and available, and the controller has seen this generation. */
export function isComplete(d: KObj, status: Any): boolean {
  const replicas = replicasOf(d);
  return status.updatedReplicas === replicas && status.replicas === replicas && status.availableReplicas === replicas
    && (status.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** DeploymentProgressing: more updated, ready or available pods than last time, or fewer old ones. */
function isProgressing(d: KObj, status: Any): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = status.replicas - status.updatedReplicas;
  return status.updatedReplicas > (old.updatedReplicas ?? 0) || newOld < oldOld
    || status.readyReplicas > (old.readyReplicas ?? 0) || status.availableReplicas > (old.availableReplicas ?? 0);
}

/**
 * DeploymentTimedOut: no progress for progressDeadlineSeconds since the Progressing condition was last updated.
 * With a deadline of 600 s and the last update at 10:00:00, the Deployment times out at the first sync after
 * 10:10:00; every new pod that becomes ready moves lastUpdateTime, and so the deadline, forward.
 */
function hasTimedOut(d: KObj, status: Any): boolean {
  const progressing = ((status.conditions ?? []) as Any[]).find((c) => c.type === 'Progressing');
  if (!progressing || progressing.reason === 'NewReplicaSetAvailable') return false;
  if (progressing.reason === 'ProgressDeadlineExceeded') return true;
  return Date.parse(progressing.lastUpdateTime) + d.spec.progressDeadlineSeconds * 1000 < Date.now();
}

/**
 * syncRolloutStatus (progress.go): the status with the Progressing condition brought up to date (complete,
 * progressing, or past the deadline) and a ReplicaFailure of any ReplicaSet carried over, new set first.
 */
export function syncRolloutStatus(sync: DeploymentSync): void {
  const { d } = sync;
  const status = calculateStatus(sync);
  const next = { ...d, status } as KObj;
  if (!hasProgressDeadline(d)) removeCondition(next, 'Progressing');
  const current = condition(next, 'Progressing');
  const completeBefore = status.replicas === status.updatedReplicas && current?.reason === 'NewReplicaSetAvailable';
  const rsName = sync.newRS?.metadata.name;
  if (hasProgressDeadline(d) && !completeBefore) {
    if (isComplete(d, status)) {
      setCondition(next, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: rsName ? `ReplicaSet "${rsName}" has successfully progressed.` : 'Deployment has successfully progressed.' });
    } else if (isProgressing(d, status)) {
      setCondition(next, { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: rsName ? `ReplicaSet "${rsName}" is progressing.` : 'Deployment is progressing.' }, true);
    } else if (hasTimedOut(d, status)) {
      setCondition(next, { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: rsName ? `ReplicaSet "${rsName}" has timed out progressing.` : 'Deployment has timed out progressing.' });
    }
  }
  const failure = [sync.newRS, ...sync.oldRSs].map((rs) => ((rs?.status?.conditions ?? []) as Any[]).find((c) => c.type === 'ReplicaFailure')).find(Boolean);
  if (failure) setCondition(next, { type: 'ReplicaFailure', status: failure.status, reason: failure.reason, message: failure.message });
  else removeCondition(next, 'ReplicaFailure');
  d.status = next.status;
}

/** syncDeploymentStatus: the counters and Available only (a paused Deployment, or a scaling event). */
export function syncDeploymentStatus(sync: DeploymentSync): void {
  sync.d.status = calculateStatus(sync);
}
