import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';
import { createPod, isReady, ownedBy, sameStatus, templateHash, type Any } from './objects';

/** The DaemonSet controller: one pod per matching node, replaced one at a time. */
export function reconcileDaemonSet(cluster: KubeCluster, ds: KObj): void {
  const spec = ds.spec as Any;
  const hash = templateHash(spec.template);
  const nodes = cluster.list('v1', 'Node').filter((n) => Object.entries(spec.template.spec.nodeSelector ?? {}).every(([k, v]) => n.metadata.labels?.[k] === v));
  const pods = ownedBy(cluster, ds, 'v1', 'Pod');
  const rolling = spec.updateStrategy?.type !== 'OnDelete';
  for (const node of nodes) {
    if (!pods.some((p) => p.spec.nodeName === node.metadata.name)) {
      const created = createPod(cluster, ds, { generateName: `${ds.metadata.name}-` }, spec.template, { 'controller-revision-hash': hash, 'pod-template-generation': String(ds.metadata.generation) }, node.metadata.name);
      if (typeof created !== 'string') pods.push(created);
    }
  }
  if (rolling && pods.every(isReady)) {
    const stale = pods.find((p) => p.metadata.labels?.['controller-revision-hash'] !== hash);
    if (stale) cluster.remove(stale);
  }
  const live = ownedBy(cluster, ds, 'v1', 'Pod');
  const updated = live.filter((p) => p.metadata.labels?.['controller-revision-hash'] === hash);
  const status = {
    observedGeneration: ds.metadata.generation, desiredNumberScheduled: nodes.length, currentNumberScheduled: live.length, numberMisscheduled: 0,
    numberReady: live.filter(isReady).length, numberAvailable: live.filter(isReady).length, updatedNumberScheduled: updated.length,
    numberUnavailable: Math.max(0, nodes.length - live.filter(isReady).length),
  };
  if (!sameStatus(ds.status, status)) cluster.put({ ...ds, status });
}
