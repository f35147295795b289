import { randomUUID } from 'node:crypto';
import * as https from 'node:https';
import * as path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import type { KubeCluster } from '../kube/cluster';
import type { KObj } from '../kube/types';
import type { AzureRepos, Identity, RepositoryRecord } from '../repos/azureRepos';
import { kstatus } from './health';
import { GitSource, type GitCredential } from './source';

export interface KustomizationSpec {
  /** The key in the configuration's `kustomizations` map. */
  name: string;
  /** Repository folder, as ARM shows it (`./clusters/staging`). */
  path: string;
  prune: boolean;
  wait: boolean;
  /** The health-check timeout (`timeout`, ARM `timeoutInSeconds`). */
  timeoutInSeconds: number;
}

export interface FluxConfigurationSpec {
  name: string;
  namespace: string;
  repository: RepositoryRecord;
  branch: string;
  /** The GitRepository's secret (`httpsUser` and the protected `httpsKey`); replacing it is rotating the secret. */
  credential: GitCredential;
  syncIntervalInSeconds: number;
  /** How long one fetch may take (ARM `gitRepository.timeoutInSeconds`). */
  timeoutInSeconds: number;
  /**
   * How long a Kustomization whose attempt failed waits before it tries the same revision again (ARM
   * `retryIntervalInSeconds`, Flux's `spec.retryInterval`); a new revision is tried at the next sync whatever it is.
   * Meanwhile Ready stays False, which is how a pipeline polling the status sees the failure.
   */
  retryIntervalInSeconds: number;
  kustomizations: KustomizationSpec[];
  suspend?: boolean;
}

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface ObjectStatus {
  kind: string;
  name: string;
  namespace?: string;
  complianceState: 'Compliant' | 'Non-Compliant' | 'Pending';
  conditions: Condition[];
}

interface KustomizationState {
  lastAttemptedRevision?: string;
  /** When the last attempt failed (ms), for the retry interval. */
  failedAt?: number;
  lastAppliedRevision?: string;
  ready: Condition;
  /** Entries `<namespace>_<name>_<group>_<kind>` as Flux's inventory holds them, with the apiVersion to delete them by. */
  inventory: Map<string, { apiVersion: string; kind: string; namespace?: string; name: string }>;
  objects: ObjectStatus[];
}

export const FIELD_MANAGER = 'kustomize-controller';
const GROUP = 'kustomize.toolkit.fluxcd.io';

/**
 * A Flux stand-in for one cluster and one AKS fluxConfiguration (the `microsoft.flux` extension): every
 * `syncIntervalInSeconds` it fetches the branch over HTTPS from Azure Repos into its own copy with the
 * configuration's credential (source-controller; a failed fetch makes the GitRepository Ready=False with git's
 * message, and the Kustomizations keep what they applied), and for a new revision (or after a failure) applies
 * each Kustomization's folder to the cluster through its API by server-side apply as `kustomize-controller`,
 * prunes what the folder no longer holds, and with `wait: true` waits until every applied object is Current in
 * kstatus' terms, failing early on a stalled one and at `timeoutInSeconds` otherwise. It keeps a Kustomization object with Flux's status in the cluster, the ARM `fluxConfigurations`
 * resource's status as fluxconfig-agent reports it, and commit statuses as the `azuredevops` notification
 * provider posts them. Semantics: ../shared/reference/gitops.md §2.3-2.4 and §3.
 */
export class FluxReconciler {
  sourceSyncedCommitId?: string;
  sourceUpdatedAt?: Date;
  statusUpdatedAt?: Date;
  private sourceReady: Condition;
  private readonly states = new Map<string, KustomizationState>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private readonly abort = new AbortController();
  private gitSource?: Promise<GitSource>;
  private readonly providerUid = randomUUID();
  /** Each reconciliation's outcome, newest last (tests and benchmarks read when a revision was applied). */
  readonly history: { kustomization: string; revision: string; ready: boolean; at: number }[] = [];

  constructor(
    readonly spec: FluxConfigurationSpec,
    private readonly cluster: { kube: KubeCluster; resourceId: string },
    private readonly repos: AzureRepos,
    /** Where the copy of the repository is kept, and the CA file git trusts. */
    private readonly local: { dir: string; caFile: string },
  ) {
    this.sourceReady = condition('Ready', 'Unknown', 'Progressing', 'reconciliation in progress');
    for (const k of spec.kustomizations) {
      this.states.set(k.name, { ready: condition('Ready', 'Unknown', 'Progressing', 'reconciliation in progress'), inventory: new Map(), objects: [] });
    }
  }

  private tokenValue?: string;
  /** The flux-applier service account's token (AKS binds it to cluster-admin). */
  private token(): string {
    this.tokenValue ??= this.cluster.kube.issueToken({ name: `system:serviceaccount:${this.spec.namespace}:flux-applier`, groups: ['system:masters'] });
    return this.tokenValue;
  }

  start(): void {
    registerFluxCrds(this.cluster.kube);
    const tick = () => {
      if (this.stopped) return;
      this.running ??= this.reconcile().catch(() => undefined).finally(() => { this.running = undefined; });
    };
    tick();
    this.timer = setInterval(tick, this.spec.syncIntervalInSeconds * 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.abort.abort();
    await this.running;
    (await this.gitSource?.catch(() => undefined))?.close();
  }

  /** The fluxConfigurations resource as ARM serves it (2023-05-01 onwards). */
  resource() {
    const k8sName = (k: KustomizationSpec) => `${this.spec.name}-${k.name}`;
    const statuses = [
      { name: this.spec.name, namespace: this.spec.namespace, kind: 'GitRepository', complianceState: compliance(this.sourceReady), statusConditions: [this.sourceReady] },
      ...this.spec.kustomizations.flatMap((k) => {
        const state = this.states.get(k.name)!;
        return [
          { name: k8sName(k), namespace: this.spec.namespace, kind: 'Kustomization', complianceState: compliance(state.ready), statusConditions: [state.ready] },
          ...state.objects.map((o) => ({
            name: o.name, namespace: o.namespace, kind: o.kind, complianceState: o.complianceState, statusConditions: o.conditions,
            appliedBy: { name: k8sName(k), namespace: this.spec.namespace },
          })),
        ];
      }),
    ];
    const readies = [this.sourceReady, ...[...this.states.values()].map((s) => s.ready)];
    const complianceState = this.spec.suspend ? 'Suspended'
      : readies.some((c) => c.status === 'False') ? 'Non-Compliant'
        : readies.every((c) => c.status === 'True') ? 'Compliant' : 'Pending';
    return {
      id: `${this.cluster.resourceId}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/${this.spec.name}`,
      name: this.spec.name, type: 'Microsoft.KubernetesConfiguration/fluxConfigurations',
      systemData: { createdBy: 'admin@contoso.example', createdByType: 'User', createdAt: '2026-01-05T09:00:00Z' },
      properties: {
        scope: 'cluster', namespace: this.spec.namespace, sourceKind: 'GitRepository', suspend: this.spec.suspend ?? false,
        gitRepository: {
          url: this.repos.cloneUrl(this.spec.repository), timeoutInSeconds: this.spec.timeoutInSeconds, syncIntervalInSeconds: this.spec.syncIntervalInSeconds,
          repositoryRef: { branch: this.spec.branch, tag: null, semver: null, commit: null }, httpsUser: this.spec.credential.username, provider: 'Generic', localAuthRef: null,
        },
        kustomizations: Object.fromEntries(this.spec.kustomizations.map((k) => [k.name, {
          name: k.name, path: k.path, dependsOn: [], timeoutInSeconds: k.timeoutInSeconds, syncIntervalInSeconds: this.spec.syncIntervalInSeconds,
          retryIntervalInSeconds: this.spec.retryIntervalInSeconds, prune: k.prune, force: false, wait: k.wait,
        }])),
        statuses,
        sourceSyncedCommitId: this.sourceSyncedCommitId ?? '',
        sourceUpdatedAt: this.sourceUpdatedAt?.toISOString() ?? null,
        statusUpdatedAt: this.statusUpdatedAt?.toISOString() ?? null,
        complianceState,
        provisioningState: 'Succeeded',
        errorMessage: '',
      },
    };
  }

  /** One pass: fetch the branch, and reconcile each Kustomization whose revision is new or whose last attempt failed. */
  async reconcile(): Promise<void> {
    if (this.spec.suspend) return;
    const source = await this.source();
    let sha: string;
    try {
      sha = await source.fetch(this.spec.branch, this.spec.credential, { signal: this.abort.signal, timeoutMs: this.spec.timeoutInSeconds * 1000 });
    } catch (err) {
      if (this.stopped) return;
      // source-controller keeps the last artifact, so the Kustomizations keep what they applied.
      this.setSource(condition('Ready', 'False', 'GitOperationFailed', `failed to checkout and determine revision: unable to clone '${source.url}': ${(err as Error).message}`));
      return;
    }
    const revision = `${this.spec.branch}@sha1:${sha}`;
    if (revision !== this.sourceSyncedCommitId) {
      this.sourceSyncedCommitId = revision;
      this.sourceUpdatedAt = new Date();
    }
    if (this.sourceReady.status !== 'True' || this.sourceReady.message !== storedArtifact(revision)) this.setSource(condition('Ready', 'True', 'Succeeded', storedArtifact(revision)));
    for (const k of this.spec.kustomizations) {
      const state = this.states.get(k.name)!;
      if (state.lastAppliedRevision === revision && state.ready.status === 'True') continue;
      const retrying = state.lastAttemptedRevision === revision && state.failedAt !== undefined;
      if (retrying && Date.now() - state.failedAt! < this.spec.retryIntervalInSeconds * 1000) continue;
      await this.reconcileKustomization(k, state, sha, revision);
    }
  }

  private source(): Promise<GitSource> {
    this.gitSource ??= GitSource.create(this.local.dir, this.repos.cloneUrl(this.spec.repository), this.local.caFile);
    return this.gitSource;
  }

  private async reconcileKustomization(k: KustomizationSpec, state: KustomizationState, sha: string, revision: string): Promise<void> {
    state.lastAttemptedRevision = revision;
    state.failedAt = undefined;
    if (state.ready.status !== 'Unknown') this.setReady(k, state, condition('Ready', 'Unknown', 'Progressing', `Fetching manifests for revision ${revision} with a timeout of ${k.timeoutInSeconds}s`));
    const started = Date.now();
    let objects: KObj[];
    try {
      objects = await this.build(k, sha);
    } catch (err) {
      return this.fail(k, state, revision, (err as FluxError).reason ?? 'BuildFailed', (err as Error).message);
    }
    const inventory = new Map<string, { apiVersion: string; kind: string; namespace?: string; name: string }>();
    const applied: KObj[] = [];
    for (const obj of orderForApply(objects)) {
      const type = this.cluster.kube.typeOf(obj.apiVersion, obj.kind);
      if (!type) return this.fail(k, state, revision, 'ReconciliationFailed', `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name} dry-run failed: no matches for kind "${obj.kind}" in version "${obj.apiVersion}"`);
      if (type.namespaced) obj.metadata.namespace ??= 'default';
      else delete obj.metadata.namespace;
      obj.metadata.labels = { ...obj.metadata.labels, [`${GROUP}/name`]: `${this.spec.name}-${k.name}`, [`${GROUP}/namespace`]: this.spec.namespace };
      const { status, body } = await this.request('PATCH', objectPath(obj, type), obj, { fieldManager: FIELD_MANAGER, force: 'true' });
      if (status >= 300) {
        const message = (body as { message?: string })?.message ?? `HTTP ${status}`;
        return this.fail(k, state, revision, 'ReconciliationFailed', `${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name} dry-run failed: ${message}`);
      }
      inventory.set(`${obj.metadata.namespace ?? ''}_${obj.metadata.name}_${type.group}_${obj.kind}`, { apiVersion: obj.apiVersion, kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name });
      applied.push(obj);
    }
    if (k.prune) {
      for (const [id, entry] of state.inventory) {
        if (inventory.has(id)) continue;
        const type = this.cluster.kube.typeOf(entry.apiVersion, entry.kind);
        if (type) await this.request('DELETE', objectPath({ apiVersion: entry.apiVersion, kind: entry.kind, metadata: { name: entry.name, namespace: entry.namespace } }, type), undefined, { propagationPolicy: 'Background' });
      }
    }
    state.inventory = inventory;
    if (k.wait) {
      const verdict = await this.waitForHealth(k, state, applied, started);
      if (verdict) return this.fail(k, state, revision, 'HealthCheckFailed', verdict);
    }
    state.lastAppliedRevision = revision;
    this.setReady(k, state, condition('Ready', 'True', 'ReconciliationSucceeded', `Applied revision: ${revision}`));
    this.history.push({ kustomization: k.name, revision, ready: true, at: Date.now() });
    await this.notify(k, sha, 'succeeded', 'reconciliation succeeded');
  }

  /** Waits as `wait: true` does; returns the failure message, or undefined once every object is Current. */
  private async waitForHealth(k: KustomizationSpec, state: KustomizationState, applied: KObj[], started: number): Promise<string | undefined> {
    for (;;) {
      const verdicts = applied.map((o) => {
        const live = this.cluster.kube.get(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name);
        return { o, live, ...(live ? kstatus(live) : { status: 'InProgress' as const, message: 'Resource not found' }) };
      });
      state.objects = verdicts.filter((v) => v.live?.status?.conditions || v.status !== 'Current').map((v) => ({
        kind: v.o.kind, name: v.o.metadata.name, namespace: v.o.metadata.namespace,
        complianceState: v.status === 'Current' ? 'Compliant' : v.status === 'Failed' ? 'Non-Compliant' : 'Pending',
        conditions: ((v.live?.status?.conditions ?? []) as Condition[]).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: c.lastTransitionTime })),
      }));
      const name = (v: { o: KObj; status: string }) => `${v.o.kind}/${v.o.metadata.namespace ?? ''}/${v.o.metadata.name} status: '${v.status}'`;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const failed = verdicts.filter((v) => v.status === 'Failed');
      // fluxcd/pkg ssa WaitForSet with FailFast: a stalled object ends the wait before the timeout.
      if (failed.length) return `health check failed after ${seconds}s: failed early due to stalled resources: [${failed.map(name).join(', ')}]`;
      const pending = verdicts.filter((v) => v.status !== 'Current');
      if (pending.length === 0) return undefined;
      if (Date.now() - started > k.timeoutInSeconds * 1000) return `health check failed after ${seconds}s: timeout waiting for: [${pending.map(name).join(', ')}]`;
      if (this.stopped) return 'reconciliation stopped';
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** kustomize build of the folder: its kustomization.yaml's resources, or (as Flux generates one) every YAML file in it. */
  private async build(k: KustomizationSpec, sha: string): Promise<KObj[]> {
    const git = (await this.source()).repository;
    const folder = path.posix.normalize(k.path.replace(/^\.\//, '')).replace(/^\.$|\/+$/g, '');
    const entries = await git.tree(sha, folder);
    const under = entries.filter((e) => !folder || e.path.startsWith(`${folder}/`));
    if (folder && under.length === 0) throw new FluxError('ArtifactFailed', `kustomization path not found: stat /tmp/kustomization-${randomUUID().slice(0, 8)}/${folder}: no such file or directory`);
    const kustomization = under.find((e) => /^kustomization\.ya?ml$/.test(path.posix.relative(folder, e.path)));
    let files = under.filter((e) => /\.(ya?ml|json)$/.test(e.path) && e !== kustomization).map((e) => e.path);
    if (kustomization) {
      const spec = parseYaml((await git.read(sha, kustomization.path))!.toString('utf8')) as { resources?: string[] } | null;
      files = (spec?.resources ?? []).map((r) => path.posix.join(folder, r));
    }
    const out: KObj[] = [];
    for (const file of files.sort()) {
      const text = (await git.read(sha, file))?.toString('utf8');
      if (text === undefined) throw new FluxError('BuildFailed', `kustomize build failed: accumulating resources: '${file}' doesn't exist`);
      for (const doc of parseAllDocuments(text)) {
        if (doc.errors.length) throw new FluxError('BuildFailed', `kustomize build failed: ${file}: ${doc.errors[0].message.split('\n')[0]}`);
        const value = doc.toJS() as KObj | null;
        if (!value) continue;
        if (!value.apiVersion || !value.kind || !value.metadata?.name) throw new FluxError('BuildFailed', `kustomize build failed: ${file}: missing apiVersion, kind or metadata.name`);
        out.push(value);
      }
    }
    return out;
  }

  private async fail(k: KustomizationSpec, state: KustomizationState, revision: string, reason: string, message: string): Promise<void> {
    state.failedAt = Date.now();
    this.setReady(k, state, condition('Ready', 'False', reason, message));
    this.history.push({ kustomization: k.name, revision, ready: false, at: Date.now() });
    await this.notify(k, revision.split(':').pop()!, 'error', splitReason(reason));
  }

  private setSource(c: Condition): void {
    this.sourceReady = c.status === this.sourceReady.status && c.reason === this.sourceReady.reason ? { ...c, lastTransitionTime: this.sourceReady.lastTransitionTime } : c;
    this.statusUpdatedAt = new Date();
  }

  /** Sets the Ready condition, and the Kustomization object's status in the cluster as kustomize-controller keeps it. */
  private setReady(k: KustomizationSpec, state: KustomizationState, c: Condition): void {
    state.ready = c;
    this.statusUpdatedAt = new Date();
    const kube = this.cluster.kube;
    if (!kube.typeOf(`${GROUP}/v1`, 'Kustomization')) return;
    const name = `${this.spec.name}-${k.name}`;
    const existing = kube.get(`${GROUP}/v1`, 'Kustomization', this.spec.namespace, name);
    kube.put({
      apiVersion: `${GROUP}/v1`, kind: 'Kustomization',
      metadata: { ...(existing?.metadata ?? {}), name, namespace: this.spec.namespace, labels: { 'clusterconfig.azure.com/is-managed': 'true', 'clusterconfig.azure.com/name': this.spec.name } },
      spec: { interval: `${this.spec.syncIntervalInSeconds}s`, path: k.path, prune: k.prune, wait: k.wait, timeout: `${k.timeoutInSeconds}s`, serviceAccountName: 'flux-applier', sourceRef: { kind: 'GitRepository', name: this.spec.name } },
      status: {
        conditions: [c], lastAttemptedRevision: state.lastAttemptedRevision, lastAppliedRevision: state.lastAppliedRevision,
        inventory: { entries: [...state.inventory.keys()].map((id) => ({ id, v: 'v1' })) },
      },
    });
  }

  /**
   * A commit status as notification-controller's azuredevops provider posts it: only succeeded or error, genre
   * fluxcd, name `kustomization/<name>/<provider uid prefix>`, and nothing when the latest one already says the same.
   */
  private async notify(k: KustomizationSpec, sha: string, state: 'succeeded' | 'error', description: string): Promise<void> {
    const name = `kustomization/${this.spec.name}-${k.name}/${this.providerUid.split('-')[0]}`;
    const latest = (this.spec.repository.statuses.get(sha) ?? []).filter((s) => s.context.name === name).pop();
    if (latest && latest.state === state && latest.description === description) return;
    const flux: Identity = { id: 'flux', displayName: 'flux', uniqueName: 'flux' };
    this.repos.postStatus(this.spec.repository, sha, { state, description, context: { name, genre: 'fluxcd' } }, flux);
  }

  private request(method: string, urlPath: string, body: unknown, query: Record<string, string>): Promise<{ status: number; body: unknown }> {
    const url = new URL(urlPath, this.cluster.kube.url);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(url, {
        method, ca: this.cluster.kube.caPem,
        headers: { authorization: `Bearer ${this.token()}`, accept: 'application/json', ...(payload ? { 'content-type': 'application/apply-patch+yaml' } : {}) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = { message: text };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }
}

class FluxError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
  }
}

function storedArtifact(revision: string): string {
  return `stored artifact for revision '${revision}'`;
}

function condition(type: string, status: Condition['status'], reason: string, message: string): Condition {
  return { type, status, reason, message, lastTransitionTime: new Date().toISOString() };
}

function compliance(c: Condition): 'Compliant' | 'Non-Compliant' | 'Pending' {
  return c.status === 'True' ? 'Compliant' : c.status === 'False' ? 'Non-Compliant' : 'Pending';
}

/** `HealthCheckFailed` → `health check failed`, as the azuredevops provider words a reason. */
function splitReason(reason: string): string {
  return reason.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

function objectPath(obj: KObj, type: { group: string; version: string; resource: string; namespaced: boolean }): string {
  const prefix = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
  const ns = type.namespaced ? `/namespaces/${encodeURIComponent(obj.metadata.namespace ?? 'default')}` : '';
  return `${prefix}${ns}/${type.resource}/${encodeURIComponent(obj.metadata.name)}`;
}

/** Namespaces and CRDs first, as kustomize-controller applies them in a first stage before the rest. */
function orderForApply(objects: KObj[]): KObj[] {
  const rank = (o: KObj) => (o.kind === 'Namespace' ? 0 : o.kind === 'CustomResourceDefinition' ? 1 : 2);
  return objects.map((o, i) => ({ o, i })).sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i).map((x) => x.o);
}

/** Flux's GitRepository and Kustomization kinds, served by the cluster so `kubectl get kustomizations -A` works. */
function registerFluxCrds(kube: KubeCluster): void {
  for (const [group, kind, plural] of [['source.toolkit.fluxcd.io', 'GitRepository', 'gitrepositories'], [GROUP, 'Kustomization', 'kustomizations']]) {
    if (kube.typeOf(`${group}/v1`, kind)) continue;
    const crd: KObj = {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `${plural}.${group}` },
      spec: {
        group, scope: 'Namespaced', names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List`, shortNames: kind === 'Kustomization' ? ['ks'] : ['gitrepo'] },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } }, subresources: { status: {} } }],
      },
    };
    kube.establishCrd(kube.put(crd));
  }
  if (!kube.get('v1', 'Namespace', undefined, 'flux-system')) {
    kube.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'flux-system' }, status: { phase: 'Active' } });
  }
}
