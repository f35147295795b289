import { SourceControlConfigurationClient, type FluxConfiguration } from '@azure/arm-kubernetesconfiguration';
import { armClientOptions, createAzureCredential } from '../../common/azureCredential';
import { requireSubscription } from '../../common/connections';
import { UserError, errorMessage, isUserError } from '../../common/errors';
import type { TaskLog } from '../../common/log';
import type { GitOpsOptions } from './options';

/** The fluxConfiguration that reconciles our folder, and the key of the Kustomization covering it. */
export interface FluxSelection {
  name: string;
  kustomizationKey: string;
  /** Kubernetes name of that Kustomization as ARM's statuses[] show it: `<configuration>-<key>`. */
  kustomization: string;
  syncIntervalSeconds?: number;
}

type FluxTarget = NonNullable<GitOpsOptions['flux']>;

/**
 * AKS's GitOps configurations through ARM (`Microsoft.KubernetesConfiguration/fluxConfigurations` under the
 * managed cluster), with the AzureRM connection's credential: no cluster credential is involved.
 */
export class FluxConfigurations {
  private readonly client: SourceControlConfigurationClient;

  constructor(private readonly target: FluxTarget, log: TaskLog) {
    const credential = createAzureCredential(target.azure, log);
    this.client = new SourceControlConfigurationClient(credential, requireSubscription(target.azure, `the AKS cluster '${target.clusterName}'`), armClientOptions(target.azure));
  }

  get cluster(): string {
    return `${this.target.resourceGroup}/${this.target.clusterName}`;
  }

  async get(name: string): Promise<FluxConfiguration | undefined> {
    try {
      return await this.client.fluxConfigurations.get(this.target.resourceGroup, 'Microsoft.ContainerService', 'managedClusters', this.target.clusterName, name);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404 && (err as { code?: string }).code === 'ResourceNotFound') return undefined;
      throw this.explain(err);
    }
  }

  async list(): Promise<FluxConfiguration[]> {
    const out: FluxConfiguration[] = [];
    try {
      for await (const c of this.client.fluxConfigurations.list(this.target.resourceGroup, 'Microsoft.ContainerService', 'managedClusters', this.target.clusterName)) out.push(c);
    } catch (err) {
      throw this.explain(err);
    }
    return out;
  }

  /**
   * The configuration that reconciles `repository` at `branch` into a Kustomization covering `folder`: the one
   * named by `fluxConfiguration` (refused when it follows something else), or the only one that fits.
   */
  async select(repository: string, branch: string, folder: string): Promise<FluxSelection> {
    const named = this.target.configuration;
    const candidates = named ? [await this.get(named)] : await this.list();
    if (named && !candidates[0]) {
      const have = (await this.list()).map((c) => c.name).filter(Boolean);
      throw new UserError(`Input 'fluxConfiguration': the AKS cluster ${this.cluster} has no Flux configuration '${named}'${have.length ? `; it has ${have.map((n) => `'${n}'`).join(', ')}` : ', and none at all: install the GitOps (microsoft.flux) extension and create one for this repository'}.`);
    }
    const problems: string[] = [];
    for (const config of candidates as FluxConfiguration[]) {
      const why = mismatch(config, repository, branch, folder);
      if (!why) return selection(config, folder);
      problems.push(`'${config.name}' ${why}`);
    }
    const wanted = `repository '${repository}', branch '${branch}', a Kustomization path covering '${folder}'`;
    if (named) throw new UserError(`Input 'fluxConfiguration': '${named}' on ${this.cluster} does not reconcile what this task commits (${wanted}): ${problems[0]}. Change gitRepository, gitBranch or gitPath, or the Flux configuration.`);
    throw new UserError(`No Flux configuration on ${this.cluster} reconciles ${wanted}${problems.length ? `: ${problems.join('; ')}` : ': the cluster has none'}. Name the configuration in 'fluxConfiguration', or create one for this folder.`);
  }

  private explain(err: unknown): Error {
    const status = (err as { statusCode?: number }).statusCode;
    const code = (err as { code?: string }).code;
    if (isUserError(err)) return err;
    if (status === 403) return new UserError(`Input '${this.target.azure.input}': the service connection may not read the Flux configurations of ${this.cluster} (${code}). Grant it Reader (Microsoft.KubernetesConfiguration/fluxConfigurations/read) on the cluster.`, { cause: err });
    if (status === 404) return new UserError(`Inputs 'resourceGroup' / 'kubernetesCluster': no AKS cluster ${this.cluster} in the subscription of '${this.target.azure.input}' (${code}: ${errorMessage(err)}).`, { cause: err });
    return err instanceof Error ? err : new Error(String(err));
  }
}

function normalPath(p: string | undefined): string {
  return (p ?? '').replace(/^\.?\/+/, '').replace(/^\.$/, '').replace(/\/+$/, '');
}

/** The repository name of an Azure Repos clone URL (`…/_git/<name>`, with or without `.git` or a user). */
function repositoryOf(url: string | undefined): string | undefined {
  const m = /\/_git\/([^/?#]+)/.exec(url ?? '');
  return m ? decodeURIComponent(m[1]).replace(/\.git$/, '') : undefined;
}

function coveringKustomization(config: FluxConfiguration, folder: string): [string, string] | undefined {
  const matches = Object.entries(config.kustomizations ?? {})
    .map(([key, k]) => [key, normalPath(k?.path)] as [string, string])
    .filter(([, p]) => p === '' || folder === p || folder.startsWith(`${p}/`));
  return matches.sort((a, b) => b[1].length - a[1].length)[0];
}

function mismatch(config: FluxConfiguration, repository: string, branch: string, folder: string): string | undefined {
  if (config.sourceKind && config.sourceKind !== 'GitRepository') return `reads a ${config.sourceKind}, not a Git repository`;
  const repo = repositoryOf(config.gitRepository?.url);
  if (repo?.toLowerCase() !== repository.toLowerCase()) return `reconciles ${config.gitRepository?.url ?? 'no repository'}`;
  const ref = config.gitRepository?.repositoryRef;
  if (ref?.commit || ref?.tag || ref?.semver) return `is pinned to ${ref.commit ? `commit ${ref.commit}` : ref.tag ? `tag ${ref.tag}` : `semver ${ref.semver}`}, not a branch`;
  if ((ref?.branch ?? 'master') !== branch) return `follows branch '${ref?.branch ?? 'master'}', not '${branch}'`;
  if (!coveringKustomization(config, folder)) {
    return `has no Kustomization for '${folder}' (its paths: ${Object.values(config.kustomizations ?? {}).map((k) => k?.path).join(', ') || 'none'})`;
  }
  return undefined;
}

function selection(config: FluxConfiguration, folder: string): FluxSelection {
  const [key] = coveringKustomization(config, folder)!;
  return { name: config.name!, kustomizationKey: key, kustomization: `${config.name}-${key}`, syncIntervalSeconds: config.gitRepository?.syncIntervalInSeconds };
}
