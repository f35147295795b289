import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';

interface OwnerReference {
  uid: string;
  kind: string;
  name: string;
  blockOwnerDeletion?: boolean;
}

function refsOf(o: KObj): OwnerReference[] {
  return (o.metadata.ownerReferences ?? []) as OwnerReference[];
}

/**
 * One pass of the garbage collector (`pkg/controller/garbagecollector`), by ownerReferences:
 * - a dependent whose owners are all gone is deleted (Background propagation: the owner went first);
 * - a reference to an owner deleted with `Orphan` is removed from the dependent, then the owner's `orphan`
 *   finalizer, so the owner goes and its dependents stay;
 * - the dependents of an owner deleted with `Foreground` are deleted first; once none that block its deletion are
 *   left, its `foregroundDeletion` finalizer is removed and the owner goes.
 */
export function collectGarbage(cluster: KubeCluster): void {
  const all = cluster.store.all();
  const byUid = new Map(all.map((o) => [o.metadata.uid as string, o]));
  const dependents = new Map<string, KObj[]>();
  for (const o of all) for (const r of refsOf(o)) dependents.set(r.uid, [...(dependents.get(r.uid) ?? []), o]);
  for (const o of all) {
    const refs = refsOf(o);
    if (!refs.length) continue;
    const orphaned = refs.filter((r) => byUid.get(r.uid)?.metadata.finalizers?.includes('orphan'));
    if (orphaned.length) {
      cluster.put({ ...o, metadata: { ...o.metadata, ownerReferences: refs.filter((r) => !orphaned.includes(r)) } });
      continue;
    }
    const owners = refs.map((r) => byUid.get(r.uid));
    const foreground = owners.some((w) => w?.metadata.deletionTimestamp && w.metadata.finalizers?.includes('foregroundDeletion'));
    if ((owners.every((w) => !w) || foreground) && !o.metadata.deletionTimestamp) {
      cluster.deleteObject(o, { propagationPolicy: foreground ? 'Foreground' : 'Background' });
    } else if (owners.some((w) => !w) && owners.some((w) => w)) {
      cluster.put({ ...o, metadata: { ...o.metadata, ownerReferences: refs.filter((r) => byUid.has(r.uid)) } });
    }
  }
  for (const owner of all) {
    if (!owner.metadata.deletionTimestamp) continue;
    const finalizers = (owner.metadata.finalizers ?? []) as string[];
    const mine = (dependents.get(owner.metadata.uid as string) ?? []).filter((d) => cluster.store.has(cluster.store.keyOf(d)!));
    let next = finalizers;
    if (finalizers.includes('orphan') && mine.every((d) => !refsOf(cluster.store.byKey(cluster.store.keyOf(d)!)!).some((r) => r.uid === owner.metadata.uid))) {
      next = next.filter((f) => f !== 'orphan');
    }
    if (finalizers.includes('foregroundDeletion') && !mine.some((d) => refsOf(d).some((r) => r.uid === owner.metadata.uid && r.blockOwnerDeletion))) {
      next = next.filter((f) => f !== 'foregroundDeletion');
    }
    if (next.length !== finalizers.length) cluster.updateFinalizers(owner, next);
  }
}
