import type { KObj } from '../../types';
import { isComplete, syncRolloutStatus } from './progress';
import { byCreation, isActive, maxUnavailable, replicasOf, specReplicas, statusSum } from './replicaSets';
import { cleanupOldReplicaSets, newReplicaSetReplicas, scaleReplicaSet, syncRevisions, type DeploymentSync } from './sync';

/**
 * rolloutRolling (rolling.go): one step per sync. Scale the new ReplicaSet up as far as maxSurge allows; else scale
 * the old ones down as far as maxUnavailable allows; once complete, drop history beyond revisionHistoryLimit. Every
 * path ends by bringing the status up to date.
 */
export function rolloutRolling(sync: DeploymentSync, sets: KObj[]): void {
  syncRevisions(sync, sets, true);
  if (reconcileNewReplicaSet(sync) || reconcileOldReplicaSets(sync)) {
    syncRolloutStatus(sync);
    return;
  }
  if (isComplete(sync.d, sync.d.status ?? {})) cleanupOldReplicaSets(sync);
  syncRolloutStatus(sync);
}

function reconcileNewReplicaSet(sync: DeploymentSync): boolean {
  const { d, newRS } = sync;
  if (!newRS || replicasOf(newRS) === replicasOf(d)) return false;
  if (replicasOf(newRS) > replicasOf(d)) {
    scaleReplicaSet(sync, newRS, replicasOf(d));
    return true;
  }
  const target = newReplicaSetReplicas(d, [newRS, ...sync.oldRSs], newRS);
  if (target === replicasOf(newRS)) return false;
  scaleReplicaSet(sync, newRS, target);
  return true;
}

/**
 * reconcileOldReplicaSets (rolling.go): how far the old sets may shrink without going below replicas -
 * maxUnavailable available pods, counting the new set's unavailable pods against that budget:
 *
 *   maxScaledDown = allPods - minAvailable - newRSUnavailable
 *
 * rolling.go's example: 10 replicas, maxUnavailable 2 (minAvailable 8), maxSurge 3; old set 10, new set scaled to 3
 * whose pods are not ready yet: 13 - 8 - 3 = 2, so two old pods may go now. Unhealthy old pods are cleaned up first
 * (they do not count as available anyway); then available old pods, only as far as the available total stays above
 * minAvailable. A new set that crash-loops therefore never takes the old set below 8: a broken revision cannot take
 * a Deployment down.
 */
function reconcileOldReplicaSets(sync: DeploymentSync): boolean {
  const { d, newRS } = sync;
  const oldPods = specReplicas(sync.oldRSs);
  if (oldPods === 0) return false;
  const minAvailable = replicasOf(d) - maxUnavailable(d);
  const newUnavailable = replicasOf(newRS) - (newRS?.status?.availableReplicas ?? 0);
  const maxScaledDown = specReplicas([newRS, ...sync.oldRSs]) - minAvailable - newUnavailable;
  if (maxScaledDown <= 0) return false;
  const cleaned = cleanupUnhealthyReplicas(sync, maxScaledDown);
  const scaledDown = scaleDownOldForRollingUpdate(sync);
  return cleaned + scaledDown > 0;
}

/** cleanupUnhealthyReplicas: old sets lose their unavailable pods first, oldest set first, at most `max` in all. */
function cleanupUnhealthyReplicas(sync: DeploymentSync, max: number): number {
  let total = 0;
  for (const rs of sync.oldRSs.filter(isActive).sort(byCreation)) {
    if (total >= max) break;
    const unhealthy = replicasOf(rs) - (rs.status?.availableReplicas ?? 0);
    if (unhealthy <= 0) continue;
    const n = Math.min(max - total, unhealthy);
    scaleReplicaSet(sync, rs, replicasOf(rs) - n);
    total += n;
  }
  return total;
}

/** scaleDownOldReplicaSetsForRollingUpdate: available pods beyond minAvailable go, oldest set first. */
function scaleDownOldForRollingUpdate(sync: DeploymentSync): number {
  const minAvailable = replicasOf(sync.d) - maxUnavailable(sync.d);
  const available = statusSum([sync.newRS, ...sync.oldRSs], 'availableReplicas');
  if (available <= minAvailable) return 0;
  const budget = available - minAvailable;
  let total = 0;
  for (const rs of sync.oldRSs.filter(isActive).sort(byCreation)) {
    if (total >= budget) break;
    const n = Math.min(replicasOf(rs), budget - total);
    scaleReplicaSet(sync, rs, replicasOf(rs) - n);
    total += n;
  }
  return total;
}
