import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { RepositoryRecord } from '../env/repos/azureRepos';
import { runTask, type RunOptions, type TaskRun } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions, type AzureCredentialKind } from '../helpers/connections';
import type { DeployFixture } from './deploy-to-aks-fixture';

const exec = promisify(execFile);

/** The pipeline variables of a run: what the commit message and pull request description must carry. */
export const RUN_VARIABLES = {
  'Build.BuildId': '4711', 'Build.BuildNumber': '20260301.7', 'Build.DefinitionName': 'shop-cd',
  'Build.SourceVersion': '5f2c1d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e', 'Build.Repository.Name': 'shop', 'Build.SourceBranch': 'refs/heads/main',
};

export function gitopsRepository(f: DeployFixture): RepositoryRecord {
  return f.env.flux.repository;
}

/**
 * Runs the built task in GitOps mode against a cluster's Flux, with an AzureRM connection (a service principal
 * with a secret unless told) and the job's variables, as the agent does.
 */
export function runGitOps(f: DeployFixture, key: 'staging' | 'production', inputs: Record<string, string | boolean | number | undefined>,
  extra: Partial<RunOptions> & { credential?: AzureCredentialKind } = {}): Promise<TaskRun> {
  const cluster = f.env.info.clusters[key];
  const { id, options } = azureRmConnection(f.env, extra.credential ?? 'secret');
  return runTask('deploy-to-aks', mergeRunOptions(options, {
    caFile: f.env.ca.caCertPath,
    timeoutMs: 90_000,
    systemAccessToken: f.env.devops.accessToken,
    variables: {
      ...RUN_VARIABLES, 'System.CollectionUri': f.env.devops.collectionUri, 'System.TeamProject': f.env.devops.project,
      'System.TeamProjectId': f.env.devops.projectId,
    },
    inputs: {
      deliveryMode: 'gitops', azureSubscription: id, resourceGroup: cluster.resourceGroup, kubernetesCluster: cluster.name,
      gitRepository: 'shop-gitops', gitPath: cluster.gitPath, ...inputs,
    },
  }, extra));
}

/** Clones the GitOps repository with real git, authenticating as the agent does (the job token in http.extraheader). */
export async function cloneGitOps(f: DeployFixture): Promise<{ dir: string; git: (...args: string[]) => Promise<string> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gitops-clone-'));
  const env = { ...process.env, GIT_SSL_CAINFO: f.env.ca.caCertPath, GIT_TERMINAL_PROMPT: '0' };
  const url = f.env.info.devops.repositories['shop-gitops'].cloneUrl;
  await exec('git', ['-c', `http.extraheader=AUTHORIZATION: bearer ${f.env.devops.accessToken}`, 'clone', '--quiet', url, dir], { env });
  return { dir, git: async (...args) => (await exec('git', ['-C', dir, ...args], { env })).stdout };
}
