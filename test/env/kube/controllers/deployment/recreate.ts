import type { KubeCluster } from '../../cluster';
import type { KObj } from '../../types';
import { ownedBy } from '../objects';
import { isComplete, syncRolloutStatus } from './progress';
import { isActive, replicasOf } from './replicaSets';
import { cleanupOldReplicaSets, scaleReplicaSet, syncRevisions, type DeploymentSync } from './sync';

/**
 * rolloutRecreate (recreate.go): every old ReplicaSet to 0, then wait until none of their pods runs (Pending,
 * Running and Unknown pods count; Succeeded and Failed ones do not), and only then the new ReplicaSet, at full size.
 */
export function rolloutRecreate(sync: DeploymentSync, sets: KObj[]): void {
  syncRevisions(sync, sets, false);
  let scaledDown = false;
  for (const rs of sync.oldRSs.filter(isActive)) {
    scaleReplicaSet(sync, rs, 0);
    scaledDown = true;
  }
  if (scaledDown || oldPodsRunning(sync.cluster, sync.oldRSs)) {
    syncRolloutStatus(sync);
    return;
  }
  if (!sync.newRS) syncRevisions(sync, sets, true);
  if (sync.newRS && replicasOf(sync.newRS) !== replicasOf(sync.d)) scaleReplicaSet(sync, sync.newRS, replicasOf(sync.d));
  if (isComplete(sync.d, sync.d.status ?? {})) cleanupOldReplicaSets(sync);
  syncRolloutStatus(sync);
}

function oldPodsRunning(cluster: KubeCluster, oldRSs: KObj[]): boolean {
  return oldRSs.some((rs) => (rs.status?.replicas ?? 0) > 0
    || ownedBy(cluster, rs, 'v1', 'Pod').some((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed'));
}
