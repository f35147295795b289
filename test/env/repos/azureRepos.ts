import { randomBytes, randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { Exchange, Router } from '../http';
import { BareRepository, ZERO_SHA, type FileChange, type Signature } from './bareRepository';
import { serveGit } from './httpBackend';

/** Permissions of the Git security namespace that the build identity may be denied (Azure Repos' names). */
export type GitPermission = 'GenericContribute' | 'CreateBranch' | 'PullRequestContribute' | 'GenericRead';

export interface BranchPolicy {
  /** "Require a minimum number of reviewers" and the like: direct pushes are refused (TF402455). */
  requirePullRequest: boolean;
  /** Reviewers that must approve before a pull request completes ("Automatically included reviewers", required). */
  requiredReviewers: { id: string; displayName: string }[];
}

export interface Identity {
  id: string;
  displayName: string;
  uniqueName: string;
}

export interface GitStatusRecord {
  id: number;
  state: string;
  description?: string;
  targetUrl?: string;
  context: { name: string; genre?: string };
  creationDate: string;
  createdBy: Identity;
}

interface Reviewer extends Identity {
  vote: number;
  isRequired: boolean;
}

export interface PullRequestRecord {
  pullRequestId: number;
  repository: RepositoryRecord;
  sourceRefName: string;
  targetRefName: string;
  title: string;
  description: string;
  status: 'active' | 'abandoned' | 'completed';
  createdBy: Identity;
  creationDate: string;
  closedDate?: string;
  reviewers: Reviewer[];
  autoCompleteSetBy?: Identity;
  completionOptions?: { mergeStrategy?: string; deleteSourceBranch?: boolean; mergeCommitMessage?: string };
  lastMergeSourceCommit: string;
  lastMergeTargetCommit: string;
  lastMergeCommit?: string;
  mergeStatus: 'succeeded' | 'conflicts' | 'queued';
}

export interface RepositoryRecord {
  id: string;
  name: string;
  defaultBranch: string;
  git: BareRepository;
  policies: Map<string, BranchPolicy>;
  /** Permissions the build identity is denied on this repository. */
  denied: Set<GitPermission>;
  statuses: Map<string, GitStatusRecord[]>;
  /** Successful pushes through the REST API, newest last (tests count them). */
  pushes: { pushId: number; ref: string; commit: string }[];
}

/** A personal access token: a user's secret for git over HTTPS (any username, the token as basic password). */
export interface PersonalAccessToken {
  token: string;
  identity: Identity;
  revoked: boolean;
}

const GIT_AREA_ID = '4e080c62-fa21-4fbc-8fef-2a10a2b38049';
/** Location ids of GitApi 17.0.1 (api/GitApi.ts) with the route templates of the REST reference's URLs. */
const GIT_LOCATIONS: [string, string, string, number][] = [
  ['225f7195-f9c7-4d14-ab28-a83f7ff77e1f', 'repositories', '{project}/_apis/{area}/repositories/{repositoryId}', 2],
  ['2d874a60-a811-4f62-9c9f-963a6ea0a55b', 'refs', '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{*filter}', 2],
  ['ea98d07b-3c87-4971-8ede-a613694ffb55', 'pushes', '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{pushId}', 3],
  ['fb93c0db-47ed-4a31-8c20-47552878fb44', 'items', '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{*path}', 1],
  ['9946fd70-0d40-406e-b686-b4744cbbcc37', 'pullRequests', '{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{pullRequestId}', 2],
  ['01a46dea-7d46-4d40-bc84-319e7c260d99', 'pullRequests', '{project}/_apis/{area}/{resource}/{pullRequestId}', 2],
  ['428dd4fb-fda5-4722-af02-9313b80305da', 'statuses', '{project}/_apis/{area}/repositories/{repositoryId}/commits/{commitId}/{resource}', 2],
  ['7cf2abb6-c964-4f7e-9872-f78c66e72e9c', 'mergeBases', '{project}/_apis/{area}/repositories/{repositoryNameOrId}/commits/{commitId}/{resource}', 1],
];

/** GitInterfaces enums: the client sends numbers, the service's documentation strings; both are accepted. */
const CHANGE_TYPES: Record<string, string> = { 1: 'add', 2: 'edit', 16: 'delete', add: 'add', edit: 'edit', delete: 'delete' };
const MERGE_STRATEGIES: Record<string, string> = { 1: 'noFastForward', 2: 'squash', 3: 'rebase', 4: 'rebaseMerge' };
const PR_STATUSES: Record<string, PullRequestRecord['status']> = { 1: 'active', 2: 'abandoned', 3: 'completed' };
const STATUS_STATES: Record<string, string> = { 0: 'notSet', 1: 'pending', 2: 'succeeded', 3: 'failed', 4: 'error', 5: 'notApplicable', 6: 'partiallySucceeded' };

/** An Azure DevOps error in the service's envelope, so the client's `err.result.typeKey` works. */
class DevOpsError extends Error {
  constructor(readonly status: number, readonly typeKey: string, message: string) {
    super(message);
  }
}

/**
 * Azure Repos on the Azure DevOps emulator: the REST surface azure-devops-node-api's GitApi uses (location and
 * resource-area negotiation, connection data, repositories, refs, pushes, items, pull requests with auto-complete
 * and branch policies, commit statuses, merge bases) over HTTPS with the job's access token, backed by real bare
 * repositories that `git http-backend` serves for cloning and fetching at `{org}/{project}/_git/{repo}` to the job
 * token or a personal access token (how Flux's source-controller fetches). Facts and error texts:
 * ../shared/reference/gitops.md §1 and §6.
 */
export class AzureRepos {
  readonly repositories = new Map<string, RepositoryRecord>();
  readonly pullRequests = new Map<number, PullRequestRecord>();
  /** The identity the job's access token stands for. */
  readonly buildIdentity: Identity;
  /** Runs once when the next push arrives, before it is checked: how a test makes another client win the race. */
  beforeNextPush?: (repo: RepositoryRecord) => Promise<void>;
  /** Requests for git-upload-pack (a fetch's ref advertisement, and its POST when it needs objects), by identity uniqueName. */
  readonly uploadPacks = new Map<string, number>();
  /** Personal access tokens by their value. */
  readonly personalAccessTokens = new Map<string, PersonalAccessToken>();
  private nextPush = 1;
  private nextPullRequest = 1;
  private nextStatus = 1;

  constructor(
    private readonly options: { organization: string; project: string; projectId: string; accessToken: () => string; baseUrl: () => string; dir: string },
  ) {
    const id = randomUUID();
    this.buildIdentity = { id, displayName: `Project Collection Build Service (${options.organization})`, uniqueName: `Build\\${id}` };
  }

  async addRepository(name: string, defaultBranch = 'main'): Promise<RepositoryRecord> {
    const git = await BareRepository.create(path.join(this.options.dir, `${name}.git`), defaultBranch, `# ${name}\n\nDesired state of the shop's clusters, reconciled by Flux.\n`);
    const record: RepositoryRecord = { id: randomUUID(), name, defaultBranch, git, policies: new Map(), denied: new Set(), statuses: new Map(), pushes: [] };
    this.repositories.set(name.toLowerCase(), record);
    return record;
  }

  cloneUrl(repo: RepositoryRecord): string {
    return `${this.options.baseUrl()}/${this.options.organization}/${encodeURIComponent(this.options.project)}/_git/${encodeURIComponent(repo.name)}`;
  }

  /** Mints a personal access token for a user, as a person does in User settings > Personal access tokens. */
  issuePersonalAccessToken(displayName: string): PersonalAccessToken {
    const id = randomUUID();
    // 52 characters, the length of the tokens Azure DevOps issued for years.
    const pat: PersonalAccessToken = { token: randomBytes(26).toString('hex'), identity: { id, displayName, uniqueName: `${displayName.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@contoso.example` }, revoked: false };
    this.personalAccessTokens.set(pat.token, pat);
    return pat;
  }

  /** Revokes a personal access token: git requests that carry it are refused from then on (TF400813). */
  revokePersonalAccessToken(token: string): void {
    const pat = this.personalAccessTokens.get(token);
    if (pat) pat.revoked = true;
  }

  /** Another client's commit straight onto a branch (a person, another pipeline): what makes our next push stale. */
  async commitAs(repo: RepositoryRecord, branch: string, changes: FileChange[], message: string, author: Signature): Promise<string> {
    const ref = `refs/heads/${branch}`;
    const tip = (await repo.git.resolve(ref))!;
    const sha = await repo.git.commit(tip, changes, message, author);
    if (!(await repo.git.updateRef(ref, sha, tip))) throw new Error(`${ref} moved while committing`);
    return sha;
  }

  /** A reviewer approves (vote 10); auto-complete then goes ahead if nothing else is missing. */
  async approve(pullRequestId: number, reviewerId: string): Promise<void> {
    const pr = this.pullRequests.get(pullRequestId);
    const reviewer = pr?.reviewers.find((r) => r.id === reviewerId);
    if (!pr || !reviewer) throw new Error(`no reviewer ${reviewerId} on pull request ${pullRequestId}`);
    reviewer.vote = 10;
    await this.tryComplete(pr);
  }

  /** Records a commit status as the REST API does (Flux's notification provider posts them). */
  postStatus(repo: RepositoryRecord, sha: string, status: { state: string; description?: string; targetUrl?: string; context: { name: string; genre?: string } }, by: Identity): GitStatusRecord {
    const record: GitStatusRecord = { id: this.nextStatus++, ...status, creationDate: new Date().toISOString(), createdBy: by };
    repo.statuses.set(sha, [...(repo.statuses.get(sha) ?? []), record]);
    return record;
  }

  /** Adds the REST and Git routes to the Azure DevOps emulator's router. */
  addRoutes(router: Router): void {
    const repo = '/:org/:project/_apis/git/repositories/:repo';
    const guarded = (handler: (x: Exchange) => Promise<void> | void) => async (x: Exchange) => {
      try {
        if (x.bearerToken() !== this.options.accessToken()) {
          return x.send(401, '', { 'www-authenticate': 'Bearer authorization_uri=https://login.microsoftonline.com/common', 'x-tfs-processid': randomUUID() });
        }
        await handler(x);
      } catch (err) {
        if (!(err instanceof DevOpsError)) throw err;
        x.sendJson(err.status, { $id: '1', innerException: null, message: err.message, typeName: `Microsoft.TeamFoundation.Git.Server.${err.typeKey}, Microsoft.TeamFoundation.Git.Server`, typeKey: err.typeKey, errorCode: 0, eventId: 3000 });
      }
    };
    router.add('OPTIONS', '/:org/_apis/Location', guarded((x) => x.sendJson(200, {
      count: 1,
      value: [{ id: 'e81700f7-3be2-46de-8624-2eb35882fcaa', area: 'Location', resourceName: 'ResourceAreas', routeTemplate: '_apis/{resource}/{areaId}', resourceVersion: 1, minVersion: '3.2', maxVersion: '7.2', releasedVersion: '0.0' }],
    })));
    // No resource areas: every area lives at the collection URL, as on an Azure DevOps Server collection.
    router.add('GET', '/:org/_apis/ResourceAreas', guarded((x) => x.sendJson(200, { count: 0, value: [] })));
    router.add('GET', '/:org/_apis/ResourceAreas/:id', guarded((x) => {
      if (x.params.id.toLowerCase() !== GIT_AREA_ID) return x.sendJson(404, { message: `Resource area ${x.params.id} not found.`, typeKey: 'ResourceAreaNotFoundException' });
      x.sendJson(200, { id: GIT_AREA_ID, name: 'git', locationUrl: `${x.baseUrl}/${this.options.organization}/` });
    }));
    router.add('OPTIONS', '/:org/_apis/git', guarded((x) => x.sendJson(200, {
      count: GIT_LOCATIONS.length,
      value: GIT_LOCATIONS.map(([id, resourceName, routeTemplate, resourceVersion]) => ({
        id, area: 'git', resourceName, routeTemplate, resourceVersion, minVersion: '1.0', maxVersion: '7.2', releasedVersion: '7.1',
      })),
    })));
    router.add('GET', '/:org/_apis/connectionData', guarded((x) => x.sendJson(200, {
      authenticatedUser: this.identityJson(this.buildIdentity), authorizedUser: this.identityJson(this.buildIdentity),
      instanceId: randomUUID(), deploymentType: 'hosted', locationServiceData: { serviceOwner: '00025394-6065-48ca-87d9-7f5672854ef7' },
    })));

    router.add('GET', repo, guarded((x) => x.sendJson(200, this.repositoryJson(this.repository(x), x))));
    router.add('GET', `${repo}/refs`, guarded((x) => this.getRefs(x)));
    router.add('POST', `${repo}/pushes`, guarded((x) => this.createPush(x)));
    router.add('GET', `${repo}/items`, guarded((x) => this.getItems(x)));
    router.add('POST', `${repo}/pullRequests`, guarded((x) => this.createPullRequest(x)));
    router.add('GET', `${repo}/pullRequests/:id`, guarded((x) => x.sendJson(200, this.pullRequestJson(this.pullRequest(x), x))));
    router.add('PATCH', `${repo}/pullRequests/:id`, guarded((x) => this.updatePullRequest(x)));
    router.add('GET', '/:org/:project/_apis/git/pullRequests/:id', guarded((x) => x.sendJson(200, this.pullRequestJson(this.pullRequest(x), x))));
    router.add('GET', `${repo}/commits/:sha/statuses`, guarded((x) => this.getStatuses(x)));
    router.add('POST', `${repo}/commits/:sha/statuses`, guarded((x) => this.createStatus(x)));
    router.add('GET', `${repo}/commits/:sha/mergeBases`, guarded((x) => this.getMergeBases(x)));

    // Smart HTTP for git clients, with the agent's `http.extraheader` bearer header, or the job token or a
    // personal access token as basic password (Flux's GitRepository secret).
    const git = async (x: Exchange) => {
      const identity = this.gitIdentity(x);
      if (!identity) {
        return x.send(401, 'TF400813: The user is not authorized to access this resource.\n', { 'www-authenticate': 'Basic realm="https://dev.azure.com/"', 'content-type': 'text/plain' });
      }
      const record = this.repositories.get(x.params.repo.replace(/\.git$/, '').toLowerCase());
      if (!record || !this.isProject(x.params.project)) return x.send(404, `TF401019: The Git repository with name or identifier ${x.params.repo} does not exist or you do not have permissions for the operation you are attempting.\n`);
      if (x.params.rest === 'git-upload-pack' || x.query('service') === 'git-upload-pack') this.uploadPacks.set(identity.uniqueName, (this.uploadPacks.get(identity.uniqueName) ?? 0) + 1);
      await serveGit(x, record.git.dir, x.params.rest, identity.uniqueName);
    };
    router.add('GET', '/:org/:project/_git/:repo/*rest', git);
    router.add('POST', '/:org/:project/_git/:repo/*rest', git);
  }

  /** Who a git request authenticates as: the job (its token as bearer or basic password) or a live PAT's user. */
  private gitIdentity(x: Exchange): Identity | undefined {
    const password = x.basicCredentials()?.password;
    if (x.bearerToken() === this.options.accessToken() || password === this.options.accessToken()) return this.buildIdentity;
    const pat = password === undefined ? undefined : this.personalAccessTokens.get(password);
    return pat && !pat.revoked ? pat.identity : undefined;
  }

  // ---- handlers

  private async getRefs(x: Exchange): Promise<void> {
    const record = this.repository(x);
    const filter = x.query('filter');
    // The filter is a prefix of the name without "refs/" (git.json 7.1: "starts with").
    const refs = (await record.git.refs()).filter((r) => !filter || r.name.slice('refs/'.length).startsWith(filter));
    x.sendJson(200, { count: refs.length, value: refs.map((r) => ({ name: r.name, objectId: r.sha, creator: this.identityJson(this.buildIdentity), url: `${this.repositoryUrl(record, x)}/refs?filter=${encodeURIComponent(r.name.slice(5))}` })) });
  }

  private async createPush(x: Exchange): Promise<void> {
    const record = this.repository(x);
    const body = await x.json<{ refUpdates?: { name?: string; oldObjectId?: string }[]; commits?: { comment?: string; author?: Signature; changes?: unknown[] }[] }>();
    const update = body?.refUpdates?.[0];
    const commits = body?.commits ?? [];
    if (!update?.name || !update.oldObjectId || body?.refUpdates?.length !== 1 || commits.length === 0) {
      throw new DevOpsError(400, 'InvalidArgumentValueException', 'The push must name one ref update with its oldObjectId and hold at least one commit.');
    }
    this.require(record, 'GenericContribute', 'repository');
    const hook = this.beforeNextPush;
    this.beforeNextPush = undefined;
    await hook?.(record);
    const ref = update.name;
    const branch = ref.replace(/^refs\/heads\//, '');
    const tip = await record.git.resolve(ref);
    let parent: string | undefined;
    if (tip) {
      if (update.oldObjectId !== tip) throw stale(ref);
      parent = tip;
    } else {
      this.require(record, 'CreateBranch', 'branch');
      // A new branch names the commit to branch from (pushes8 example); zeros only for an empty repository.
      if (update.oldObjectId !== ZERO_SHA) {
        if (!(await record.git.commitExists(update.oldObjectId))) {
          throw new DevOpsError(400, 'GitObjectNotFoundException', `TF401035: The object '${update.oldObjectId}' does not exist.`);
        }
        parent = update.oldObjectId;
      }
    }
    const policy = record.policies.get(branch);
    if (policy?.requirePullRequest) {
      throw new DevOpsError(403, 'GitRefUpdateRejectedByPolicyException', `TF402455: Pushes to this branch are not permitted; you must use a pull request to update this branch.`);
    }
    let head = parent;
    const made: string[] = [];
    for (const commit of commits) {
      const changes = await this.changesOf(record, head, commit.changes ?? []);
      const author = commit.author?.name && commit.author.email ? commit.author : this.signature();
      head = await record.git.commit(head, changes, commit.comment?.endsWith('\n') ? commit.comment : `${commit.comment ?? ''}\n`, author);
      made.push(head);
    }
    if (!(await record.git.updateRef(ref, head!, tip ?? ZERO_SHA))) throw stale(ref);
    const pushId = this.nextPush++;
    record.pushes.push({ pushId, ref, commit: head! });
    const infos = await Promise.all(made.map((sha) => record.git.info(sha)));
    x.sendJson(201, {
      commits: infos.map((c) => ({
        commitId: c.sha, treeId: c.tree, parents: c.parents, comment: c.message,
        author: { name: c.author.name, email: c.author.email, date: c.author.date.toISOString() },
        committer: { name: c.committer.name, email: c.committer.email, date: c.committer.date.toISOString() },
        url: `${this.repositoryUrl(record, x)}/commits/${c.sha}`,
      })),
      refUpdates: [{ repositoryId: record.id, name: ref, oldObjectId: tip ?? ZERO_SHA, newObjectId: head }],
      repository: this.repositoryJson(record, x), pushedBy: this.identityJson(this.buildIdentity), pushId, date: new Date().toISOString(),
      url: `${this.repositoryUrl(record, x)}/pushes/${pushId}`,
    });
  }

  /** The push's changes as file changes, refused as the service refuses them when they do not fit the parent's tree. */
  private async changesOf(record: RepositoryRecord, parent: string | undefined, raw: unknown[]): Promise<FileChange[]> {
    const existing = new Set(parent ? (await record.git.tree(parent)).map((e) => e.path) : []);
    const seen = new Set<string>();
    const out: FileChange[] = [];
    for (const c of raw as { changeType?: string | number; item?: { path?: string }; newContent?: { content?: string; contentType?: string | number } }[]) {
      const type = CHANGE_TYPES[String(c.changeType)];
      const p = c.item?.path?.replace(/^\/+/, '');
      if (!type || !p || p.split('/').some((s) => s === '..' || s === '.' || s === '')) {
        throw new DevOpsError(400, 'InvalidArgumentValueException', `The change ${JSON.stringify({ changeType: c.changeType, path: c.item?.path })} is not valid: give changeType add, edit or delete and an absolute item path.`);
      }
      if (seen.has(p)) throw new DevOpsError(400, 'InvalidArgumentValueException', `The path '/${p}' is changed more than once in this commit.`);
      seen.add(p);
      if (type === 'add' && existing.has(p)) throw new DevOpsError(400, 'InvalidArgumentValueException', `TF402457: The path '/${p}' already exists; use changeType edit.`);
      if (type !== 'add' && !existing.has(p)) throw new DevOpsError(400, 'InvalidArgumentValueException', `TF401174: The item '/${p}' could not be found in the repository '${record.name}' at the version of the ref update.`);
      if (type === 'delete') {
        out.push({ type: 'delete', path: p });
        continue;
      }
      const base64 = String(c.newContent?.contentType) === '1' || String(c.newContent?.contentType).toLowerCase() === 'base64encoded';
      out.push({ type: 'put', path: p, content: Buffer.from(c.newContent?.content ?? '', base64 ? 'base64' : 'utf8') });
    }
    return out;
  }

  private async getItems(x: Exchange): Promise<void> {
    const record = this.repository(x);
    const version = x.query('versionDescriptor.version') ?? record.defaultBranch;
    const versionType = x.query('versionDescriptor.versionType') ?? '0';
    const commit = ['2', 'commit'].includes(versionType.toLowerCase()) ? version : await record.git.resolve(`refs/heads/${version}`);
    if (!commit || !(await record.git.commitExists(commit))) {
      throw new DevOpsError(404, 'GitUnresolvableToCommitException', `TF401175:The version descriptor <Branch: ${version} > could not be resolved to a version commit.`);
    }
    const single = x.query('path');
    const target = (single ?? x.query('scopePath') ?? '/').replace(/^\/+|\/+$/g, '');
    const entries = await record.git.tree(commit, target);
    const item = (p: string, objectId: string, isFolder: boolean) => ({
      objectId, gitObjectType: isFolder ? 'tree' : 'blob', commitId: commit, path: `/${p}`, ...(isFolder ? { isFolder: true } : {}),
      url: `${this.repositoryUrl(record, x)}/items?path=${encodeURIComponent(`/${p}`)}&versionType=Commit&version=${commit}`,
    });
    const notFound = () => new DevOpsError(404, 'GitItemNotFoundException', `TF401174: The item '/${target}' could not be found in the repository '${record.name}' at the version specified by '<Branch: ${version} >' (resolved to commit '${commit}').`);
    const file = entries.find((e) => e.path === target);
    if (single !== undefined && file) {
      const content = (await record.git.read(commit, target))!;
      if (/octet-stream|text\/plain/.test(x.header('accept') ?? '') || x.query('download') === 'true') return x.send(200, content, { 'content-type': 'application/octet-stream' });
      return x.sendJson(200, { ...item(target, file.sha, false), ...(x.query('includeContent') === 'true' ? { content: content.toString('utf8') } : {}) });
    }
    const under = entries.filter((e) => !target || e.path.startsWith(`${target}/`));
    if (target && under.length === 0) throw notFound();
    if (single !== undefined) return x.sendJson(200, item(target, '', true));
    const level = (x.query('recursionLevel') ?? '0').toLowerCase();
    const full = level === '120' || level === 'full';
    const relative = (p: string) => (target ? p.slice(target.length + 1) : p);
    const files = under.filter((e) => full || (level === '1' || level === 'onelevel' ? !relative(e.path).includes('/') : false));
    const folders = new Set<string>();
    if (full || level === '1' || level === 'onelevel') {
      for (const e of under) {
        const parts = relative(e.path).split('/').slice(0, -1);
        for (let i = 1; i <= parts.length && (full || i === 1); i++) folders.add([target, ...parts.slice(0, i)].filter(Boolean).join('/'));
      }
    }
    const value = [item(target, '', true), ...[...folders].map((f) => item(f, '', true)), ...files.map((e) => item(e.path, e.sha, false))];
    x.sendJson(200, { count: value.length, value });
  }

  private async createPullRequest(x: Exchange): Promise<void> {
    const record = this.repository(x);
    const body = await x.json<{ sourceRefName?: string; targetRefName?: string; title?: string; description?: string; reviewers?: { id: string }[] }>();
    this.require(record, 'PullRequestContribute', 'repository');
    const source = body?.sourceRefName;
    const target = body?.targetRefName;
    const sourceTip = source ? await record.git.resolve(source) : undefined;
    const targetTip = target ? await record.git.resolve(target) : undefined;
    if (!sourceTip || !targetTip) {
      throw new DevOpsError(400, 'GitPullRequestNotFoundException', `TF401398: The pull request cannot be created because the source and/or target branch '${!sourceTip ? source : target}' does not exist.`);
    }
    if ((body?.description ?? '').length > 4000) throw new DevOpsError(400, 'InvalidArgumentValueException', 'The pull request description is longer than 4000 characters.');
    const existing = [...this.pullRequests.values()].find((p) => p.repository === record && p.status === 'active' && p.sourceRefName === source && p.targetRefName === target);
    if (existing) throw new DevOpsError(409, 'GitPullRequestExistsException', `TF401179: An active pull request for the source and target branch already exists.`);
    const policy = record.policies.get(target!.replace(/^refs\/heads\//, ''));
    const pr: PullRequestRecord = {
      pullRequestId: this.nextPullRequest++, repository: record, sourceRefName: source!, targetRefName: target!,
      title: body?.title ?? '', description: body?.description ?? '', status: 'active', createdBy: this.buildIdentity, creationDate: new Date().toISOString(),
      reviewers: (policy?.requiredReviewers ?? []).map((r) => ({ ...r, uniqueName: r.displayName, vote: 0, isRequired: true })),
      lastMergeSourceCommit: sourceTip, lastMergeTargetCommit: targetTip,
      mergeStatus: (await record.git.mergeTree(targetTip, sourceTip)) ? 'succeeded' : 'conflicts',
    };
    this.pullRequests.set(pr.pullRequestId, pr);
    x.sendJson(201, this.pullRequestJson(pr, x));
  }

  private async updatePullRequest(x: Exchange): Promise<void> {
    const pr = this.pullRequest(x);
    const body = await x.json<{ autoCompleteSetBy?: { id?: string }; completionOptions?: { mergeStrategy?: string | number; deleteSourceBranch?: boolean; mergeCommitMessage?: string }; status?: string | number; title?: string; description?: string }>() ?? {};
    this.require(pr.repository, 'GenericContribute', 'repository');
    if (body.autoCompleteSetBy) {
      // The id must be the caller's own (gitops.md §1.7: another user's id is refused).
      if (body.autoCompleteSetBy.id !== this.buildIdentity.id) throw new DevOpsError(400, 'InvalidArgumentValueException', 'The pull request to update was not valid: autoCompleteSetBy must be the caller.');
      pr.autoCompleteSetBy = this.buildIdentity;
    }
    if (body.completionOptions) {
      const strategy = body.completionOptions.mergeStrategy;
      pr.completionOptions = {
        mergeStrategy: strategy === undefined ? undefined : MERGE_STRATEGIES[String(strategy)] ?? String(strategy),
        deleteSourceBranch: body.completionOptions.deleteSourceBranch, mergeCommitMessage: body.completionOptions.mergeCommitMessage,
      };
    }
    if (body.title !== undefined) pr.title = body.title;
    if (body.description !== undefined) pr.description = body.description;
    const status = body.status === undefined ? undefined : PR_STATUSES[String(body.status)] ?? String(body.status).toLowerCase();
    if (status === 'abandoned') {
      pr.status = 'abandoned';
      pr.closedDate = new Date().toISOString();
    }
    x.sendJson(200, this.pullRequestJson(pr, x));
    // Auto-complete runs in the background once the update has been answered, as the service's merge job does.
    if (pr.autoCompleteSetBy || status === 'completed') setTimeout(() => void this.tryComplete(pr, status === 'completed'), 50);
  }

  /** Completes a pull request whose auto-complete is set once every required reviewer approved. */
  private async tryComplete(pr: PullRequestRecord, now = false): Promise<void> {
    if (pr.status !== 'active' || !(pr.autoCompleteSetBy || now)) return;
    if (pr.reviewers.some((r) => r.isRequired && r.vote < 5)) return;
    const git = pr.repository.git;
    const source = await git.resolve(pr.sourceRefName);
    const target = await git.resolve(pr.targetRefName);
    if (!source || !target) return;
    const tree = await git.mergeTree(target, source);
    if (!tree) {
      pr.mergeStatus = 'conflicts';
      return;
    }
    const strategy = pr.completionOptions?.mergeStrategy ?? 'noFastForward';
    const message = pr.completionOptions?.mergeCommitMessage ?? `Merged PR ${pr.pullRequestId}: ${pr.title}`;
    const by = this.signature();
    let merged: string;
    if (strategy === 'rebase' && (await git.isAncestor(target, source))) merged = source;
    else if (strategy === 'squash' || strategy === 'rebase') merged = await git.commitTree(tree, [target], `${message}\n`, by);
    else merged = await git.commitTree(tree, [target, source], `${message}\n`, by);
    if (!(await git.updateRef(pr.targetRefName, merged, target))) return void setTimeout(() => void this.tryComplete(pr, now), 50);
    pr.status = 'completed';
    pr.mergeStatus = 'succeeded';
    pr.closedDate = new Date().toISOString();
    pr.lastMergeSourceCommit = source;
    pr.lastMergeTargetCommit = target;
    pr.lastMergeCommit = merged;
    if (pr.completionOptions?.deleteSourceBranch) await git.updateRef(pr.sourceRefName, ZERO_SHA, source);
  }

  private getStatuses(x: Exchange): void {
    const record = this.repository(x);
    let list = record.statuses.get(x.params.sha) ?? [];
    if (x.query('latestOnly') === 'true') {
      const latest = new Map<string, GitStatusRecord>();
      for (const s of list) latest.set(`${s.context.name}\n${s.context.genre ?? ''}`, s);
      list = [...latest.values()];
    }
    const value = [...list].reverse().map((s) => ({ ...s, createdBy: this.identityJson(s.createdBy) }));
    x.sendJson(200, { count: value.length, value });
  }

  private async createStatus(x: Exchange): Promise<void> {
    const record = this.repository(x);
    this.require(record, 'GenericContribute', 'repository');
    const body = await x.json<{ state?: string | number; description?: string; targetUrl?: string; context?: { name?: string; genre?: string } }>();
    if (!body?.context?.name) throw new DevOpsError(400, 'InvalidArgumentValueException', 'The status must have a context with a non-empty name.');
    if (!(await record.git.commitExists(x.params.sha))) throw new DevOpsError(404, 'GitCommitDoesNotExistException', `TF401175: The commit ${x.params.sha} does not exist.`);
    const state = STATUS_STATES[String(body.state)] ?? String(body.state ?? 'notSet');
    const saved = this.postStatus(record, x.params.sha, { state, description: body.description, targetUrl: body.targetUrl, context: { name: body.context.name, genre: body.context.genre } }, this.buildIdentity);
    x.sendJson(201, { ...saved, createdBy: this.identityJson(saved.createdBy) });
  }

  private async getMergeBases(x: Exchange): Promise<void> {
    const record = this.repository(x);
    const other = x.query('otherCommitId');
    for (const sha of [x.params.sha, other]) {
      if (!sha || !(await record.git.commitExists(sha))) throw new DevOpsError(404, 'GitCommitDoesNotExistException', `TF401175: The commit ${sha} does not exist.`);
    }
    const base = await record.git.mergeBase(x.params.sha, other!);
    x.sendJson(200, { count: base ? 1 : 0, value: base ? [{ commitId: base, url: `${this.repositoryUrl(record, x)}/commits/${base}` }] : [] });
  }

  // ---- lookups and shapes

  private isProject(project: string): boolean {
    const p = decodeURIComponent(project).toLowerCase();
    return p === this.options.project.toLowerCase() || p === this.options.projectId.toLowerCase();
  }

  private repository(x: Exchange): RepositoryRecord {
    const key = x.params.repo.toLowerCase();
    const record = this.isProject(x.params.project) ? (this.repositories.get(key) ?? [...this.repositories.values()].find((r) => r.id === key)) : undefined;
    if (!record || record.denied.has('GenericRead')) {
      throw new DevOpsError(404, 'GitRepositoryNotFoundException', `TF401019: The Git repository with name or identifier ${x.params.repo} does not exist or you do not have permissions for the operation you are attempting.`);
    }
    return record;
  }

  private pullRequest(x: Exchange): PullRequestRecord {
    const pr = this.pullRequests.get(Number(x.params.id));
    if (!pr || (x.params.repo && pr.repository !== this.repository(x))) {
      throw new DevOpsError(404, 'GitPullRequestNotFoundException', `TF401180: The requested pull request was not found.`);
    }
    return pr;
  }

  private require(record: RepositoryRecord, permission: GitPermission, scope: 'repository' | 'branch'): void {
    if (!record.denied.has(permission)) return;
    throw new DevOpsError(403, 'GitNeedsPermissionException', `TF401027: You need the Git '${permission}' permission to perform this action. Details: identity '${this.buildIdentity.uniqueName}', scope '${scope}'.`);
  }

  private signature(): Signature {
    return { name: this.buildIdentity.displayName, email: `${this.buildIdentity.id}@build.${this.options.organization}.example` };
  }

  private identityJson(identity: Identity) {
    return { id: identity.id, displayName: identity.displayName, uniqueName: identity.uniqueName, providerDisplayName: identity.displayName, descriptor: `svc.${Buffer.from(identity.id).toString('base64url')}`, isActive: true };
  }

  private repositoryUrl(record: RepositoryRecord, x: Exchange): string {
    return `${x.baseUrl}/${this.options.organization}/${this.options.projectId}/_apis/git/repositories/${record.id}`;
  }

  private repositoryJson(record: RepositoryRecord, x: Exchange) {
    return {
      id: record.id, name: record.name, url: this.repositoryUrl(record, x), defaultBranch: `refs/heads/${record.defaultBranch}`,
      project: { id: this.options.projectId, name: this.options.project, state: 'wellFormed', visibility: 'private' },
      remoteUrl: this.cloneUrl(record), webUrl: this.cloneUrl(record), size: 0, isDisabled: false,
    };
  }

  private pullRequestJson(pr: PullRequestRecord, x: Exchange) {
    return {
      pullRequestId: pr.pullRequestId, codeReviewId: pr.pullRequestId, repository: this.repositoryJson(pr.repository, x),
      sourceRefName: pr.sourceRefName, targetRefName: pr.targetRefName, title: pr.title, description: pr.description,
      status: pr.status, createdBy: this.identityJson(pr.createdBy), creationDate: pr.creationDate, closedDate: pr.closedDate,
      reviewers: pr.reviewers.map((r) => ({ ...this.identityJson(r), vote: r.vote, isRequired: r.isRequired })),
      autoCompleteSetBy: pr.autoCompleteSetBy ? this.identityJson(pr.autoCompleteSetBy) : undefined,
      completionOptions: pr.completionOptions, mergeStatus: pr.mergeStatus, mergeId: randomUUID(), isDraft: false, supportsIterations: true,
      lastMergeSourceCommit: { commitId: pr.lastMergeSourceCommit }, lastMergeTargetCommit: { commitId: pr.lastMergeTargetCommit },
      lastMergeCommit: pr.lastMergeCommit ? { commitId: pr.lastMergeCommit } : undefined,
      url: `${this.repositoryUrl(pr.repository, x)}/pullRequests/${pr.pullRequestId}`,
    };
  }
}

function stale(ref: string): DevOpsError {
  return new DevOpsError(409, 'GitReferenceStaleException', `TF401028: The reference '${ref}' has already been updated by another client, so you cannot update it. Please try again.`);
}
