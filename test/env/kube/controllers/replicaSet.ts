import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';
import { createPod, isReady, nameSuffix, now, ownedBy, sameStatus } from './objects';

/** The ReplicaSet controller: as many pods as replicas, created through admission. */
export function reconcileReplicaSet(cluster: KubeCluster, rs: KObj): void {
  const pods = ownedBy(cluster, rs, 'v1', 'Pod');
  const want = rs.spec.replicas ?? 1;
  let failure: string | undefined;
  for (let i = pods.length; i < want; i++) {
    const name = `${rs.metadata.name}-${nameSuffix()}`;
    const created = createPod(cluster, rs, name, rs.spec.template, {});
    if (typeof created === 'string') { failure = created; break; }
    pods.push(created);
  }
  for (const extra of pods.slice(want)) cluster.remove(extra);
  const live = pods.slice(0, want);
  const conditions = failure ? [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: failure, lastTransitionTime: now() }] : undefined;
  const status = {
    replicas: live.length, fullyLabeledReplicas: live.length,
    readyReplicas: live.filter(isReady).length, availableReplicas: live.filter(isReady).length, observedGeneration: rs.metadata.generation,
    ...(conditions ? { conditions } : {}),
  };
  if (!sameStatus(rs.status, status)) cluster.put({ ...rs, status });
}
