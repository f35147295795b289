import * as path from 'node:path';
import { ArmError, type ArmEmulator } from '../arm';
import type { AksCluster } from '../aks';
import type { AzureRepos, RepositoryRecord } from '../repos/azureRepos';
import { FluxReconciler } from './reconciler';

/** Api-versions of Microsoft.KubernetesConfiguration/fluxConfigurations (the SDK 6.1.0 sends 2023-05-01). */
export const FLUX_API_VERSIONS = ['2021-11-01-preview', '2022-03-01', '2022-07-01', '2022-11-01', '2023-05-01', '2024-11-01', '2025-04-01'];

export interface FluxEnvironment {
  /** The GitOps repository every cluster's configuration reconciles. */
  repository: RepositoryRecord;
  reconcilers: { staging: FluxReconciler; production: FluxReconciler };
  stop(): Promise<void>;
}

/**
 * AKS's GitOps extension on both clusters: one Azure Repos repository (`shop-gitops`, branch main) with a folder
 * per cluster, a fluxConfiguration per cluster whose Kustomization reconciles that folder, and ARM's
 * fluxConfigurations resources. Each configuration fetches over HTTPS with its own personal access token (user
 * `flux`, the token as password, as Microsoft's tutorials connect Azure Repos), into its own copy under `dir`.
 * `syncIntervalInSeconds` is short so tests do not wait Flux's default ten minutes; a failed revision is retried
 * after `retryIntervalInSeconds` (10 s unless given), long enough for a poller to read the failure.
 */
export async function startFlux(options: { arm: ArmEmulator; repos: AzureRepos; clusters: { staging: AksCluster; production: AksCluster }; caFile: string; dir: string; syncIntervalInSeconds?: number; retryIntervalInSeconds?: number }): Promise<FluxEnvironment> {
  const { arm, repos, clusters } = options;
  const repository = await repos.addRepository('shop-gitops', 'main');
  await repos.commitAs(repository, 'main', (['staging', 'production'] as const).map((key) => ({
    type: 'put' as const, path: `clusters/${key}/README.md`, content: Buffer.from(`# ${key}\n\nWhat Flux applies to the ${key} cluster. Written by the pipeline.\n`),
  })), 'One folder per cluster', { name: 'Platform Team', email: 'platform@contoso.example' });
  const make = (cluster: AksCluster, key: 'staging' | 'production') => new FluxReconciler({
    name: `shop-${key}`, namespace: 'flux-system', repository, branch: 'main', syncIntervalInSeconds: options.syncIntervalInSeconds ?? 1,
    credential: { username: 'flux', password: repos.issuePersonalAccessToken(`Flux shop-${key}`).token }, timeoutInSeconds: 60,
    retryIntervalInSeconds: options.retryIntervalInSeconds ?? 10,
    kustomizations: [{ name: 'apps', path: `./clusters/${key}`, prune: true, wait: true, timeoutInSeconds: 60 }],
  }, cluster, repos, { dir: path.join(options.dir, `shop-${key}`), caFile: options.caFile });
  const reconcilers = { staging: make(clusters.staging, 'staging'), production: make(clusters.production, 'production') };
  const byCluster = new Map<AksCluster, FluxReconciler[]>([[clusters.staging, [reconcilers.staging]], [clusters.production, [reconcilers.production]]]);
  addRoutes(arm, byCluster);
  for (const r of Object.values(reconcilers)) r.start();
  return {
    repository, reconcilers,
    async stop() {
      await Promise.all(Object.values(reconcilers).map((r) => r.stop()));
    },
  };
}

function addRoutes(arm: ArmEmulator, byCluster: Map<AksCluster, FluxReconciler[]>): void {
  const base = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ContainerService/managedClusters/:cluster/providers/Microsoft.KubernetesConfiguration/fluxConfigurations';
  const find = (rg: string, name: string) => {
    const cluster = [...byCluster.keys()].find((c) => c.resourceGroup.toLowerCase() === rg.toLowerCase() && c.name.toLowerCase() === name.toLowerCase());
    if (!cluster) throw new ArmError(404, 'ParentResourceNotFound', `Failed to perform 'read' on resource(s) of type 'managedClusters/providers/fluxConfigurations', because the parent resource '/subscriptions/…/resourceGroups/${rg}/providers/Microsoft.ContainerService/managedClusters/${name}' could not be found.`);
    return cluster;
  };
  arm.route('GET', base, FLUX_API_VERSIONS, (x, caller) => {
    const cluster = find(x.params.resourceGroupName, x.params.cluster);
    arm.authorize(caller, cluster.resourceId, 'Microsoft.KubernetesConfiguration/fluxConfigurations/read');
    x.sendJson(200, { value: byCluster.get(cluster)!.map((r) => r.resource()) });
  });
  arm.route('GET', `${base}/:name`, FLUX_API_VERSIONS, (x, caller) => {
    const cluster = find(x.params.resourceGroupName, x.params.cluster);
    arm.authorize(caller, cluster.resourceId, 'Microsoft.KubernetesConfiguration/fluxConfigurations/read');
    const reconciler = byCluster.get(cluster)!.find((r) => r.spec.name.toLowerCase() === x.params.name.toLowerCase());
    if (!reconciler) throw new ArmError(404, 'ResourceNotFound', `The Resource 'Microsoft.KubernetesConfiguration/fluxConfigurations/${x.params.name}' under resource group '${x.params.resourceGroupName}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
    x.sendJson(200, reconciler.resource());
  });
}
