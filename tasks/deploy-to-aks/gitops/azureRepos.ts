import { GitApi, type IGitApi } from 'azure-devops-node-api/GitApi';
import { GitVersionType, PullRequestStatus, VersionControlChangeType, VersionControlRecursionType, type GitChange, type GitPullRequest } from 'azure-devops-node-api/interfaces/GitInterfaces';
import { authenticatedUser, devopsClient, devopsFailure } from '../../common/devopsConnection';
import { UserError, errorMessage, isUserError } from '../../common/errors';
import type { TaskLog } from '../../common/log';
import type { GitOpsOptions, MergeStrategy } from './options';

export type FileChange = { type: 'add' | 'edit'; path: string; content: string } | { type: 'delete'; path: string };

/** The push was refused because the branch moved since we read it (409 GitReferenceStaleException). */
export class StaleBranchError extends Error {}

const MERGE_STRATEGY = { noFastForward: 1, squash: 2, rebase: 3, rebaseMerge: 4 } as const;

/**
 * The GitOps repository through azure-devops-node-api's GitApi with the job's access token: reading a branch's
 * tip and a folder's blobs, pushing a commit, and the pull request path. Refusals become UserErrors that name the
 * permission or the policy and the identity to grant it to (gitops.md §1.6, §1.8).
 */
export class GitOpsRepository {
  private constructor(
    private readonly git: IGitApi,
    private readonly options: GitOpsOptions,
    /** The build identity: "Project Collection Build Service (org)" or "<project> Build Service (org)". */
    readonly identity: { id: string; name: string },
    readonly repository: { id: string; name: string; defaultBranch: string; webUrl: string },
  ) {}

  static async open(options: GitOpsOptions, log: TaskLog): Promise<GitOpsRepository> {
    log.secret(options.accessToken);
    const git = devopsClient(GitApi, options.collectionUri, options.accessToken);
    const where = `${options.collectionUri}${options.project}`;
    let identity: { id: string; name: string };
    try {
      const user = await authenticatedUser(git);
      identity = { id: user?.id ?? '', name: user?.providerDisplayName ?? user?.customDisplayName ?? 'the build service' };
    } catch (err) {
      const failure = devopsFailure(err);
      if (failure?.statusCode === 401 || failure?.statusCode === 203) {
        throw new UserError(`Azure DevOps (${options.collectionUri}) did not accept the job's access token (${failure.statusCode}). Check that the job's authorization scope can read the project '${options.project}'.`, { cause: err });
      }
      throw new UserError(`Azure DevOps (${options.collectionUri}) could not be reached: ${errorMessage(err)}`, { cause: err });
    }
    const repo = await git.getRepository(options.repository, options.project).catch((err: unknown) => {
      throw explain(err, `reading the repository '${options.repository}'`, options, identity);
    });
    if (!repo?.id) {
      throw new UserError(`Input 'gitRepository': the project '${options.project}' has no repository '${options.repository}', or '${identity.name}' may not read it (${where}). Check the name; when the pipeline limits job authorization scope to referenced repositories, reference this one in the pipeline (a checkout step or 'uses: repositories').`);
    }
    return new GitOpsRepository(git, options, identity, {
      id: repo.id, name: repo.name ?? options.repository, defaultBranch: (repo.defaultBranch ?? 'refs/heads/main').replace(/^refs\/heads\//, ''),
      webUrl: repo.webUrl ?? `${where}/_git/${encodeURIComponent(options.repository)}`,
    });
  }

  commitUrl(sha: string): string {
    return `${this.repository.webUrl}/commit/${sha}`;
  }

  pullRequestUrl(id: number): string {
    return `${this.repository.webUrl}/pullrequest/${id}`;
  }

  /** The branch's tip, or undefined when the branch does not exist (the filter is a prefix: pick the exact name). */
  async tip(branch: string): Promise<string | undefined> {
    const refs = await this.call(`reading branch '${branch}'`, () => this.git.getRefs(this.repository.id, this.options.project, `heads/${branch}`));
    return refs.find((r) => r.name === `refs/heads/${branch}`)?.objectId;
  }

  /** Git blob ids of the files under `folder` at a commit (none when the folder does not exist yet). */
  async folder(commit: string, folder: string): Promise<Map<string, string>> {
    const items = await this.call(`listing '${folder}'`, () => this.git.getItems(this.repository.id, this.options.project, `/${folder}`,
      VersionControlRecursionType.Full, undefined, undefined, undefined, undefined, { version: commit, versionType: GitVersionType.Commit })
      .catch((err: unknown) => {
        if (devopsFailure(err)?.statusCode === 404 || devopsFailure(err)?.result?.typeKey === 'GitItemNotFoundException') return [];
        throw err;
      }));
    const blobs = new Map<string, string>();
    for (const item of items ?? []) if (!item.isFolder && item.path && item.objectId) blobs.set(item.path.replace(/^\/+/, ''), item.objectId);
    return blobs;
  }

  /** Pushes one commit onto `branch` whose tip was `oldObjectId` (for a new branch: the commit it starts from). */
  async push(branch: string, oldObjectId: string, changes: FileChange[], comment: string): Promise<string> {
    const gitChanges: GitChange[] = changes.map((c) => c.type === 'delete'
      ? { changeType: VersionControlChangeType.Delete, item: { path: `/${c.path}` } }
      : { changeType: c.type === 'add' ? VersionControlChangeType.Add : VersionControlChangeType.Edit, item: { path: `/${c.path}` }, newContent: { content: c.content, contentType: 0 } });
    try {
      const push = await this.git.createPush({ refUpdates: [{ name: `refs/heads/${branch}`, oldObjectId }], commits: [{ comment, changes: gitChanges }] }, this.repository.id, this.options.project);
      const sha = push.commits?.[0]?.commitId ?? push.refUpdates?.[0]?.newObjectId;
      if (!sha) throw new Error('the push was accepted without a commit id');
      return sha;
    } catch (err) {
      if (devopsFailure(err)?.result?.typeKey === 'GitReferenceStaleException') throw new StaleBranchError(`branch '${branch}' moved`);
      throw explain(err, `pushing to '${branch}'`, this.options, this.identity, branch);
    }
  }

  async createPullRequest(source: string, target: string, title: string, description: string): Promise<GitPullRequest> {
    return this.call(`creating a pull request into '${target}'`, () => this.git.createPullRequest({
      sourceRefName: `refs/heads/${source}`, targetRefName: `refs/heads/${target}`, title, description: description.slice(0, 4000),
    }, this.repository.id, this.options.project), target);
  }

  /** Sets auto-complete as the build identity (a second call: create ignores autoCompleteSetBy, gitops.md §1.7). */
  async setAutoComplete(id: number, strategy: MergeStrategy, deleteSourceBranch: boolean, mergeCommitMessage: string): Promise<void> {
    await this.call(`setting auto-complete on pull request ${id}`, () => this.git.updatePullRequest({
      autoCompleteSetBy: { id: this.identity.id },
      completionOptions: { mergeStrategy: MERGE_STRATEGY[strategy], deleteSourceBranch, mergeCommitMessage, transitionWorkItems: false },
    }, this.repository.id, id, this.options.project));
  }

  async pullRequest(id: number): Promise<GitPullRequest & { state: 'active' | 'completed' | 'abandoned' }> {
    const pr = await this.call(`reading pull request ${id}`, () => this.git.getPullRequestById(id, this.options.project));
    const state = pr?.status === PullRequestStatus.Completed ? 'completed' : pr?.status === PullRequestStatus.Abandoned ? 'abandoned' : 'active';
    return { ...pr, state };
  }

  /** Whether `ancestor` is in the history of `descendant` (their merge base is `ancestor`). */
  async contains(descendant: string, ancestor: string): Promise<boolean> {
    if (descendant === ancestor) return true;
    const bases = await this.call('comparing commits', () => this.git.getMergeBases(this.repository.id, ancestor, descendant, this.options.project));
    return (bases ?? []).some((b) => b.commitId === ancestor);
  }

  private async call<T>(action: string, fn: () => Promise<T>, branch?: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw explain(err, action, this.options, this.identity, branch);
    }
  }
}

/** Permissions of Azure Repos' Git security namespace, as the Security page names them. */
const PERMISSION_NAMES: Record<string, string> = {
  GenericContribute: 'Contribute', CreateBranch: 'Create branch', PullRequestContribute: 'Contribute to pull requests', GenericRead: 'Read',
};

function explain(err: unknown, action: string, options: GitOpsOptions, identity: { name: string }, branch?: string): Error {
  if (isUserError(err)) return err;
  const failure = devopsFailure(err);
  const repo = options.repository;
  const text = failure?.result?.message ?? failure?.message ?? errorMessage(err);
  const permission = /Git '(\w+)' permission/.exec(text)?.[1];
  if (failure?.statusCode === 403 && permission) {
    const name = PERMISSION_NAMES[permission] ?? permission;
    return new UserError(`Azure Repos refused ${action}: '${identity.name}' lacks the '${name}' permission on the repository '${repo}'. In Project settings > Repositories > ${repo} > Security, set '${name}' to Allow for '${identity.name}'. (${text})`, { cause: err });
  }
  if (/TF402455/.test(text) || failure?.result?.typeKey === 'GitRefUpdateRejectedByPolicyException') {
    return new UserError(`Azure Repos refused ${action}: a branch policy on '${branch ?? options.branch}' of '${repo}' requires changes to come through a pull request (TF402455). Set gitChange to pullRequest, or let '${identity.name}' bypass policies when pushing. (${text})`, { cause: err });
  }
  if (failure?.statusCode === 401) {
    return new UserError(`Azure Repos refused ${action}: the job's access token was not accepted (401). Check the job's authorization scope.`, { cause: err });
  }
  return new UserError(`Azure Repos: ${action} in '${repo}' failed${failure?.statusCode ? ` (${failure.statusCode})` : ''}: ${text}`, { cause: err });
}
