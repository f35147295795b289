import type { KubeCluster } from '../cluster';

/**
 * The namespace controller's deletion (`pkg/controller/namespace/deletion`): a Terminating namespace has its
 * contents deleted; once nothing is left in it, its `kubernetes` finalizer goes and the namespace with it.
 */
export function finalizeNamespaces(cluster: KubeCluster): void {
  for (const ns of cluster.list('v1', 'Namespace')) {
    if (!ns.metadata.deletionTimestamp) continue;
    const name = ns.metadata.name;
    const contents = cluster.store.all().filter((o) => o.metadata.namespace === name);
    for (const o of contents) if (!o.metadata.deletionTimestamp) cluster.deleteObject(o, {});
    if (contents.length === 0 && (ns.spec?.finalizers ?? []).includes('kubernetes')) {
      cluster.finalizeNamespace(ns);
    }
  }
}
