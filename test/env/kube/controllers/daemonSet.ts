import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';
import { syncControllerRevision } from './controllerRevisions';
import { scaledValue } from './deployment/replicaSets';
import { createPod, isActivePod, isAvailable, ownedBy, type Any } from './objects';
import { isReady, sameStatus } from '../status';

/**
 * The DaemonSet controller (pkg/controller/daemon): one pod per matching node, labelled with the template's
 * revision hash and generation; a RollingUpdate replaces old pods as update.go's rollingUpdate does (maxSurge 0).
 */
export function reconcileDaemonSet(cluster: KubeCluster, ds: KObj): void {
  const spec = ds.spec as Any;
  const nodes = cluster.list('v1', 'Node').filter((n) => Object.entries(spec.template.spec.nodeSelector ?? {}).every(([k, v]) => n.metadata.labels?.[k] === v));
  const all = ownedBy(cluster, ds, 'v1', 'Pod');
  const { hash } = syncControllerRevision(cluster, ds, new Set(all.map((p) => p.metadata.labels?.['controller-revision-hash'] ?? '')));
  const generation = String(ds.metadata.generation);
  const isUpdated = (p: KObj) => p.metadata.labels?.['controller-revision-hash'] === hash || p.metadata.labels?.['pod-template-generation'] === generation;
  const minReady = spec.minReadySeconds ?? 0;
  // A failed pod is deleted and made again (manage in daemon_controller.go).
  for (const p of all.filter((x) => x.status?.phase === 'Failed')) cluster.remove(p);
  const pods = all.filter(isActivePod);
  for (const node of nodes) {
    if (!pods.some((p) => p.spec.nodeName === node.metadata.name)) {
      const created = createPod(cluster, ds, { generateName: `${ds.metadata.name}-` }, spec.template, { 'controller-revision-hash': hash, 'pod-template-generation': generation }, node.metadata.name);
      if (typeof created !== 'string') pods.push(created);
    }
  }
  if (spec.updateStrategy?.type !== 'OnDelete') {
    for (const p of oldPodsToDelete(spec, nodes.length, pods, isUpdated, minReady)) cluster.remove(p);
  }
  const live = ownedBy(cluster, ds, 'v1', 'Pod').filter(isActivePod);
  const available = live.filter((p) => isAvailable(p, minReady)).length;
  const status = {
    observedGeneration: ds.metadata.generation, desiredNumberScheduled: nodes.length, currentNumberScheduled: live.length, numberMisscheduled: 0,
    numberReady: live.filter(isReady).length, numberAvailable: available, updatedNumberScheduled: live.filter(isUpdated).length,
    numberUnavailable: Math.max(0, nodes.length - available),
  };
  if (!sameStatus(ds.status, status)) cluster.put({ ...ds, status });
}

/**
 * rollingUpdate (update.go), with maxSurge 0: an old pod that is not available is replaced at once, since deleting
 * it costs no availability (so a DaemonSet fixed forward after a broken revision rolls on); available old pods go
 * only while fewer than maxUnavailable pods (rounded up from a percentage of the desired nodes) are unavailable.
 * E.g. 2 nodes, maxUnavailable 1, both running a broken revision: both old pods are deleted in the same sync.
 */
function oldPodsToDelete(spec: Any, desired: number, pods: KObj[], isUpdated: (p: KObj) => boolean, minReady: number): KObj[] {
  let maxUnavailable = scaledValue(spec.updateStrategy?.rollingUpdate?.maxUnavailable ?? 1, desired, true);
  if (maxUnavailable === 0 && scaledValue(spec.updateStrategy?.rollingUpdate?.maxSurge ?? 0, desired, true) === 0) maxUnavailable = 1;
  let unavailable = 0;
  const replace: KObj[] = [];
  const candidates: KObj[] = [];
  const byNode = new Map<string, KObj[]>();
  for (const p of pods) byNode.set(p.spec.nodeName, [...(byNode.get(p.spec.nodeName) ?? []), p]);
  for (const onNode of byNode.values()) {
    const fresh = onNode.find(isUpdated);
    const old = onNode.find((p) => !isUpdated(p));
    if (onNode.length !== 1) unavailable++;
    else if (fresh) unavailable += isAvailable(fresh, minReady) ? 0 : 1;
    else if (!isAvailable(old!, minReady)) replace.push(old!);
    else if (unavailable < maxUnavailable) candidates.push(old!);
  }
  return [...replace, ...candidates.slice(0, Math.max(0, maxUnavailable - unavailable))];
}
