import * as path from 'node:path';
import { readAzureConnection, type AzureConnection } from '../../common/connections';
import { UserError } from '../../common/errors';
import type { Inputs } from '../../common/inputs';

export type MergeStrategy = 'squash' | 'noFastForward' | 'rebase' | 'rebaseMerge';

/** Where the pipeline run came from: what the commit message and the pull request description carry. */
export interface RunInfo {
  buildId?: string;
  buildNumber?: string;
  definitionName?: string;
  sourceVersion?: string;
  sourceBranch?: string;
  repositoryName?: string;
  runUrl?: string;
}

export interface GitOpsOptions {
  /** Azure DevOps: the collection (System.CollectionUri), the project, and the job's access token. */
  collectionUri: string;
  project: string;
  accessToken: string;
  repository: string;
  /** Undefined: the repository's default branch. */
  branch?: string;
  /** Repository-relative folder, '/'-separated, without leading or trailing slashes. */
  path: string;
  change: 'push' | 'pullRequest';
  autoComplete: boolean;
  mergeStrategy: MergeStrategy;
  deleteSourceBranch: boolean;
  waitForReconcile: boolean;
  reconcileTimeoutSeconds: number;
  /** The AKS cluster whose Flux configuration is read through ARM (needed when waiting). */
  flux?: { azure: AzureConnection; resourceGroup: string; clusterName: string; configuration?: string };
  run: RunInfo;
}

/**
 * Reads the GitOps inputs of deliveryMode gitops. The cluster of `resourceGroup` / `kubernetesCluster` is only
 * read through ARM; a Kubernetes connection (connectionType kubernetesServiceConnection or kubeconfig) is optional.
 */
export function readGitOpsOptions(inputs: Inputs): GitOpsOptions {
  const collectionUri = inputs.variable('System.CollectionUri') ?? inputs.variable('System.TeamFoundationCollectionUri');
  const project = inputs.variable('System.TeamProject');
  if (!collectionUri || !project) {
    throw new UserError("deliveryMode gitops commits to Azure Repos of the pipeline's project, but this job has no System.CollectionUri or System.TeamProject. Run the task in an Azure Pipelines job.");
  }
  const accessToken = inputs.source.endpointAuthParameter('SystemVssConnection', 'AccessToken');
  if (!accessToken) {
    throw new UserError("deliveryMode gitops needs the job's access token (System.AccessToken) to commit to Azure Repos, and this job has none. Allow scripts to access the OAuth token, or in YAML do not set the job's token to be unavailable.");
  }
  const waitForReconcile = inputs.bool('waitForReconcile', true);
  let flux: GitOpsOptions['flux'];
  const azure = readAzureConnection(inputs, 'azureSubscription', waitForReconcile);
  if (azure) {
    flux = {
      azure,
      resourceGroup: inputs.required('resourceGroup', 'give the resource group of the AKS cluster whose Flux configuration applies the commit'),
      clusterName: inputs.required('kubernetesCluster', 'give the name of the AKS cluster whose Flux configuration applies the commit'),
      configuration: inputs.text('fluxConfiguration'),
    };
  }
  const change = inputs.choice('gitChange', ['push', 'pullRequest'] as const, 'push');
  return {
    collectionUri: collectionUri.endsWith('/') ? collectionUri : `${collectionUri}/`,
    project,
    accessToken,
    repository: inputs.required('gitRepository', "give the name of the Azure Repos repository that Flux reconciles, in this pipeline's project"),
    branch: readBranch(inputs),
    path: readGitPath(inputs),
    change,
    autoComplete: inputs.bool('autoComplete', false),
    mergeStrategy: inputs.choice('mergeStrategy', ['squash', 'noFastForward', 'rebase', 'rebaseMerge'] as const, 'squash'),
    deleteSourceBranch: inputs.bool('deleteSourceBranch', true),
    waitForReconcile,
    reconcileTimeoutSeconds: inputs.int('reconcileTimeout', 900, 10, 86_400),
    flux,
    run: runInfo(inputs),
  };
}

function readBranch(inputs: Inputs): string | undefined {
  const given = inputs.text('gitBranch')?.replace(/^refs\/heads\//, '');
  // git-check-ref-format(1), the rules a branch name that Azure Repos accepts must follow.
  if (given !== undefined && (/[\s~^:?*[\\]|\.\.|@\{|\/\/|^[/.-]|[/.]$|\.lock$/.test(given) || given === '@')) {
    throw new UserError(`Input 'gitBranch': '${given}' is not a valid branch name. Give a name such as main or releases/production.`);
  }
  return given;
}

/** The folder as a clean repository-relative path; `..` that leaves the repository and absolute paths are refused. */
export function readGitPath(inputs: Inputs): string {
  const given = inputs.required('gitPath', 'give the folder of the repository that this environment owns, e.g. clusters/staging');
  const slashed = given.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) {
    throw new UserError(`Input 'gitPath': '${given}' is an absolute path. Give the folder relative to the repository root, e.g. clusters/staging.`);
  }
  const normal = path.posix.normalize(slashed).replace(/\/+$/, '');
  if (normal === '..' || normal.startsWith('../')) {
    throw new UserError(`Input 'gitPath': '${given}' points outside the repository. Give a folder inside it, e.g. clusters/staging.`);
  }
  if (normal === '.' || normal === '') {
    throw new UserError(`Input 'gitPath': '${given}' is the repository root; the task replaces what the folder holds, so give a folder that this environment owns, e.g. clusters/staging.`);
  }
  return normal;
}

function runInfo(inputs: Inputs): RunInfo {
  const v = (name: string) => inputs.variable(name);
  const collection = (v('System.CollectionUri') ?? v('System.TeamFoundationCollectionUri'))?.replace(/\/+$/, '');
  const project = v('System.TeamProject');
  const buildId = v('Build.BuildId');
  return {
    buildId,
    buildNumber: v('Build.BuildNumber'),
    definitionName: v('Build.DefinitionName') ?? v('Release.DefinitionName'),
    sourceVersion: v('Build.SourceVersion'),
    sourceBranch: v('Build.SourceBranch'),
    repositoryName: v('Build.Repository.Name'),
    runUrl: collection && project && buildId ? `${collection}/${encodeURIComponent(project)}/_build/results?buildId=${buildId}` : undefined,
  };
}
