import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';
import { syncControllerRevision } from './controllerRevisions';
import { scaledValue } from './deployment/replicaSets';
import { createPod, deletePod, isActivePod, isAvailable, isFinished, isTerminating, ownedBy, type Any } from './objects';
import { isReady, sameStatus } from '../status';

/**
 * The DaemonSet controller (pkg/controller/daemon): one pod per matching node, labelled with the template's
 * revision hash and generation; a RollingUpdate replaces old pods as update.go's rollingUpdate does (maxSurge 0).
 * Pods are deleted through the API with their grace period. A node's pods are those getNodesToDaemonPods gives:
 * every pod but a finished one already being deleted, so a Terminating pod still holds its node, which gets its
 * new pod (manage: created only where no pod exists) once the old one is gone.
 */
export function reconcileDaemonSet(cluster: KubeCluster, ds: KObj): void {
  const spec = ds.spec as Any;
  const nodes = cluster.list('v1', 'Node').filter((n) => Object.entries(spec.template.spec.nodeSelector ?? {}).every(([k, v]) => n.metadata.labels?.[k] === v));
  const all = ownedBy(cluster, ds, 'v1', 'Pod');
  const { hash } = syncControllerRevision(cluster, ds, new Set(all.map((p) => p.metadata.labels?.['controller-revision-hash'] ?? '')));
  const generation = String(ds.metadata.generation);
  const isUpdated = (p: KObj) => p.metadata.labels?.['controller-revision-hash'] === hash || p.metadata.labels?.['pod-template-generation'] === generation;
  const minReady = spec.minReadySeconds ?? 0;
  const pods = all.filter((p) => !(isFinished(p) && isTerminating(p)));
  // podsShouldBeOnNode (daemon_controller.go): a failed pod is deleted, with a FailedDaemonPod event, and its node
  // gets a new pod on a later sync, once the failed one is gone (a finished pod is deleted at once: no grace).
  for (const p of pods.filter((x) => x.status?.phase === 'Failed' && !isTerminating(x))) {
    cluster.event(ds, 'Warning', 'FailedDaemonPod', `Found failed daemon pod ${p.metadata.namespace}/${p.metadata.name} on node ${p.spec.nodeName}, will try to kill it`, 'daemonset-controller');
    deletePod(cluster, ds, p);
  }
  for (const node of nodes) {
    if (!pods.some((p) => p.spec.nodeName === node.metadata.name)) {
      const created = createPod(cluster, ds, { generateName: `${ds.metadata.name}-` }, spec.template, { 'controller-revision-hash': hash, 'pod-template-generation': generation }, node.metadata.name);
      if (typeof created !== 'string') pods.push(created);
    }
  }
  if (spec.updateStrategy?.type !== 'OnDelete') {
    for (const p of oldPodsToDelete(spec, nodes.length, pods, isUpdated, minReady)) deletePod(cluster, ds, p);
  }
  const status = nodeStatus(cluster, ds, nodes, isUpdated, minReady);
  if (!sameStatus(ds.status, status)) cluster.put({ ...ds, status });
}

/**
 * updateDaemonSetStatus: counted by node, from the node's oldest pod (podByCreationTimestampAndPhase), a
 * Terminating one included, so a node whose old pod is still ready while it terminates counts as ready but not
 * updated.
 */
function nodeStatus(cluster: KubeCluster, ds: KObj, nodes: KObj[], isUpdated: (p: KObj) => boolean, minReady: number): Any {
  const pods = ownedBy(cluster, ds, 'v1', 'Pod').filter((p) => !(isFinished(p) && isTerminating(p)));
  let current = 0;
  let ready = 0;
  let available = 0;
  let updated = 0;
  for (const node of nodes) {
    const onNode = pods.filter((p) => p.spec.nodeName === node.metadata.name)
      .sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)) || a.metadata.name.localeCompare(b.metadata.name));
    if (onNode.length === 0) continue;
    current++;
    if (isReady(onNode[0])) ready++;
    if (isAvailable(onNode[0], minReady)) available++;
    if (isUpdated(onNode[0])) updated++;
  }
  return {
    observedGeneration: ds.metadata.generation, desiredNumberScheduled: nodes.length, currentNumberScheduled: current, numberMisscheduled: 0,
    numberReady: ready, numberAvailable: available, updatedNumberScheduled: updated, numberUnavailable: Math.max(0, nodes.length - available),
  };
}

/**
 * rollingUpdate (update.go), with maxSurge 0: an old pod that is not available is replaced at once, since deleting
 * it costs no availability (so a DaemonSet fixed forward after a broken revision rolls on); available old pods go
 * only while fewer than maxUnavailable pods (rounded up from a percentage of the desired nodes) are unavailable.
 * findUpdatedPodsOnNode skips pods being deleted, so a node whose only pod is Terminating counts as unavailable
 * and the next old pod waits for it. E.g. 2 nodes, maxUnavailable 1, both running a broken revision: both old
 * pods are deleted in the same sync.
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
    const live = onNode.filter(isActivePod);
    const fresh = live.filter(isUpdated);
    const old = live.filter((p) => !isUpdated(p));
    // Several of a kind, both kinds or neither (only a Terminating pod): the manage loop's, and unavailable.
    if (fresh.length > 1 || old.length > 1 || fresh.length === old.length) unavailable++;
    else if (fresh.length) unavailable += isAvailable(fresh[0], minReady) ? 0 : 1;
    else if (!isAvailable(old[0], minReady)) replace.push(old[0]);
    else if (unavailable < maxUnavailable) candidates.push(old[0]);
  }
  return [...replace, ...candidates.slice(0, Math.max(0, maxUnavailable - unavailable))];
}
