import type { KubeCluster } from '../../cluster';
import { clone, type KObj } from '../../types';
import { controllerRef, templateHash, type Any } from '../objects';
import { condition, hasProgressDeadline, setCondition } from './conditions';
import {
  DESIRED_REPLICAS, MAX_REPLICAS, REVISION, REVISION_HISTORY, byCreation, findNewReplicaSet, isActive, isRollingUpdate, isSaturated,
  maxSurge, maxUnavailable, replicasOf, revisionOf, specReplicas, statusSum,
} from './replicaSets';

/** What one sync of a Deployment works on: the Deployment (changed in place, written once at the end) and its sets. */
export interface DeploymentSync {
  cluster: KubeCluster;
  d: KObj;
  newRS?: KObj;
  oldRSs: KObj[];
}

/** Deployment annotations a ReplicaSet does not copy (skipCopyAnnotation in deployment_util.go). */
const NOT_COPIED = new Set([REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, 'kubectl.kubernetes.io/last-applied-configuration', 'deprecated.deployment.rollback.to']);

/**
 * getAllReplicaSetsAndSyncRevision (sync.go): the new ReplicaSet, created when asked for, with the next revision;
 * the old ones. Revisions: the new ReplicaSet gets one more than the highest old revision, also when it is an old
 * ReplicaSet revived by `kubectl rollout undo` (revision 1 revived after 2 and 3 becomes 4, and remembers "1" in
 * revision-history), and the Deployment's own revision annotation follows it.
 */
export function syncRevisions(sync: DeploymentSync, sets: KObj[], create: boolean): void {
  const { cluster, d } = sync;
  const existing = findNewReplicaSet(d, sets);
  sync.oldRSs = sets.filter((rs) => rs !== existing);
  const newRevision = String(Math.max(0, ...sync.oldRSs.map(revisionOf)) + 1);
  if (existing) {
    const rs = clone(existing);
    const annotations = newReplicaSetAnnotations(d, rs, newRevision, false);
    const minReady = d.spec.minReadySeconds ?? 0;
    if (JSON.stringify(annotations) !== JSON.stringify(rs.metadata.annotations ?? {}) || (rs.spec.minReadySeconds ?? 0) !== minReady) {
      sync.newRS = cluster.put({ ...rs, metadata: { ...rs.metadata, annotations }, spec: { ...rs.spec, minReadySeconds: minReady } });
    } else {
      sync.newRS = existing;
    }
    setDeploymentRevision(d, sync.newRS.metadata.annotations?.[REVISION]);
    // A Deployment made before progress was reported learns of its ReplicaSet once (FoundNewReplicaSet).
    if (hasProgressDeadline(d) && !condition(d, 'Progressing')) {
      setCondition(d, { type: 'Progressing', status: 'True', reason: 'FoundNewReplicaSet', message: `Found new replica set "${rs.metadata.name}"` });
    }
    return;
  }
  if (!create) {
    sync.newRS = undefined;
    return;
  }
  const hash = templateHash(d.spec.template);
  const template = clone(d.spec.template);
  template.metadata ??= {};
  template.metadata.labels = { ...template.metadata.labels, 'pod-template-hash': hash };
  const replicas = newReplicaSetReplicas(d, sync.oldRSs, undefined);
  const draft: KObj = {
    apiVersion: 'apps/v1', kind: 'ReplicaSet',
    metadata: { name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace, labels: { ...template.metadata.labels }, ownerReferences: controllerRef(d) },
    spec: {
      replicas, minReadySeconds: d.spec.minReadySeconds ?? 0,
      selector: { ...clone(d.spec.selector), matchLabels: { ...d.spec.selector?.matchLabels, 'pod-template-hash': hash } }, template,
    },
  };
  draft.metadata.annotations = newReplicaSetAnnotations(d, draft, newRevision, true);
  sync.newRS = cluster.put(draft);
  if (replicas > 0) scaledEvent(cluster, d, 'up', sync.newRS, 0, replicas);
  setDeploymentRevision(d, newRevision);
  if (hasProgressDeadline(d)) {
    setCondition(d, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetCreated', message: `Created new replica set "${sync.newRS.metadata.name}"` });
  }
}

/** SetNewReplicaSetAnnotations: the Deployment's own annotations, the revision (and the one it had), the sizes. */
function newReplicaSetAnnotations(d: KObj, rs: KObj, newRevision: string, created: boolean): Record<string, string> {
  const out: Record<string, string> = { ...rs.metadata.annotations };
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (!NOT_COPIED.has(k)) out[k] = v;
  const old = out[REVISION];
  if (!old || Number(old) < Number(newRevision)) {
    out[REVISION] = newRevision;
    if (old && !created) out[REVISION_HISTORY] = out[REVISION_HISTORY] ? `${out[REVISION_HISTORY]},${old}` : old;
  }
  out[DESIRED_REPLICAS] ??= String(replicasOf(d));
  out[MAX_REPLICAS] ??= String(replicasOf(d) + maxSurge(d));
  return out;
}

function setDeploymentRevision(d: KObj, revision: string | undefined): void {
  if (!revision) return;
  d.metadata.annotations = { ...d.metadata.annotations, [REVISION]: revision };
}

/**
 * NewRSNewReplicas: how large the new ReplicaSet may be now. Rolling: up to replicas + maxSurge pods in all
 * (spec.replicas of every set), e.g. 4 replicas with maxSurge 1 and the old set at 4: the new set may have 1.
 * Recreate: all of them at once (the old sets are empty by then).
 */
export function newReplicaSetReplicas(d: KObj, all: KObj[], newRS: KObj | undefined): number {
  const current = replicasOf(newRS);
  if (!isRollingUpdate(d)) return replicasOf(d);
  const pods = specReplicas(all);
  const maxTotal = replicasOf(d) + maxSurge(d);
  if (pods >= maxTotal) return current;
  return current + Math.min(maxTotal - pods, replicasOf(d) - current);
}

/** scaleReplicaSet (sync.go): the new size with the annotations that record the Deployment's size, and the event. */
export function scaleReplicaSet(sync: DeploymentSync, rs: KObj, replicas: number): KObj {
  const { cluster, d } = sync;
  const annotations = { ...rs.metadata.annotations, [DESIRED_REPLICAS]: String(replicasOf(d)), [MAX_REPLICAS]: String(replicasOf(d) + maxSurge(d)) };
  const before = replicasOf(rs);
  const scaled = cluster.put({ ...rs, metadata: { ...rs.metadata, annotations }, spec: { ...rs.spec, replicas } });
  if (before !== replicas) scaledEvent(cluster, d, replicas > before ? 'up' : 'down', rs, before, replicas);
  if (sync.newRS?.metadata.uid === rs.metadata.uid) sync.newRS = scaled;
  else sync.oldRSs = sync.oldRSs.map((o) => (o.metadata.uid === rs.metadata.uid ? scaled : o));
  return scaled;
}

function scaledEvent(cluster: KubeCluster, d: KObj, direction: 'up' | 'down', rs: KObj, from: number, to: number): void {
  cluster.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${direction} replica set ${rs.metadata.name} from ${from} to ${to}`, 'deployment-controller');
}

/** isScalingEvent: the Deployment's replicas differ from the size its active ReplicaSets were made for. */
export function isScalingEvent(sync: DeploymentSync): boolean {
  return [sync.newRS, ...sync.oldRSs].filter(isActive).some((rs) => {
    const desired = rs.metadata.annotations?.[DESIRED_REPLICAS];
    return desired !== undefined && Number(desired) !== replicasOf(sync.d);
  });
}

/**
 * scale (sync.go): a change of replicas (kubectl scale, an autoscaler) while ReplicaSets are active. One active set
 * takes the whole size. Several share the change in proportion to their size, largest first; e.g. 10 replicas with
 * maxSurge 3, mid-rollout at old 8 / new 5 (13 = 10 + 3), scaled to 20 (allowed 20 + 5 = 25, so 12 to add): the old
 * set gets round(8 * 25 / 13) - 8 = 7, the new one the remaining 5, giving 15 and 10.
 */
export function scale(sync: DeploymentSync): void {
  const { d } = sync;
  const active = [sync.newRS, ...sync.oldRSs].filter(isActive);
  if (active.length <= 1) {
    const target = active[0] ?? sync.newRS ?? [...sync.oldRSs].sort(byCreation).pop();
    if (target && replicasOf(target) !== replicasOf(d)) scaleReplicaSet(sync, target, replicasOf(d));
    return;
  }
  if (isSaturated(d, sync.newRS)) {
    for (const old of sync.oldRSs.filter(isActive)) scaleReplicaSet(sync, old, 0);
    return;
  }
  if (!isRollingUpdate(d)) return;
  const allowed = replicasOf(d) > 0 ? replicasOf(d) + maxSurge(d) : 0;
  const toAdd = allowed - specReplicas(active);
  // Scaling up favours newer sets of one size, scaling down older ones (ReplicaSetsBySizeNewer / BySizeOlder).
  active.sort((a, b) => replicasOf(b) - replicasOf(a) || (toAdd > 0 ? -byCreation(a, b) : byCreation(a, b)));
  let added = 0;
  const sizes = active.map((rs) => {
    if (toAdd === 0) return replicasOf(rs);
    const share = proportion(rs, d, toAdd, added);
    added += share;
    return replicasOf(rs) + share;
  });
  if (toAdd !== 0) sizes[0] = Math.max(0, sizes[0] + toAdd - added);
  active.forEach((rs, i) => { if (sizes[i] !== replicasOf(rs)) scaleReplicaSet(sync, rs, sizes[i]); });
}

/** GetReplicaSetProportion: this set's share of `toAdd`, from the size the Deployment had when the set was sized. */
function proportion(rs: KObj, d: KObj, toAdd: number, added: number): number {
  if (replicasOf(rs) === 0 || toAdd === added) return 0;
  let fraction: number;
  if (replicasOf(d) === 0) {
    fraction = -replicasOf(rs);
  } else {
    const annotated = Number(rs.metadata.annotations?.[MAX_REPLICAS]) || (d.status?.replicas ?? 0);
    fraction = Math.round((replicasOf(rs) * (replicasOf(d) + maxSurge(d))) / annotated) - replicasOf(rs);
  }
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

/**
 * cleanupDeployment: old ReplicaSets beyond revisionHistoryLimit go, lowest revision first, but only empty ones
 * whose controller has seen their last change. Empty counts active pods only, so a ReplicaSet whose last pods are
 * still Terminating may go: it is deleted through the API (Background), and the garbage collector leaves those
 * pods to finish terminating.
 */
export function cleanupOldReplicaSets(sync: DeploymentSync): void {
  const limit = sync.d.spec.revisionHistoryLimit;
  if (limit === undefined || limit === null) return;
  const alive = sync.oldRSs.filter((rs) => !rs.metadata.deletionTimestamp).sort((a, b) => revisionOf(a) - revisionOf(b) || byCreation(a, b));
  const excess = alive.length - limit;
  for (const rs of alive.slice(0, Math.max(0, excess))) {
    if ((rs.status?.replicas ?? 0) !== 0 || replicasOf(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)) continue;
    sync.cluster.deleteObject(rs, {});
    sync.oldRSs = sync.oldRSs.filter((o) => o !== rs);
  }
}

/**
 * calculateStatus (sync.go): the counters over every ReplicaSet (updatedReplicas from the new one), and Available
 * once at least replicas - maxUnavailable pods are available.
 */
export function calculateStatus(sync: DeploymentSync): Any {
  const { d } = sync;
  const all = [sync.newRS, ...sync.oldRSs].filter((rs): rs is KObj => !!rs);
  const available = statusSum(all, 'availableReplicas');
  const status: Any = {
    ...clone(d.status ?? {}),
    observedGeneration: d.metadata.generation,
    replicas: statusSum(all, 'replicas'),
    updatedReplicas: statusSum([sync.newRS], 'replicas'),
    readyReplicas: statusSum(all, 'readyReplicas'),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, specReplicas(all) - available),
  };
  const holder = { status };
  if (available >= replicasOf(d) - maxUnavailable(d)) {
    setCondition(holder, { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' });
  } else {
    setCondition(holder, { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' });
  }
  return holder.status;
}
