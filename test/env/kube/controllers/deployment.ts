import type { KubeCluster } from '../cluster';
import { clone, deepEqual, type KObj } from '../types';
import { checkPausedConditions, syncDeploymentStatus } from './deployment/progress';
import { rolloutRecreate } from './deployment/recreate';
import { rolloutRolling } from './deployment/rolling';
import { cleanupOldReplicaSets, isScalingEvent, scale, syncRevisions, type DeploymentSync } from './deployment/sync';
import { ownedBy } from './objects';

/**
 * The Deployment controller (pkg/controller/deployment, syncDeployment in deployment_controller.go): a paused
 * Deployment or a change of replicas only scales and reports (observedGeneration moves, no new ReplicaSet);
 * otherwise the strategy rolls the pods from the old ReplicaSets to the one whose template is the Deployment's.
 * The Deployment is written once, at the end, and only when its status or revision changed.
 */
export function reconcileDeployment(cluster: KubeCluster, live: KObj): void {
  const sync: DeploymentSync = { cluster, d: clone(live), oldRSs: [] };
  const sets = ownedBy(cluster, live, 'apps/v1', 'ReplicaSet');
  if (live.metadata.deletionTimestamp) {
    syncRevisions(sync, sets, false);
    syncDeploymentStatus(sync);
  } else {
    checkPausedConditions(sync.d);
    syncRevisions(sync, sets, false);
    if (sync.d.spec.paused || isScalingEvent(sync)) {
      scale(sync);
      if (sync.d.spec.paused) cleanupOldReplicaSets(sync);
      syncDeploymentStatus(sync);
    } else if (sync.d.spec.strategy?.type === 'Recreate') {
      rolloutRecreate(sync, sets);
    } else {
      rolloutRolling(sync, sets);
    }
  }
  if (!deepEqual(live.status, sync.d.status) || !deepEqual(live.metadata.annotations, sync.d.metadata.annotations)) cluster.put(sync.d);
}

