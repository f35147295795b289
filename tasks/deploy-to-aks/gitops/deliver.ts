import { acrCredentials, createAzureCredential } from '../../common/azureCredential';
import { UserError, errorMessage, isUserError } from '../../common/errors';
import type { ImageReference } from '../../common/imageReference';
import { formatDuration, type TaskLog } from '../../common/log';
import { RegistryClient, type RegistryCredentials } from '../../common/registry/client';
import { sleep } from '../../common/retry';
import { expandGlobs, parseManifests } from '../manifests';
import { ANNOTATION_PREFIX, type DeployOptions } from '../options';
import { WORKLOAD_KINDS, type RolloutResult } from '../rollout';
import { GitOpsRepository } from './azureRepos';
import { commitFolder, commitMessage, type CommitOutcome, type FileReport } from './commit';
import { FluxConfigurations, type FluxSelection } from './fluxConfiguration';
import { judge, objectName, objectStatuses, type FluxObjectStatus, type FluxVerdict } from './fluxStatus';
import type { GitOpsOptions } from './options';
import { pinImages, renderFiles, renderObjects } from './render';
import type { RolloutWatch, watchRollouts } from '../gitopsRollouts';

export interface GitOpsResult {
  ok: boolean;
  reason: string;
  repository: string;
  branch: string;
  path: string;
  files: FileReport[];
  images: string[];
  commit?: { sha: string; url: string };
  pullRequest?: { id: number; url: string; state: string };
  /** Flux's revision that holds our change, as ARM reports it (`main@sha1:…`). */
  appliedRevision?: string;
  flux?: { configuration: string; kustomization: string; verdict: string; statuses: FluxObjectStatus[] };
  rollouts: RolloutResult[];
}

/** How often ARM is read while waiting: ARM allows 12,000 reads an hour per principal, a second apart is well within. */
const POLL_MS = 1000;
const PROGRESS_MS = 15_000;

/**
 * Delivers by GitOps: renders what a push would apply, pins images by digest, commits the folder to Azure Repos
 * (directly or by pull request), and waits through ARM until the cluster's Flux reports the commit applied and
 * healthy. Everything that can be checked is checked before anything is committed.
 */
export async function deliverByGitOps(options: DeployOptions, log: TaskLog, cwd: string, rolloutWatcher?: typeof watchRollouts): Promise<GitOpsResult> {
  const g = options.gitops!;
  const globs = expandGlobs(options.manifests, cwd);
  const manifests = parseManifests(globs, cwd);
  if (manifests.length === 0) throw new UserError(`Input 'manifests': the files (${globs.length}) hold no Kubernetes objects.`);
  const objects = renderObjects(manifests, { namespace: options.namespace, images: options.images, imagePullSecrets: options.imagePullSecrets, appLabel: [`${ANNOTATION_PREFIX}/app`, options.appName] }, log);
  log.info(`Rendered ${objects.length} object${objects.length === 1 ? '' : 's'} from ${globs.length} file${globs.length === 1 ? '' : 's'} for ${g.path}`);

  // Resolving tags (a token exchange with each registry) runs while the repository and Flux are checked.
  const pinning = pinImages(objects, registryResolver(g, log), log);
  pinning.catch(() => undefined);
  const repo = await GitOpsRepository.open(g, log);
  const branch = g.branch ?? repo.repository.defaultBranch;
  const tip = await repo.tip(branch);
  if (!tip) {
    throw new UserError(`Input 'gitBranch': the repository '${repo.repository.name}' has no branch '${branch}'. Create it, or leave gitBranch empty for the default branch '${repo.repository.defaultBranch}'.`);
  }
  log.info(`Repository ${repo.repository.name}, branch ${branch} at ${tip.slice(0, 8)}, folder ${g.path}, as ${repo.identity.name}`);

  const flux = g.flux && g.waitForReconcile ? new FluxConfigurations(g.flux, log) : undefined;
  const selection = flux ? await flux.select(repo.repository.name, branch, g.path) : undefined;
  if (selection) log.info(`Flux configuration ${selection.name} on ${flux!.cluster} reconciles it (Kustomization ${selection.kustomization}, source every ${selection.syncIntervalSeconds ?? '?'} s)`);

  const images = await pinning;
  const rendered = renderFiles(objects, g.path);
  const base: GitOpsResult = { ok: true, reason: '', repository: repo.repository.name, branch, path: g.path, files: [], images, rollouts: [] };

  const outcome = await commitFolder(repo, g, branch, rendered, (files) => commitMessage(g, options.appName, images, files), log);
  base.files = outcome.files;
  const deadline = Date.now() + g.reconcileTimeoutSeconds * 1000;
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind) && o.kind !== 'Pod');
  const watchRollouts = () => rolloutWatcher && workloads.length ? rolloutWatcher(options.connection, workloads, g.reconcileTimeoutSeconds, log) : undefined;
  if (!outcome.commit) {
    log.info(`Nothing to commit: ${g.path} on ${branch} already holds exactly these ${rendered.length} objects.`);
    const noChange = `No change: ${g.path} on ${branch} of ${repo.repository.name} already holds these ${rendered.length} objects; nothing was committed.`;
    if (!flux || !selection) return { ...base, reason: noChange };
    // Unchanged is not yet delivered: after a run that failed while Flux could not apply it, a re-run must not pass
    // unless the cluster runs it. Flux has to report the tip that holds these objects applied, as for a new commit.
    const held = await waitForFlux(options, repo, flux, selection, { sha: outcome.holdingTip!, since: 0 }, deadline, base, watchRollouts(), log);
    return held.ok ? { ...held, reason: `${noChange} ${held.reason}` } : held;
  }
  base.commit = { sha: outcome.commit, url: repo.commitUrl(outcome.commit) };
  if (outcome.pullRequest) base.pullRequest = { id: outcome.pullRequest.id, url: outcome.pullRequest.url, state: 'active' };

  if (!g.waitForReconcile || !flux || !selection) {
    const what = outcome.pullRequest ? `pull request ${outcome.pullRequest.id} (${outcome.pullRequest.url})` : `commit ${outcome.commit}`;
    return { ...base, reason: `Committed ${what}; not waiting for Flux (waitForReconcile is false).` };
  }
  let target = { sha: outcome.commit, since: outcome.at };
  if (outcome.pullRequest) {
    const merged = await waitForMerge(repo, outcome, deadline, log);
    base.pullRequest!.state = merged.state;
    if (!merged.sha) return { ...base, ok: false, reason: merged.reason };
    base.commit = { sha: merged.sha, url: repo.commitUrl(merged.sha) };
    target = { sha: merged.sha, since: merged.at };
  }
  return waitForFlux(options, repo, flux, selection, target, deadline, base, watchRollouts(), log);
}

/** Resolves a tag to its digest through the registry, with the AzureRM connection's Entra identity for ACRs. */
function registryResolver(g: GitOpsOptions, log: TaskLog): (ref: ImageReference) => Promise<string | undefined> {
  const clients = new Map<string, RegistryClient>();
  const credential = g.flux ? createAzureCredential(g.flux.azure, log) : undefined;
  return async (ref) => {
    let client = clients.get(ref.registry);
    if (!client) {
      const creds: RegistryCredentials = credential && g.flux ? acrCredentials(g.flux.azure, credential) : { kind: 'anonymous' };
      client = new RegistryClient(ref.registry, creds, log);
      clients.set(ref.registry, client);
    }
    return (await client.manifestHead(ref.repository, ref.tag ?? 'latest'))?.digest;
  };
}

/** Waits for the pull request to complete; its merge commit (squash and merge make a new one) is what Flux applies. */
async function waitForMerge(repo: GitOpsRepository, outcome: CommitOutcome, deadline: number, log: TaskLog): Promise<{ sha?: string; at: number; state: string; reason: string }> {
  const id = outcome.pullRequest!.id;
  let lastReport = Date.now();
  for (;;) {
    const pr = await repo.pullRequest(id);
    if (pr.state === 'completed') {
      const sha = pr.lastMergeCommit?.commitId ?? await repo.tip(outcome.branch);
      log.info(`Pull request ${id} completed: ${outcome.branch} is at ${sha}`);
      return { sha, at: Date.now(), state: 'completed', reason: '' };
    }
    if (pr.state === 'abandoned') return { at: Date.now(), state: 'abandoned', reason: `Pull request ${id} was abandoned (${outcome.pullRequest!.url}); nothing was delivered.` };
    const waitingFor = (pr.reviewers ?? []).filter((r) => r.isRequired && (r.vote ?? 0) < 5).map((r) => r.displayName);
    const why = waitingFor.length ? `waiting for the approval of ${waitingFor.join(', ')}` : pr.autoCompleteSetBy ? 'auto-complete set, waiting for its policies' : 'waiting for someone to complete it';
    if (Date.now() >= deadline) return { at: Date.now(), state: 'active', reason: `Pull request ${id} did not complete within reconcileTimeout: ${why} (${outcome.pullRequest!.url}).` };
    if (Date.now() - lastReport >= PROGRESS_MS) {
      log.info(`Pull request ${id}: ${why}`);
      lastReport = Date.now();
    }
    await sleep(POLL_MS);
  }
}

async function waitForFlux(options: DeployOptions, repo: GitOpsRepository, flux: FluxConfigurations, selection: FluxSelection, target: { sha: string; since: number },
  deadline: number, base: GitOpsResult, rollouts: RolloutWatch | undefined, log: TaskLog): Promise<GitOpsResult> {
  const started = Date.now();
  const contains = memo((descendant: string, ancestor: string) => repo.contains(descendant, ancestor));
  log.info(`Waiting for Flux (${selection.name}) to apply ${target.sha.slice(0, 8)} (reconcileTimeout ${options.gitops!.reconcileTimeoutSeconds} s)`);
  let said = '';
  let lastReport = 0;
  let verdict: FluxVerdict = { state: 'pending', say: 'not read yet' };
  let statuses: FluxObjectStatus[] = [];
  try {
    for (;;) {
      const config = await flux.get(selection.name);
      if (!config) throw new UserError(`Input 'fluxConfiguration': the Flux configuration '${selection.name}' was deleted from ${flux.cluster} while waiting.`);
      statuses = objectStatuses(config);
      verdict = await judge(config, { ...target, kustomization: selection.kustomization, waitingSince: started }, contains);
      const flux_ = { configuration: selection.name, kustomization: selection.kustomization, verdict: verdict.state === 'pending' ? verdict.say : verdict.state, statuses };
      if (verdict.state === 'applied') {
        const how = verdict.superseded ? `superseded by ${verdict.sha.slice(0, 8)}, which contains it: ` : '';
        log.info(`Flux applied ${verdict.revision}: ${how}Kustomization ${selection.kustomization} Ready, configuration Compliant (${formatDuration(Date.now() - started)})`);
        const failed = rollouts ? await rollouts.result() : undefined;
        if (failed) return { ...base, flux: flux_, appliedRevision: verdict.revision, rollouts: rollouts!.results(), ok: false, reason: failed };
        return {
          ...base, flux: flux_, appliedRevision: verdict.revision, rollouts: rollouts?.results() ?? [],
          reason: `Flux applied ${target.sha.slice(0, 8)} to ${flux.cluster}${verdict.superseded ? ` (in the newer ${verdict.sha.slice(0, 8)})` : ''}: ${selection.kustomization} Ready and Compliant in ${formatDuration(Date.now() - started)}.`,
        };
      }
      if (verdict.state === 'failed') {
        const details = describeObjects(verdict.objects);
        for (const line of details) log.info(`  ${line}`);
        return { ...base, flux: { ...flux_, verdict: verdict.say }, rollouts: rollouts?.results() ?? [], ok: false, reason: `${verdict.say}${details.length ? ` ${details.join('; ')}` : ''}` };
      }
      const rolloutFailure = rollouts?.failure();
      if (rolloutFailure) return { ...base, flux: flux_, rollouts: rollouts!.results(), ok: false, reason: rolloutFailure };
      if (verdict.say !== said || Date.now() - lastReport >= PROGRESS_MS) {
        log.info(`Flux ${selection.name}: ${verdict.say}`);
        said = verdict.say;
        lastReport = Date.now();
      }
      if (Date.now() >= deadline) {
        return { ...base, flux: flux_, rollouts: rollouts?.results() ?? [], ok: false, reason: `Flux did not apply ${target.sha.slice(0, 8)} within reconcileTimeout (${options.gitops!.reconcileTimeoutSeconds} s); last reading: ${verdict.say}.` };
      }
      await sleep(POLL_MS);
    }
  } catch (err) {
    if (isUserError(err)) throw err;
    throw new UserError(`Reading the Flux configuration '${selection.name}' of ${flux.cluster} failed: ${errorMessage(err)}`, { cause: err });
  } finally {
    rollouts?.stop();
  }
}

/** Each object's failing conditions, as `Deployment shop/web: Available=False MinimumReplicasUnavailable: …`. */
export function describeObjects(objects: FluxObjectStatus[]): string[] {
  return objects.filter((o) => o.complianceState !== 'Compliant').map((o) => {
    const bad = o.conditions.filter((c) => (c.type === 'Ready' || c.type === 'Available' || c.type === 'Progressing') ? c.status !== 'True' : c.status === 'True' && /Failure|Failed/.test(c.type ?? ''));
    const text = (bad.length ? bad : o.conditions).map((c) => `${c.type}=${c.status} ${c.reason ?? ''}: ${(c.message ?? '').replace(/\.$/, '')}`.trim()).join('; ');
    return `${o.kind} ${objectName(o)} ${o.complianceState}${text ? `: ${text}` : ''}`;
  });
}

function memo<A extends string[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  const cache = new Map<string, Promise<R>>();
  return (...args) => {
    const key = args.join(' ');
    let hit = cache.get(key);
    if (!hit) {
      hit = fn(...args);
      cache.set(key, hit);
      hit.catch(() => cache.delete(key));
    }
    return hit;
  };
}
