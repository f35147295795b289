import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';

/** The serviceaccounts controller (pkg/controller/serviceaccount): a `default` ServiceAccount in every active namespace. */
export function reconcileServiceAccounts(cluster: KubeCluster, ns: KObj): void {
  if (ns.metadata.deletionTimestamp || (ns.status?.phase ?? 'Active') !== 'Active') return;
  if (cluster.get('v1', 'ServiceAccount', ns.metadata.name, 'default')) return;
  cluster.put({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns.metadata.name } });
}
