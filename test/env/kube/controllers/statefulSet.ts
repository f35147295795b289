import type { KubeCluster } from '../cluster';
import { clone, type KObj } from '../types';
import { createPod, isReady, ownedBy, sameStatus, templateHash, type Any } from './objects';

const revisions = new Map<string, Any>();

/** The StatefulSet controller: pods by ordinal, rolled from the highest ordinal down to the partition. */
export function reconcileStatefulSet(cluster: KubeCluster, s: KObj): void {
  const spec = s.spec as Any;
  const updateRevision = `${s.metadata.name}-${templateHash(spec.template)}`;
  const pods = ownedBy(cluster, s, 'v1', 'Pod');
  const byOrdinal = new Map(pods.map((p) => [Number(p.metadata.name.slice(s.metadata.name.length + 1)), p]));
  const replicas = spec.replicas ?? 1;
  const rolling = spec.updateStrategy?.type !== 'OnDelete';
  const partition = rolling ? (spec.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;
  const ordered = spec.podManagementPolicy !== 'Parallel';
  let currentRevision: string = s.status?.currentRevision ?? updateRevision;
  for (let i = 0; i < replicas; i++) {
    if (byOrdinal.has(i)) {
      if (ordered && !isReady(byOrdinal.get(i)!)) break;
      continue;
    }
    // A pod below the partition keeps the current revision; the rest get the update revision.
    const revision = rolling && i < partition && currentRevision !== updateRevision ? currentRevision : updateRevision;
    const template = revision === updateRevision ? spec.template : (revisions.get(currentRevision) ?? spec.template);
    const created = createPod(cluster, s, { name: `${s.metadata.name}-${i}` }, template, { 'controller-revision-hash': revision, 'statefulset.kubernetes.io/pod-name': `${s.metadata.name}-${i}`, 'apps.kubernetes.io/pod-index': String(i) });
    if (typeof created !== 'string') byOrdinal.set(i, created);
    break;
  }
  revisions.set(updateRevision, clone(spec.template));
  for (const [i, p] of byOrdinal) if (i >= replicas) { cluster.remove(p); byOrdinal.delete(i); }
  const all = [...byOrdinal.values()];
  if (rolling && all.length === replicas && all.every(isReady)) {
    for (let i = replicas - 1; i >= partition; i--) {
      const p = byOrdinal.get(i)!;
      if (p.metadata.labels?.['controller-revision-hash'] !== updateRevision) {
        cluster.remove(p);
        break;
      }
    }
  }
  const updated = all.filter((p) => p.metadata.labels?.['controller-revision-hash'] === updateRevision);
  if (updated.length === replicas) currentRevision = updateRevision;
  const status = {
    observedGeneration: s.metadata.generation, replicas: all.length, readyReplicas: all.filter(isReady).length, availableReplicas: all.filter(isReady).length,
    currentReplicas: all.filter((p) => p.metadata.labels?.['controller-revision-hash'] === currentRevision).length, updatedReplicas: updated.length,
    currentRevision, updateRevision, collisionCount: 0,
  };
  if (!sameStatus(s.status, status)) cluster.put({ ...s, status });
}
