import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';
import { syncControllerRevision, templateOf } from './controllerRevisions';
import { createPod, deletePod, isAvailable, isFinished, isTerminating, ownedBy, type Any } from './objects';
import { isReady, sameStatus } from '../status';

/**
 * The StatefulSet controller (pkg/controller/statefulset/stateful_set_control.go, updateStatefulSet). Pods are made
 * by ordinal, each at its revision: below the partition the current revision, else the update revision
 * (newVersionedStatefulSetPod). With OrderedReady (monotonic) the controller stops at the first pod that is not
 * Running and Ready, or is Terminating, before it ever gets to the update: so a broken pod of the old revision is
 * never replaced, and the rollout is stuck until someone deletes that pod (kubernetes/kubernetes#67250). With
 * Parallel it creates every missing pod at once and rolls on. Pods are deleted through the API with their grace
 * period, and an ordinal whose pod is Terminating gets its new pod (the same name) only once the old one is gone.
 * The update deletes one pod per sync, from the highest ordinal down to the partition, waiting for each
 * replacement to be healthy.
 */
export function reconcileStatefulSet(cluster: KubeCluster, s: KObj): void {
  const spec = s.spec as Any;
  const owned = ownedBy(cluster, s, 'v1', 'Pod');
  const update = syncControllerRevision(cluster, s, new Set(owned.map((p) => p.metadata.labels?.['controller-revision-hash'] ?? '')));
  const currentRevision: string = s.status?.currentRevision ?? update.name;
  const replicas = spec.replicas ?? 1;
  const rolling = spec.updateStrategy?.type !== 'OnDelete';
  const partition = rolling ? (spec.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;
  const monotonic = spec.podManagementPolicy !== 'Parallel';
  const minReady = spec.minReadySeconds ?? 0;
  // Pods within [0, replicas) by ordinal, the others condemned, highest ordinal first; Terminating ones included.
  const byOrdinal = new Map<number, KObj>();
  const condemned: KObj[] = [];
  for (const p of owned) {
    const ordinal = ordinalOf(s, p);
    // A pod whose ordinal cannot be read is ignored, as getOrdinal's -1 is.
    if (!Number.isInteger(ordinal) || ordinal < 0) continue;
    if (ordinal < replicas) byOrdinal.set(ordinal, p);
    else condemned.push(p);
  }
  condemned.sort((a, b) => ordinalOf(s, b) - ordinalOf(s, a));
  // A StatefulSet being deleted only has its status updated.
  if (!s.metadata.deletionTimestamp) {
    const plan = { replicas, partition, rolling, monotonic, currentRevision, updateRevision: update.name };
    const blocked = processReplicas(cluster, s, byOrdinal, plan) || processCondemned(cluster, s, byOrdinal, condemned, plan);
    if (!blocked && rolling) rollOne(cluster, s, byOrdinal, replicas, partition, update.name);
  }
  const status = statusOf(s, ownedBy(cluster, s, 'v1', 'Pod'), { rolling, minReady, currentRevision, updateRevision: update.name });
  if (!sameStatus(s.status, status)) cluster.put({ ...s, status });
}

interface Plan {
  replicas: number;
  partition: number;
  rolling: boolean;
  monotonic: boolean;
  currentRevision: string;
  updateRevision: string;
}

/** isRunningAndReady (stateful_set_utils.go). */
function isRunningAndReady(p: KObj): boolean {
  return p.status?.phase === 'Running' && isReady(p);
}

/** isHealthy: Running and Ready and not Terminating. */
function isHealthy(p: KObj): boolean {
  return isRunningAndReady(p) && !isTerminating(p);
}

/**
 * processReplica for each ordinal; true when the StatefulSet must wait. A Failed or Succeeded pod is deleted (at
 * once: a finished pod has no grace period) and made again on a later sync, once it is gone. A missing pod is
 * created; a monotonic StatefulSet then waits, as it does for a pod that is Terminating or not Running and Ready.
 */
function processReplicas(cluster: KubeCluster, s: KObj, byOrdinal: Map<number, KObj>, plan: Plan): boolean {
  for (let i = 0; i < plan.replicas; i++) {
    const pod = byOrdinal.get(i);
    if (pod && isFinished(pod)) {
      deletePod(cluster, s, pod);
      if (plan.monotonic) return true;
      continue;
    }
    if (!pod) {
      const revision = plan.rolling && i < plan.partition ? plan.currentRevision : plan.updateRevision;
      const revisionObject = cluster.get('apps/v1', 'ControllerRevision', s.metadata.namespace, revision);
      const template = revision === plan.updateRevision || !revisionObject ? s.spec.template : templateOf(revisionObject);
      const name = `${s.metadata.name}-${i}`;
      const created = createPod(cluster, s, { name }, template, { 'controller-revision-hash': revision, 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(i) });
      if (typeof created === 'string') return true;
      byOrdinal.set(i, created);
      if (plan.monotonic) return true;
      continue;
    }
    if (plan.monotonic && !isHealthy(pod)) return true;
  }
  return false;
}

/**
 * processCondemned for the pods beyond replicas, highest ordinal first. Monotonic: one deletion per sync, after
 * which the StatefulSet waits for that pod to be gone; an unhealthy pod blocks unless it is the first unhealthy
 * one. Parallel: all are deleted at once.
 */
function processCondemned(cluster: KubeCluster, s: KObj, byOrdinal: Map<number, KObj>, condemned: KObj[], plan: Plan): boolean {
  const firstUnhealthy = [...[...byOrdinal.entries()].sort(([a], [b]) => a - b).map(([, p]) => p), ...[...condemned].reverse()].find((p) => !isHealthy(p));
  for (const pod of condemned) {
    if (isTerminating(pod)) {
      if (plan.monotonic) return true;
      continue;
    }
    if (plan.monotonic && !isRunningAndReady(pod) && pod !== firstUnhealthy) return true;
    deletePod(cluster, s, pod);
    if (plan.monotonic) return true;
  }
  return false;
}

/**
 * The rolling update: the highest-ordinal pod not at the update revision and not already Terminating is deleted;
 * a pod that is not healthy (a Terminating one included) is waited for.
 */
function rollOne(cluster: KubeCluster, s: KObj, byOrdinal: Map<number, KObj>, replicas: number, partition: number, updateRevision: string): void {
  for (let i = replicas - 1; i >= partition; i--) {
    const pod = byOrdinal.get(i);
    if (!pod) return;
    if (pod.metadata.labels?.['controller-revision-hash'] !== updateRevision && !isTerminating(pod)) {
      deletePod(cluster, s, pod);
      return;
    }
    if (!isHealthy(pod)) return;
  }
}

/**
 * computeReplicaStatus over every pod: replicas, readyReplicas and availableReplicas count Terminating pods too (a
 * Terminating pod still runs), currentReplicas and updatedReplicas do not. completeRollingUpdate: the update
 * revision becomes the current one once every pod counted runs it and is ready.
 */
function statusOf(s: KObj, pods: KObj[], o: { rolling: boolean; minReady: number; currentRevision: string; updateRevision: string }): Any {
  const revisionOf = (p: KObj) => p.metadata.labels?.['controller-revision-hash'];
  const kept = pods.filter((p) => !isTerminating(p));
  const ready = pods.filter(isRunningAndReady).length;
  const updated = kept.filter((p) => revisionOf(p) === o.updateRevision).length;
  const complete = o.rolling && updated === pods.length && ready === pods.length;
  const current = complete ? o.updateRevision : o.currentRevision;
  return {
    observedGeneration: s.metadata.generation, replicas: pods.length, readyReplicas: ready,
    availableReplicas: pods.filter((p) => isRunningAndReady(p) && isAvailable(p, o.minReady)).length,
    currentReplicas: kept.filter((p) => revisionOf(p) === current).length, updatedReplicas: updated,
    currentRevision: current, updateRevision: o.updateRevision, collisionCount: 0,
  };
}

function ordinalOf(s: KObj, p: KObj): number {
  return Number(p.metadata.labels?.['apps.kubernetes.io/pod-index'] ?? p.metadata.name.slice(s.metadata.name.length + 1));
}
