import { KubeStatus, clone, isPlainObject, type KObj, type ResourceType } from '../types';

/** `DeleteOptions`, from the body or the query (`meta/v1` types.go). */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { resourceVersion?: string; uid?: string };
  dryRun?: boolean;
}

export interface Deleter {
  /** Stores a changed object (marked for deletion). */
  put(obj: KObj): KObj;
  /** Removes an object for good. */
  purge(obj: KObj): void;
  /** Tells the kubelet stand-in that a pod on its node is terminating. */
  podTerminating(pod: KObj): void;
}

export function qualified(type: Pick<ResourceType, 'group' | 'resource'>): string {
  return type.group ? `${type.resource}.${type.group}` : type.resource;
}

/** The 409 of a write or delete whose resource version (or uid) is not the object's any more. */
export function staleError(type: ResourceType, name: string, detail = 'the object has been modified; please apply your changes to the latest version and try again'): KubeStatus {
  return new KubeStatus(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(type)} "${name}": ${detail}`, { name, group: type.group || undefined, kind: type.resource });
}

/** DeleteOptions as the body and query give them; the body wins (kubectl sends a body; `--dry-run=server` puts dryRun there). */
export function deleteOptionsOf(query: (name: string) => string | undefined, body: unknown): DeleteOptions {
  const b = isPlainObject(body) ? body : {};
  const dryRun = Array.isArray(b.dryRun) ? b.dryRun.includes('All') : query('dryRun') === 'All';
  const grace = b.gracePeriodSeconds ?? (query('gracePeriodSeconds') !== undefined ? Number(query('gracePeriodSeconds')) : undefined);
  let policy = (b.propagationPolicy ?? query('propagationPolicy')) as DeleteOptions['propagationPolicy'];
  if (policy === undefined && (b.orphanDependents === true || query('orphanDependents') === 'true')) policy = 'Orphan';
  if (policy !== undefined && !['Background', 'Foreground', 'Orphan'].includes(policy)) {
    throw new KubeStatus(422, 'Invalid', `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`);
  }
  return { gracePeriodSeconds: grace as number | undefined, propagationPolicy: policy, preconditions: b.preconditions as DeleteOptions['preconditions'], dryRun };
}

/** Whether an object marked for deletion may now go: no finalizers left, and a pod's processes have ended. */
export function mayPurge(obj: KObj): boolean {
  if (!obj.metadata.deletionTimestamp || (obj.metadata.finalizers ?? []).length > 0) return false;
  if (obj.kind === 'Namespace' && (obj.spec?.finalizers ?? []).length > 0) return false;
  return obj.kind !== 'Pod' || !obj.spec?.nodeName || obj.metadata.deletionGracePeriodSeconds === 0;
}

/**
 * DELETE as the generic registry does it (`apiserver/pkg/registry/generic/registry/store.go`): preconditions,
 * graceful deletion of pods on a node (deletionTimestamp and deletionGracePeriodSeconds; the kubelet ends the
 * processes and removes the pod), finalizers holding the object (`orphan` and `foregroundDeletion` for those
 * propagation policies, `kubernetes` for namespaces, which turn Terminating), otherwise removal at once, leaving
 * dependents to the garbage collector. Returns the HTTP status and body: 200 with a Status (the object for pods and
 * custom resources) when gone, 202 with the object while its deletion is pending.
 */
export function deleteObject(d: Deleter, type: ResourceType, live: KObj, options: DeleteOptions): { code: number; body: unknown } {
  const name = live.metadata.name;
  const pre = options.preconditions;
  if (pre?.uid && pre.uid !== live.metadata.uid) throw staleError(type, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${live.metadata.uid}`);
  if (pre?.resourceVersion && pre.resourceVersion !== live.metadata.resourceVersion) {
    throw staleError(type, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${live.metadata.resourceVersion}`);
  }
  const isPod = live.kind === 'Pod';
  // CheckGracefulDelete (pkg/registry/core/pod/strategy.go): a pod that is not scheduled, or has already finished
  // (Succeeded or Failed: no process to end), is deleted at once; others get the asked or the pod's grace period.
  const finished = live.status?.phase === 'Succeeded' || live.status?.phase === 'Failed';
  const grace = isPod && live.spec?.nodeName && !finished ? (options.gracePeriodSeconds ?? live.spec?.terminationGracePeriodSeconds ?? 30) : 0;
  const finalizers = [...(live.metadata.finalizers ?? [])];
  if (options.propagationPolicy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
  if (options.propagationPolicy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
  // A namespace always goes through Terminating: the API server gives every namespace the `kubernetes` finalizer.
  const pending = grace > 0 || finalizers.length > 0 || live.kind === 'Namespace';
  const gone = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: type.group || undefined, kind: type.resource, uid: live.metadata.uid } };
  const returnsObject = isPod || !!type.crd;
  if (!pending) {
    if (!options.dryRun) d.purge(live);
    return { code: 200, body: returnsObject ? live : gone };
  }
  if (live.metadata.deletionTimestamp) {
    // Already being deleted: a shorter grace period (kubectl delete --grace-period=0 --force) ends it sooner.
    if (isPod && grace < (live.metadata.deletionGracePeriodSeconds ?? Infinity) && !options.dryRun) {
      const sooner = d.put({ ...clone(live), metadata: { ...clone(live.metadata), deletionGracePeriodSeconds: grace } });
      if (grace === 0 && mayPurge(sooner)) d.purge(sooner);
      else d.podTerminating(sooner);
      return { code: 202, body: sooner };
    }
    return { code: 202, body: live };
  }
  const marked = clone(live);
  marked.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  marked.metadata.deletionGracePeriodSeconds = grace;
  if (finalizers.length) marked.metadata.finalizers = finalizers;
  if (live.kind === 'Namespace') {
    marked.status = { ...marked.status, phase: 'Terminating' };
    marked.spec = { ...marked.spec, finalizers: live.spec?.finalizers ?? ['kubernetes'] };
  }
  if (options.dryRun) return { code: 202, body: marked };
  const stored = d.put(marked);
  if (isPod && grace > 0) d.podTerminating(stored);
  return { code: 202, body: stored };
}

