import { UserError, errorMessage, isUserError } from '../common/errors';
import { formatImageReference } from '../common/imageReference';
import { asSentence } from '../common/format';
import { formatDuration, type TaskLog } from '../common/log';
import { Discovery, FIELD_MANAGER, applyObject, describeObject, explainApiError, objectPath, unreachable, waitForCrd, type ApplyAction, type ResourceInfo } from './apply';
import { connectToCluster } from './connect';
import { KubeApiError, type KObj, type KubeClient } from './kubeClient';
import { addImagePullSecrets, expandGlobs, imagesOf, orderForApply, parseManifests, phaseOf, substituteImages, type Manifest } from './manifests';
import { ANNOTATION_PREFIX, type DeployOptions } from './options';
import { waitError, waitForRollouts, workloadKindOf, type RolloutResult, type RolloutTarget } from './rollout';
import { runBlueGreen } from './strategies/blueGreen';
import { runCanary } from './strategies/canary';
import type { StrategyContext, StrategyOutcome } from './strategies/context';

/** The label that marks objects applied by this task for an app: what prune looks for. */
export const APP_LABEL = `${ANNOTATION_PREFIX}/app`;

export interface ObjectReport {
  kind: string;
  apiVersion: string;
  namespace?: string;
  name: string;
  action: ApplyAction | 'pruned' | 'denied' | 'skipped' | 'rolled back';
  note?: string;
}

export interface DeployResult {
  ok: boolean;
  /** Succeeded, but with something a person should look at (a superseded rollout under onSuperseded: warn). */
  withIssues?: boolean;
  /** One line for the task result. */
  reason: string;
  objects: ObjectReport[];
  rollouts: RolloutResult[];
  images: string[];
  dryRun: boolean;
  cluster: string;
  /** Canary and blue-green: the workloads of each track, the live colour, the traffic split. */
  strategy?: StrategyOutcome;
}

export interface Planned extends Manifest {
  info: ResourceInfo;
  namespaced: boolean;
}

/** Kinds prune looks at (besides those in the manifests): what apps usually ship, never Namespaces or CRDs. */
const PRUNABLE: [string, string][] = [
  ['v1', 'ConfigMap'], ['v1', 'Secret'], ['v1', 'Service'], ['v1', 'ServiceAccount'], ['v1', 'PersistentVolumeClaim'],
  ['apps/v1', 'Deployment'], ['apps/v1', 'StatefulSet'], ['apps/v1', 'DaemonSet'], ['batch/v1', 'Job'], ['batch/v1', 'CronJob'],
  ['networking.k8s.io/v1', 'Ingress'], ['networking.k8s.io/v1', 'NetworkPolicy'], ['policy/v1', 'PodDisruptionBudget'],
  ['rbac.authorization.k8s.io/v1', 'Role'], ['rbac.authorization.k8s.io/v1', 'RoleBinding'],
];

export async function run(options: DeployOptions, log: TaskLog, cwd: string): Promise<DeployResult> {
  const files = expandGlobs(options.manifests, cwd);
  const manifests = parseManifests(files, cwd);
  if (manifests.length === 0) throw new UserError(`Input 'manifests': the files (${files.length}) hold no Kubernetes objects.`);
  log.info(`Read ${manifests.length} object${manifests.length === 1 ? '' : 's'} from ${files.length} file${files.length === 1 ? '' : 's'}`);

  const session = await connectToCluster(options.connection, log);
  const client = session.client;
  try {
    log.info(`Connecting to ${session.description}${session.description.includes(client.server) ? '' : ` at ${client.server}`} with ${session.authentication}`);
    try {
      // A server that does not answer (a private cluster seen from outside its network) fails in about half a minute.
      const { body } = await client.request<{ gitVersion: string }>('GET', '/version', { attempts: 3, timeoutMs: 10_000 });
      log.info(`Kubernetes ${body.gitVersion}`);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 401) {
        throw new UserError(`${session.description}: the API server ${client.server} did not accept the task's credentials (401 Unauthorized). Check that the identity of the connection may sign in to the cluster.`, { cause: err });
      }
      throw unreachable(err, session.description, client.server);
    }
    const ctx: StrategyContext = {
      options, log, client, cluster: session.description,
      plan: () => plan(options, log, client, manifests),
      rolling: (adjust) => deploy(options, log, client, manifests, session.description, adjust),
    };
    const strategy = options.strategy;
    if (strategy.name === 'canary') return await runCanary(ctx, strategy);
    if (strategy.name === 'blueGreen') return await runBlueGreen(ctx, strategy);
    return await ctx.rolling();
  } finally {
    client.close();
  }
}

export interface Plan {
  planned: Planned[];
  images: Set<string>;
  discovery: Discovery;
  /** Kinds that CRDs in the manifests define, and what the cluster served while planning. */
  crdKinds: Map<string, ResourceInfo>;
  served: Map<string, ResourceInfo | undefined>;
}

/** Resolves every manifest's kind, defaults namespaces, substitutes images and adds pull secrets, labels and metadata. */
export async function plan(options: DeployOptions, log: TaskLog, client: KubeClient, manifests: Manifest[]): Promise<Plan> {
  const discovery = new Discovery(client);
  const defaultNamespace = options.namespace ?? client.contextNamespace ?? 'default';
  // CRDs in the manifests make their kinds known before the cluster serves them.
  const crdKinds = new Map<string, ResourceInfo>();
  for (const m of manifests) {
    if (m.obj.kind !== 'CustomResourceDefinition' || !m.obj.apiVersion.startsWith('apiextensions.k8s.io/')) continue;
    const spec = m.obj.spec ?? {};
    for (const v of spec.versions ?? []) crdKinds.set(`${spec.group}/${v.name}/${spec.names?.kind}`, { resource: spec.names?.plural, namespaced: spec.scope !== 'Cluster' });
  }
  const planned: Planned[] = [];
  // Once per kind: a kind the cluster does not serve yet (a CRD's, above) makes Discovery ask the server again.
  const served = new Map<string, ResourceInfo | undefined>();
  for (const m of manifests) {
    const { obj } = m;
    const type = `${obj.apiVersion}/${obj.kind}`;
    let info: ResourceInfo | undefined;
    try {
      if (!served.has(type)) served.set(type, await discovery.resolve(obj.apiVersion, obj.kind));
      info = served.get(type);
    } catch (err) {
      throw explainApiError(err, obj, m.source, 'discover');
    }
    info ??= crdKinds.get(type);
    if (!info) {
      throw new UserError(`Input 'manifests': ${m.source}: the cluster does not serve kind '${obj.kind}' in apiVersion '${obj.apiVersion}'. Check the apiVersion and kind, or install the CustomResourceDefinition that defines it (it may be in the manifests too).`);
    }
    if (info.namespaced) obj.metadata.namespace ??= defaultNamespace;
    else delete obj.metadata.namespace;
    planned.push({ ...m, info, namespaced: info.namespaced });
  }

  // Images, pull secrets, labels and pipeline metadata go into the applied body itself.
  const images = new Set<string>();
  for (const p of planned) {
    for (const s of substituteImages(p.obj, options.images)) log.info(`Image of ${s.object}, container '${s.container}': ${s.from} -> ${s.to}`);
    if (options.imagePullSecrets.length && addImagePullSecrets(p.obj, options.imagePullSecrets)) log.debug(`imagePullSecrets of ${describeObject(p.obj)}: ${options.imagePullSecrets.join(', ')}`);
    for (const i of imagesOf(p.obj)) images.add(i);
    p.obj.metadata.labels = { ...p.obj.metadata.labels, [APP_LABEL]: options.appName };
    p.obj.metadata.annotations = { ...p.obj.metadata.annotations, ...options.metadata };
  }
  // Every substituted container holds exactly the entry's reference, so a prefix (shop/web of shop/web-admin) is no use.
  for (const entry of options.images) {
    if (!images.has(formatImageReference(entry))) log.warn(`Input 'images': no container uses ${entry.registry}/${entry.repository} (or ${entry.repository}); it was not substituted anywhere.`);
  }
  return { planned, images, discovery, crdKinds, served };
}

/**
 * The rolling deployment: apply everything, wait for the workloads, prune. `adjust` changes the planned objects
 * before anything is applied (a strategy's labels on the new stable version).
 */
export async function deploy(options: DeployOptions, log: TaskLog, client: KubeClient, manifests: Manifest[], cluster: string, adjust?: (planned: Planned[]) => void): Promise<DeployResult> {
  const { planned, images, discovery, crdKinds, served } = await plan(options, log, client, manifests);
  adjust?.(planned);
  const newNamespaces = await checkNamespaces(client, planned, log);

  const ordered = orderForApply(planned);
  const reports: ObjectReport[] = [];
  const previous = new Map<string, KObj | undefined>();
  const applied: RolloutTarget[] = [];
  const denials: string[] = [];
  log.info(`${options.dryRun ? 'Dry run (server-side): checking' : 'Applying'} ${ordered.length} object${ordered.length === 1 ? '' : 's'} with field manager '${FIELD_MANAGER}'`);
  // Objects of one kind go out together; kinds go one after another, so that what a pod needs (its ConfigMaps,
  // Secrets, ServiceAccount) exists before the workload that starts it.
  const groups: Planned[][] = [];
  for (const p of ordered) {
    const last = groups[groups.length - 1];
    if (last && phaseOf(last[0]) === phaseOf(p) && last[0].obj.kind === p.obj.kind) last.push(p);
    else groups.push([p]);
  }
  let crdsWaited = false;
  for (const group of groups) {
    if (!crdsWaited && phaseOf(group[0]) > 1 && !options.dryRun) {
      for (const crd of ordered.filter((x) => x.obj.kind === 'CustomResourceDefinition')) await waitForCrd(client, crd.obj.metadata.name, log);
      crdsWaited = true;
    }
    const settled = await mapLimit(group, APPLY_CONCURRENCY, (p) => applyPlanned(p));
    let failure: unknown;
    for (const [i, result] of settled.entries()) {
      const p = group[i];
      const report: ObjectReport = { kind: p.obj.kind, apiVersion: p.obj.apiVersion, namespace: p.obj.metadata.namespace, name: p.obj.metadata.name, action: 'created' };
      if (result.status === 'rejected') {
        const err: unknown = result.reason;
        if (options.dryRun && isUserError(err)) {
          report.action = 'denied';
          report.note = err.message;
          denials.push(err.message);
          log.warn(err.message);
          reports.push(report);
        } else {
          failure ??= err;
        }
        continue;
      }
      const outcome = result.value;
      if ('skipped' in outcome) {
        report.action = 'skipped';
        report.note = outcome.skipped;
        log.info(`${describeObject(p.obj)}: skipped (${report.note})`);
      } else {
        report.action = outcome.action;
        previous.set(describeObject(p.obj), outcome.before);
        applied.push({ applied: { ...outcome.live, apiVersion: p.obj.apiVersion, kind: p.obj.kind }, manifest: p.obj });
        log.info(`${describeObject(p.obj)} ${outcome.action}${options.dryRun ? ' (dry run)' : ''}`);
      }
      reports.push(report);
    }
    if (failure) {
      // A refusal the author can fix ends the run with what was applied so far in the summary.
      if (!isUserError(failure)) throw failure;
      const failedAt = group.find((_, i) => settled[i].status === 'rejected')!;
      reports.push({ kind: failedAt.obj.kind, apiVersion: failedAt.obj.apiVersion, namespace: failedAt.obj.metadata.namespace, name: failedAt.obj.metadata.name, action: 'denied', note: failure.message });
      return { objects: reports, images: [...images], dryRun: false, cluster, rollouts: [], ok: false, reason: `${failure.message}${reports.length > 1 ? ` (${reports.length - 1} object${reports.length === 2 ? ' was' : 's were'} applied before it)` : ''}` };
    }
  }

  async function applyPlanned(p: Planned) {
    const pendingNamespace = options.dryRun && p.namespaced && newNamespaces.has(p.obj.metadata.namespace!);
    // A dry run creates nothing, so what the cluster served while planning still holds.
    const pendingCrd = options.dryRun && crdKinds.has(`${p.obj.apiVersion}/${p.obj.kind}`) && !served.get(`${p.obj.apiVersion}/${p.obj.kind}`);
    if (pendingNamespace || pendingCrd) {
      return {
        skipped: pendingNamespace
          ? `its namespace '${p.obj.metadata.namespace}' is created by this deployment, so the dry run cannot check it`
          : 'its CustomResourceDefinition is created by this deployment, so the dry run cannot check it',
      };
    }
    return applyObject(client, p.obj, p.info, options.dryRun, p.source);
  }

  const base = { objects: reports, images: [...images], dryRun: options.dryRun, cluster, rollouts: [] as RolloutResult[] };
  if (options.dryRun) {
    if (denials.length) {
      return { ...base, ok: false, reason: `Dry run: ${denials.length} of ${ordered.length} object${ordered.length === 1 ? ' was' : 's were'} refused; nothing was changed. ${denials[0]}` };
    }
    return { ...base, ok: true, reason: `Dry run: the cluster accepts all ${ordered.length} objects; nothing was changed.` };
  }

  // Prune runs only once the new objects are in place and ready, so a failed rollout never loses the old ones.
  const pruneNow = async () => {
    if (options.prune) reports.push(...await prune(client, discovery, planned, options.appName, log));
  };
  const workloads = applied.filter((t) => workloadKindOf(t.applied));
  if (workloads.length === 0) {
    await pruneNow();
    return { ...base, ok: true, reason: `Applied ${ordered.length} objects to ${cluster}; no workloads to wait for.` };
  }
  log.info(`Waiting for ${workloads.length} workload${workloads.length === 1 ? '' : 's'} (rolloutTimeout ${options.rolloutTimeoutSeconds} s)`);
  const started = Date.now();
  let rollouts: RolloutResult[];
  try {
    rollouts = await waitForRollouts(client, workloads, log, { timeoutSeconds: options.rolloutTimeoutSeconds, recreateStuckPods: options.recreateStuckPods });
  } catch (err) {
    throw waitError(err);
  }
  const failures = rollouts.filter((r) => r.status !== 'ready' && r.status !== 'stopped');
  const tolerated = options.onSuperseded === 'warn' && failures.every((r) => r.status === 'superseded');
  if (failures.length === 0 || tolerated) {
    await pruneNow();
    const done = `Deployed ${ordered.length} objects to ${cluster}; ${workloads.length} workload${workloads.length === 1 ? '' : 's'} ready in ${formatDuration(Date.now() - started)}.`;
    if (!tolerated) return { ...base, rollouts, ok: true, reason: done };
    for (const r of failures) log.warn(r.message);
    return { ...base, rollouts, ok: true, withIssues: true, reason: `${failures.map((r) => r.message).join(' ')} (onSuperseded: warn)` };
  }
  for (const r of failures) {
    log.info(r.message);
    for (const line of r.details) log.info(`  ${line}`);
  }
  if (options.prune) log.info('Prune skipped: the rollout failed, so the objects of the previous deployment are kept.');
  // Each failed workload is named with its own reason; one alone reads as before.
  let reason = failures.length === 1 ? failures[0].message : `${failures.length} of ${rollouts.length} workloads did not roll out: ${failures.map((r) => r.message).join(' ')}`;
  if (options.rollbackOnFailure) {
    const rolledBack = await rollback(client, planned, previous, reports, log);
    reason = rolledBack.length
      ? `${asSentence(reason)} Rolled back ${rolledBack.join(', ')} to the previous revision.`
      : `${asSentence(reason)} Nothing to roll back: no changed workload had a previous revision.`;
  }
  return { ...base, rollouts, ok: false, reason };
}

/** How many objects of one kind are applied at once. */
const APPLY_CONCURRENCY = 8;

/** Runs `fn` over `items`, at most `limit` at a time; results in the order of `items`. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i]) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Fails before anything changes when a namespace the objects need neither exists nor is in the manifests. */
async function checkNamespaces(client: KubeClient, planned: Planned[], log: TaskLog): Promise<Set<string>> {
  const created = new Set(planned.filter((p) => p.obj.kind === 'Namespace').map((p) => p.obj.metadata.name));
  const missing = new Set<string>();
  for (const ns of created) if (await namespaceExists(client, ns) === false) missing.add(ns);
  const needed = new Map<string, string[]>();
  for (const p of planned) {
    const ns = p.obj.metadata.namespace;
    if (p.namespaced && ns && !created.has(ns)) needed.set(ns, [...(needed.get(ns) ?? []), describeObject(p.obj)]);
  }
  for (const [ns, users] of needed) {
    const exists = await namespaceExists(client, ns);
    if (exists === false) {
      throw new UserError(`The namespace '${ns}' does not exist in the cluster (needed by ${users.slice(0, 3).join(', ')}${users.length > 3 ? ', …' : ''}). Add a Namespace object to the manifests, create the namespace, or change the 'namespace' input.`);
    }
    if (exists === undefined) log.debug(`namespace ${ns}: not allowed to read it; the apply will tell whether it exists`);
  }
  return missing;
}

/** Whether a namespace exists; undefined when the identity may not read namespaces (the apply will tell). */
async function namespaceExists(client: KubeClient, ns: string): Promise<boolean | undefined> {
  try {
    await client.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}`);
    return true;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return false;
    if (err instanceof KubeApiError && err.status === 403) return undefined;
    throw err;
  }
}

/** Deletes objects labelled for this app that the manifests no longer hold. */
async function prune(client: KubeClient, discovery: Discovery, planned: Planned[], app: string, log: TaskLog): Promise<ObjectReport[]> {
  const keep = new Set(planned.map((p) => `${p.obj.apiVersion}/${p.obj.kind}/${p.obj.metadata.namespace ?? ''}/${p.obj.metadata.name}`));
  const kinds = new Map<string, [string, string]>();
  for (const [v, k] of PRUNABLE) kinds.set(`${v}/${k}`, [v, k]);
  for (const p of planned) if (p.obj.kind !== 'Namespace' && p.obj.kind !== 'CustomResourceDefinition') kinds.set(`${p.obj.apiVersion}/${p.obj.kind}`, [p.obj.apiVersion, p.obj.kind]);
  const namespaces = [...new Set(planned.map((p) => p.obj.metadata.namespace).filter((n): n is string => !!n))];
  const reports: ObjectReport[] = [];
  for (const [apiVersion, kind] of kinds.values()) {
    const info = await discovery.resolve(apiVersion, kind);
    if (!info) continue;
    const query = { labelSelector: `${APP_LABEL}=${app}` };
    let found: KObj[] = [];
    try {
      found = (await client.request<{ items: KObj[] }>('GET', objectPath(apiVersion, { ...info, namespaced: false }, undefined), { query })).body.items;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 403 && info.namespaced)) throw explainApiError(err, { apiVersion, kind, metadata: { name: '*' } }, 'prune', 'list');
      for (const ns of namespaces) found.push(...(await client.request<{ items: KObj[] }>('GET', objectPath(apiVersion, info, ns), { query })).body.items);
    }
    for (const o of found) {
      const key = `${apiVersion}/${kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
      if (keep.has(key)) continue;
      if ((o.metadata.ownerReferences ?? []).length) continue;
      const obj = { ...o, apiVersion, kind };
      try {
        await client.request('DELETE', objectPath(apiVersion, info, o.metadata.namespace, o.metadata.name), { query: { propagationPolicy: 'Background' } });
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) continue;
        throw explainApiError(err, obj, 'prune', 'delete');
      }
      log.info(`${describeObject(obj)} pruned (applied earlier for app '${app}', no longer in the manifests)`);
      reports.push({ kind, apiVersion, namespace: o.metadata.namespace, name: o.metadata.name, action: 'pruned' });
    }
  }
  if (reports.length === 0) log.info(`Prune: nothing to delete for app '${app}'`);
  return reports;
}

/** Returns each changed workload to the state it had before this run, by applying that state again. */
async function rollback(client: KubeClient, planned: Planned[], previous: Map<string, KObj | undefined>, reports: ObjectReport[], log: TaskLog): Promise<string[]> {
  const done: string[] = [];
  for (const p of planned) {
    if (!['Deployment', 'StatefulSet', 'DaemonSet'].includes(p.obj.kind)) continue;
    const key = describeObject(p.obj);
    const report = reports.find((r) => r.kind === p.obj.kind && r.namespace === p.obj.metadata.namespace && r.name === p.obj.metadata.name);
    if (report?.action === 'unchanged') continue;
    const before = previous.get(key);
    if (!before) {
      log.info(`${key}: created by this run, so there is no previous revision to return to`);
      continue;
    }
    const body = restorable(before, p.obj);
    try {
      await client.request('PATCH', objectPath(p.obj.apiVersion, p.info, p.obj.metadata.namespace, p.obj.metadata.name), {
        query: { fieldManager: FIELD_MANAGER, force: 'true' }, body, contentType: 'application/apply-patch+yaml',
      });
      const revision = before.metadata.annotations?.['deployment.kubernetes.io/revision'];
      log.warn(`${key} rolled back to its previous ${revision ? `revision ${revision}` : 'state'}`);
      if (report) report.action = 'rolled back';
      done.push(key);
    } catch (err) {
      log.warn(`${key} could not be rolled back: ${errorMessage(explainApiError(err, p.obj, 'rollback', 'patch'))}`);
    }
  }
  return done;
}

/** The previous live object as an apply body: its spec, labels and annotations, without server-owned fields. */
function restorable(before: KObj, applied: KObj): KObj {
  const annotations = { ...before.metadata.annotations };
  delete annotations['deployment.kubernetes.io/revision'];
  const labels = { ...before.metadata.labels };
  if (applied.metadata.labels?.[APP_LABEL]) labels[APP_LABEL] = applied.metadata.labels[APP_LABEL];
  return {
    apiVersion: applied.apiVersion, kind: applied.kind,
    metadata: { name: before.metadata.name, namespace: before.metadata.namespace, labels, annotations },
    spec: before.spec,
  };
}
