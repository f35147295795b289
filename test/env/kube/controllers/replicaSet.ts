import type { KubeCluster } from '../cluster';
import { deepEqual, type KObj } from '../types';
import { createPod, deletePod, isActivePod, isAvailable, ownedBy, type Any } from './objects';
import { isReady, now } from '../status';

/**
 * The ReplicaSet controller (pkg/controller/replicaset): as many active pods as replicas. Pods are created through
 * admission and creation stops at the first refusal, which sets ReplicaFailure (reason FailedCreate, the refusal's
 * text) until a sync creates what it must without one. Extra pods go in the order getPodsToDelete ranks them,
 * deleted through the API with their grace period (manageReplicas in replica_set.go): they turn Terminating, stop
 * counting at once (IsPodActive), and are gone when the kubelet has ended them. status.replicas and the other
 * counts are of active pods only (calculateStatus over the filtered pods, replica_set_utils.go).
 * availableReplicas counts pods ready for minReadySeconds.
 */
export function reconcileReplicaSet(cluster: KubeCluster, rs: KObj): void {
  const pods = ownedBy(cluster, rs, 'v1', 'Pod').filter(isActivePod);
  const want = rs.spec.replicas ?? 1;
  let failure: string | undefined;
  for (let i = pods.length; i < want; i++) {
    const created = createPod(cluster, rs, { generateName: `${rs.metadata.name}-` }, rs.spec.template, {});
    if (typeof created === 'string') {
      failure = created;
      break;
    }
    pods.push(created);
  }
  if (pods.length > want) {
    const doomed = [...pods].sort(deletionOrder).slice(0, pods.length - want);
    for (const p of doomed) deletePod(cluster, rs, p);
    pods.splice(0, pods.length, ...pods.filter((p) => !doomed.includes(p)));
  }
  const minReady = rs.spec.minReadySeconds ?? 0;
  const conditions = ((rs.status?.conditions ?? []) as Any[]).filter((c) => c.type !== 'ReplicaFailure' || failure);
  if (failure && !conditions.some((c) => c.type === 'ReplicaFailure')) {
    conditions.push({ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: failure, lastTransitionTime: now() });
  }
  const labelled = pods.filter((p) => Object.entries(rs.spec.template?.metadata?.labels ?? {}).every(([k, v]) => p.metadata.labels?.[k] === v));
  const status = {
    replicas: pods.length, fullyLabeledReplicas: labelled.length, readyReplicas: pods.filter(isReady).length,
    availableReplicas: pods.filter((p) => isAvailable(p, minReady)).length, observedGeneration: rs.metadata.generation,
    ...(conditions.length ? { conditions } : {}),
  };
  if (!deepEqual(rs.status, status)) cluster.put({ ...rs, status });
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/**
 * getPodsToDelete's ranking (ActivePods in pkg/controller/controller_utils.go), first to go first: unscheduled
 * before scheduled, Pending before Unknown before Running, not ready before ready, ready for less time before ready
 * for longer, more restarts before fewer, newer before older.
 */
function deletionOrder(a: KObj, b: KObj): number {
  const scheduled = (p: KObj) => (p.spec.nodeName ? 1 : 0);
  const readySince = (p: KObj) => Date.parse(((p.status?.conditions ?? []) as Any[]).find((c) => c.type === 'Ready' && c.status === 'True')?.lastTransitionTime ?? '') || 0;
  const restarts = (p: KObj) => ((p.status?.containerStatuses ?? []) as Any[]).reduce((n, cs) => Math.max(n, cs.restartCount ?? 0), 0);
  return scheduled(a) - scheduled(b)
    || (PHASE_RANK[a.status?.phase ?? 'Pending'] ?? 0) - (PHASE_RANK[b.status?.phase ?? 'Pending'] ?? 0)
    || Number(isReady(a)) - Number(isReady(b))
    || readySince(b) - readySince(a)
    || restarts(b) - restarts(a)
    || String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? ''));
}
