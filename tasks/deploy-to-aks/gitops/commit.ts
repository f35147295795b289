import { randomBytes } from 'node:crypto';
import { UserError } from '../../common/errors';
import type { TaskLog } from '../../common/log';
import { backoffDelay, sleep } from '../../common/retry';
import { StaleBranchError, type FileChange, type GitOpsRepository } from './azureRepos';
import type { GitOpsOptions, RunInfo } from './options';
import { gitBlobId, type RenderedFile } from './render';

export interface FileReport {
  path: string;
  action: 'added' | 'changed' | 'deleted' | 'unchanged';
}

export interface CommitOutcome {
  files: FileReport[];
  /** Undefined when the folder already held exactly the rendered objects. */
  commit?: string;
  /** Without a commit: the branch tip that already holds them, which Flux must have applied. */
  holdingTip?: string;
  /** When the commit landed on the branch Flux follows, or the pull request was created (ms). */
  at: number;
  pullRequest?: { id: number; url: string; sourceBranch: string };
  branch: string;
}

/** How often a push that found its branch moved by someone else is re-read and tried again. */
const STALE_ATTEMPTS = 5;

/** Files Flux builds from a folder: everything else in it (a README, .gitkeep) is left alone. */
const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/** The changes that make `folder` hold exactly `rendered`: adds, edits of changed blobs, deletes of stale files. */
export function planChanges(rendered: RenderedFile[], existing: Map<string, string>): { changes: FileChange[]; files: FileReport[] } {
  const changes: FileChange[] = [];
  const files: FileReport[] = [];
  const wanted = new Set(rendered.map((f) => f.path));
  for (const f of rendered) {
    const blob = existing.get(f.path);
    if (blob === undefined) changes.push({ type: 'add', path: f.path, content: f.content });
    else if (blob !== gitBlobId(f.content)) changes.push({ type: 'edit', path: f.path, content: f.content });
    files.push({ path: f.path, action: blob === undefined ? 'added' : blob !== gitBlobId(f.content) ? 'changed' : 'unchanged' });
  }
  for (const p of [...existing.keys()].sort()) {
    if (wanted.has(p) || !MANIFEST_FILE.test(p)) continue;
    changes.push({ type: 'delete', path: p });
    files.push({ path: p, action: 'deleted' });
  }
  return { changes, files };
}

/** The commit message: what changed and where it came from (the run, its build number and source commit, the digests). */
export function commitMessage(options: GitOpsOptions, app: string, images: string[], files: FileReport[]): string {
  const run: RunInfo = options.run;
  const counts = (['added', 'changed', 'deleted'] as const).map((a) => [a, files.filter((f) => f.action === a).length] as const).filter(([, n]) => n > 0);
  const lines = [
    `Deploy ${app} to ${options.path}${run.buildNumber ? ` (build ${run.buildNumber})` : ''}`,
    '',
    ...(run.definitionName || run.runUrl ? [`Pipeline: ${run.definitionName ?? 'pipeline'}${run.buildNumber ? ` run ${run.buildNumber}` : ''}${run.runUrl ? ` ${run.runUrl}` : ''}`] : []),
    ...(run.sourceVersion ? [`Source commit: ${run.sourceVersion}${run.repositoryName ? ` (${run.repositoryName}${run.sourceBranch ? ` ${run.sourceBranch}` : ''})` : ''}`] : []),
    `Files: ${counts.map(([a, n]) => `${n} ${a}`).join(', ')}`,
    ...(images.length ? ['Images:', ...images.map((i) => `- ${i}`)] : []),
    '',
    // Keeps a CI pipeline on the GitOps repository from starting for this commit (Azure Pipelines' own marker).
    '***NO_CI***',
  ];
  return lines.join('\n');
}

/**
 * Commits the rendered folder: reads the branch tip and the folder's blobs, plans the changes, and pushes them
 * (directly, or to a new branch with a pull request). A push refused because the branch moved meanwhile
 * (409 GitReferenceStaleException) is planned again on the new tip, up to STALE_ATTEMPTS times.
 */
export async function commitFolder(repo: GitOpsRepository, options: GitOpsOptions, branch: string, rendered: RenderedFile[], message: (files: FileReport[]) => string, log: TaskLog): Promise<CommitOutcome> {
  for (let attempt = 1; ; attempt++) {
    const tip = await repo.tip(branch);
    if (!tip) throw new UserError(`Input 'gitBranch': the branch '${branch}' no longer exists in '${repo.repository.name}'.`);
    const existing = await repo.folder(tip, options.path);
    const { changes, files } = planChanges(rendered, existing);
    if (changes.length === 0) return { files, branch, at: Date.now(), holdingTip: tip };
    const comment = message(files);
    try {
      if (options.change === 'push') {
        const commit = await repo.push(branch, tip, changes, comment);
        log.info(`Committed ${commit} to ${branch} of ${repo.repository.name}: ${summarize(files)}`);
        return { files, commit, branch, at: Date.now() };
      }
      const source = `deploy/${options.path.replace(/[^A-Za-z0-9._-]+/g, '-')}/${options.run.buildNumber?.replace(/[^A-Za-z0-9._-]+/g, '-') ?? 'run'}-${randomBytes(3).toString('hex')}`;
      const commit = await repo.push(source, tip, changes, comment);
      log.info(`Committed ${commit} to the new branch ${source}: ${summarize(files)}`);
      const [title, , ...body] = comment.split('\n');
      const pr = await repo.createPullRequest(source, branch, title, body.filter((l) => l !== '***NO_CI***').join('\n').trim());
      const id = pr.pullRequestId!;
      log.info(`Pull request ${id} into ${branch}: ${repo.pullRequestUrl(id)}`);
      if (options.autoComplete) {
        await repo.setAutoComplete(id, options.mergeStrategy, options.deleteSourceBranch, comment);
        log.info(`Auto-complete set on pull request ${id} (${options.mergeStrategy}) as ${repo.identity.name}: it completes once its policies pass`);
      }
      return { files, commit, branch, at: Date.now(), pullRequest: { id, url: repo.pullRequestUrl(id), sourceBranch: source } };
    } catch (err) {
      if (!(err instanceof StaleBranchError) || attempt >= STALE_ATTEMPTS) {
        if (err instanceof StaleBranchError) throw new UserError(`Branch '${branch}' of '${repo.repository.name}' kept moving: ${STALE_ATTEMPTS} pushes in a row found it updated by another client (TF401028). Try again when the other writers are done.`);
        throw err;
      }
      const delay = backoffDelay(attempt, 200, 2000);
      log.info(`Branch ${branch} was updated by another client meanwhile (TF401028); reading it again and retrying in ${delay} ms (attempt ${attempt + 1} of ${STALE_ATTEMPTS})`);
      await sleep(delay);
    }
  }
}

function summarize(files: FileReport[]): string {
  return (['added', 'changed', 'deleted'] as const).map((a) => {
    const list = files.filter((f) => f.action === a);
    return list.length ? `${list.length} ${a}` : '';
  }).filter(Boolean).join(', ');
}
