import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';
import { syncControllerRevision, templateOf } from './controllerRevisions';
import { createPod, isActivePod, isAvailable, ownedBy, type Any } from './objects';
import { isReady, sameStatus } from '../status';

/**
 * The StatefulSet controller (pkg/controller/statefulset/stateful_set_control.go). Pods are made by ordinal, each
 * at its revision: below the partition the current revision, else the update revision (newVersionedStatefulSetPod).
 * With OrderedReady (monotonic) the controller stops at the first pod that is not Running and Ready, before it
 * ever gets to the update: so a broken pod of the old revision is never replaced, and the rollout is stuck until
 * someone deletes that pod (kubernetes/kubernetes#67250). With Parallel it creates every missing pod at once and
 * rolls on. The update itself deletes one pod per sync, from the highest ordinal down to the partition, waiting
 * for each replacement to be healthy.
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
  const byOrdinal = new Map<number, KObj>();
  for (const p of owned) {
    // A failed pod is deleted and made again at its ordinal.
    if (p.status?.phase === 'Failed') cluster.remove(p);
    else if (isActivePod(p)) byOrdinal.set(ordinalOf(s, p), p);
  }
  const blocked = processReplicas(cluster, s, byOrdinal, { replicas, partition, rolling, monotonic, currentRevision, updateRevision: update.name });
  if (!blocked) {
    condemn(cluster, byOrdinal, replicas, monotonic);
    if (rolling) rollOne(cluster, byOrdinal, replicas, partition, update.name);
  }
  const pods = [...byOrdinal.values()].filter(isActivePod);
  const updated = pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] === update.name).length;
  const ready = pods.filter(isReady).length;
  // completeRollingUpdate: the update revision becomes the current one once every pod runs it and is ready.
  const complete = rolling && updated === replicas && pods.length === replicas && ready === replicas;
  const current = complete ? update.name : currentRevision;
  const status = {
    observedGeneration: s.metadata.generation, replicas: pods.length, readyReplicas: ready, availableReplicas: pods.filter((p) => isAvailable(p, minReady)).length,
    currentReplicas: pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] === current).length, updatedReplicas: updated,
    currentRevision: current, updateRevision: update.name, collisionCount: 0,
  };
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

/** processReplica for each ordinal; true when a monotonic StatefulSet must wait (a pod missing or not ready). */
function processReplicas(cluster: KubeCluster, s: KObj, byOrdinal: Map<number, KObj>, plan: Plan): boolean {
  for (let i = 0; i < plan.replicas; i++) {
    let pod = byOrdinal.get(i);
    if (!pod) {
      const revision = plan.rolling && i < plan.partition ? plan.currentRevision : plan.updateRevision;
      const revisionObject = cluster.get('apps/v1', 'ControllerRevision', s.metadata.namespace, revision);
      const template = revision === plan.updateRevision || !revisionObject ? s.spec.template : templateOf(revisionObject);
      const name = `${s.metadata.name}-${i}`;
      const created = createPod(cluster, s, { name }, template, { 'controller-revision-hash': revision, 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(i) });
      if (typeof created === 'string') return true;
      byOrdinal.set(i, created);
      pod = created;
    }
    if (plan.monotonic && !(pod.status?.phase === 'Running' && isReady(pod))) return true;
  }
  return false;
}

/** Pods at ordinals beyond replicas go, highest first; monotonic: one at a time, only while the rest are healthy. */
function condemn(cluster: KubeCluster, byOrdinal: Map<number, KObj>, replicas: number, monotonic: boolean): void {
  const condemned = [...byOrdinal.keys()].filter((i) => i >= replicas).sort((a, b) => b - a);
  for (const i of condemned) {
    cluster.remove(byOrdinal.get(i)!);
    byOrdinal.delete(i);
    if (monotonic) return;
  }
}

/** The rolling update: the highest-ordinal pod not at the update revision is deleted; an unhealthy one is waited for. */
function rollOne(cluster: KubeCluster, byOrdinal: Map<number, KObj>, replicas: number, partition: number, updateRevision: string): void {
  for (let i = replicas - 1; i >= partition; i--) {
    const pod = byOrdinal.get(i);
    if (!pod) return;
    if (pod.metadata.labels?.['controller-revision-hash'] !== updateRevision) {
      cluster.remove(pod);
      byOrdinal.delete(i);
      return;
    }
    if (!(pod.status?.phase === 'Running' && isReady(pod))) return;
  }
}

function ordinalOf(s: KObj, p: KObj): number {
  return Number(p.metadata.labels?.['apps.kubernetes.io/pod-index'] ?? p.metadata.name.slice(s.metadata.name.length + 1));
}
