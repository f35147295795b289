import { clone, deepEqual, type KObj } from '../../types';
import type { Any } from '../objects';

/**
 * What the Deployment controller reads off ReplicaSets and Deployments, as kubernetes
 * pkg/controller/deployment/util/deployment_util.go has it.
 */

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';

export function revisionOf(o: KObj | undefined): number {
  return Number(o?.metadata.annotations?.[REVISION] ?? 0) || 0;
}

export function replicasOf(o: KObj | undefined): number {
  return (o?.spec?.replicas as number | undefined) ?? 0;
}

/** Sum of spec.replicas (GetReplicaCountForReplicaSets). */
export function specReplicas(sets: (KObj | undefined)[]): number {
  return sets.reduce((n, rs) => n + replicasOf(rs), 0);
}

/** Sum of a status counter (GetActualReplicaCountForReplicaSets and its siblings). */
export function statusSum(sets: (KObj | undefined)[], field: 'replicas' | 'readyReplicas' | 'availableReplicas'): number {
  return sets.reduce((n, rs) => n + ((rs?.status?.[field] as number | undefined) ?? 0), 0);
}

export function isRollingUpdate(d: KObj): boolean {
  return (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
}

/**
 * GetScaledValueFromIntOrPercent: an absolute number, or a percentage of `total`, rounded up for maxSurge and down
 * for maxUnavailable. With 10 replicas, "25%" is a surge of 3 (2.5 up) and an unavailability of 2 (2.5 down).
 */
export function scaledValue(value: number | string | undefined, total: number, roundUp: boolean): number {
  if (value === undefined) return 0;
  if (typeof value === 'number') return value;
  if (value.endsWith('%')) {
    const exact = (Number(value.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(exact) : Math.floor(exact);
  }
  return Number(value) || 0;
}

/**
 * ResolveFenceposts: both bounds of a rolling update. Both zero would let nothing move, so maxUnavailable becomes 1
 * then (validation refuses 0 and 0 given as numbers, but "0%" and "0%" of 3 replicas gets here).
 */
export function fenceposts(d: KObj): { maxSurge: number; maxUnavailable: number } {
  const replicas = replicasOf(d);
  const rolling = d.spec.strategy?.rollingUpdate ?? {};
  const maxSurge = scaledValue(rolling.maxSurge ?? '25%', replicas, true);
  let maxUnavailable = scaledValue(rolling.maxUnavailable ?? '25%', replicas, false);
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

export function maxSurge(d: KObj): number {
  return isRollingUpdate(d) ? fenceposts(d).maxSurge : 0;
}

/** MaxUnavailable: never more than the replicas; nothing may be unavailable outside a rolling update. */
export function maxUnavailable(d: KObj): number {
  if (!isRollingUpdate(d) || replicasOf(d) === 0) return 0;
  return Math.min(fenceposts(d).maxUnavailable, replicasOf(d));
}

export function byCreation(a: KObj, b: KObj): number {
  const t = String(a.metadata.creationTimestamp ?? '').localeCompare(String(b.metadata.creationTimestamp ?? ''));
  return t !== 0 ? t : a.metadata.name.localeCompare(b.metadata.name);
}

/** A pod template without the pod-template-hash label the controller adds (EqualIgnoreHash). */
function withoutHash(template: Any): Any {
  const t = clone(template ?? {});
  if (t.metadata?.labels) delete t.metadata.labels['pod-template-hash'];
  return zeroValuesDropped(t);
}

/**
 * The comparison is semantic, as apimachinery's forked reflect.DeepEqual is: a null, an empty map and an empty list
 * equal an absent field. So the template `kubectl rollout undo` sends back (with `creationTimestamp: null` and
 * `resources: {}`, as Go serialises them) matches the ReplicaSet it came from.
 */
function zeroValuesDropped(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? v.map(zeroValuesDropped) : undefined;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).map(([k, x]) => [k, zeroValuesDropped(x)] as const).filter(([, x]) => x !== undefined && x !== null);
    return entries.length ? Object.fromEntries(entries) : undefined;
  }
  return v;
}

export function sameTemplate(a: Any, b: Any): boolean {
  return deepEqual(withoutHash(a), withoutHash(b));
}

/**
 * FindNewReplicaSet: the oldest ReplicaSet whose pod template equals the Deployment's. So `kubectl rollout undo`,
 * which copies an old ReplicaSet's template back into the Deployment, revives that ReplicaSet.
 */
export function findNewReplicaSet(d: KObj, sets: KObj[]): KObj | undefined {
  return [...sets].sort(byCreation).find((rs) => sameTemplate(rs.spec.template, d.spec.template));
}

export function isActive(rs: KObj | undefined): rs is KObj {
  return !!rs && replicasOf(rs) > 0;
}

/** IsSaturated: the new ReplicaSet holds all the replicas, all available. */
export function isSaturated(d: KObj, rs: KObj | undefined): boolean {
  if (!rs) return false;
  const desired = Number(rs.metadata.annotations?.[DESIRED_REPLICAS]);
  return replicasOf(rs) === replicasOf(d) && desired === replicasOf(d) && (rs.status?.availableReplicas ?? 0) === replicasOf(d);
}
