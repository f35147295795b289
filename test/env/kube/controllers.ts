import { randomBytes } from 'node:crypto';
import * as https from 'node:https';
import type { KubeCluster } from './cluster';
import { reconcileCrd } from './controllers/crd';
import { reconcileDaemonSet } from './controllers/daemonSet';
import { reconcileDeployment } from './controllers/deployment';
import { reconcileJob } from './controllers/job';
import { now, sameStatus } from './controllers/objects';
import { reconcileReplicaSet } from './controllers/replicaSet';
import { reconcileServiceAccounts } from './controllers/serviceAccounts';
import { reconcileStatefulSet } from './controllers/statefulSet';
import { clone, type KObj } from './types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** Credentials the kubelet has for a registry (as AKS's kubelet identity has AcrPull on an attached ACR). */
export interface RegistryAccess {
  loginServer: string;
  username: string;
  password: string;
}

/** What the kubelet knows about pulling one image. */
interface PullState {
  checkedAt: number;
  pending?: Promise<void>;
  ok?: boolean;
  error?: string;
}

const FAILING_WAIT_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'CrashLoopBackOff', 'CreateContainerConfigError', 'InvalidImageName']);

/**
 * The controllers (Deployment → ReplicaSet → Pod, StatefulSet, DaemonSet, Job, CRD establishment; one reconcile
 * function each in controllers/, as kube-controller-manager keeps one controller per package) and a kubelet
 * stand-in, run on a fast tick so rollouts take fractions of a second. The kubelet pulls images for real from the
 * local registries (manifest requests with the cluster's pull credentials or the pod's imagePullSecrets) and
 * reads the container's environment: EMULATOR_EXIT_CODE=<n> exits with n after each start (CrashLoopBackOff
 * follows), EMULATOR_READY_AFTER=<seconds> delays readiness.
 */
export class Controllers {
  /** Milliseconds between reconciliations. */
  tickMs = 50;
  /** Back-off before a failed pull or a crashed container is retried (Kubernetes: 10 s doubling). */
  backoffMs = 400;
  /** How long a pull result is trusted before the registry is asked again. */
  pullCacheMs = 1500;
  private timer?: NodeJS.Timeout;
  private readonly pulls = new Map<string, PullState>();
  /** When each container (pod uid/name) last crashed, for its back-off. */
  private readonly crashes = new Map<string, number>();
  private busy = false;

  /**
   * @param registries the registries the cluster itself may pull from (tests take one away to show that a pod's
   *   imagePullSecrets are used).
   */
  constructor(private readonly cluster: KubeCluster, readonly registries: RegistryAccess[], private readonly caPem: string) {}

  start(): void {
    const loop = () => {
      if (!this.busy) {
        this.busy = true;
        try {
          this.tick();
        } finally {
          this.busy = false;
        }
      }
      this.timer = setTimeout(loop, this.tickMs);
    };
    this.timer = setTimeout(loop, this.tickMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** Forgets cached pull results (a test pushed an image that was missing before). */
  forgetPulls(): void {
    this.pulls.clear();
  }

  private tick(): void {
    const c = this.cluster;
    for (const ns of c.list('v1', 'Namespace')) reconcileServiceAccounts(c, ns);
    for (const crd of c.list('apiextensions.k8s.io/v1', 'CustomResourceDefinition')) reconcileCrd(c, crd);
    for (const d of c.list('apps/v1', 'Deployment')) reconcileDeployment(c, d);
    for (const rs of c.list('apps/v1', 'ReplicaSet')) reconcileReplicaSet(c, rs);
    for (const s of c.list('apps/v1', 'StatefulSet')) reconcileStatefulSet(c, s);
    for (const ds of c.list('apps/v1', 'DaemonSet')) reconcileDaemonSet(c, ds);
    for (const j of c.list('batch/v1', 'Job')) reconcileJob(c, j);
    for (const p of c.list('v1', 'Pod')) this.kubelet(p);
  }

  // ---- kubelet ------------------------------------------------------------------------------------------------

  private kubelet(pod: KObj): void {
    const status = clone(pod.status ?? {}) as Any;
    if (status.phase === 'Succeeded' || status.phase === 'Failed') return;
    const spec = pod.spec as Any;
    const t = now();
    const conditions: Any[] = status.conditions ?? [];
    const setCondition = (type: string, value: string, extra: Any = {}) => {
      const prev = conditions.find((x) => x.type === type);
      const cond = { type, status: value, lastProbeTime: null, lastTransitionTime: prev?.status === value ? prev.lastTransitionTime : t, ...extra };
      if (prev) Object.assign(prev, cond); else conditions.push(cond);
    };
    let nodeName: string | undefined = spec.nodeName;
    if (!nodeName) {
      const nodes = this.cluster.list('v1', 'Node');
      const reasons: string[] = [];
      const fits = nodes.filter((n) => {
        if (!Object.entries(spec.nodeSelector ?? {}).every(([k, v]) => n.metadata.labels?.[k] === v)) { reasons.push("node(s) didn't match Pod's node affinity/selector"); return false; }
        const cpu = (spec.containers as Any[]).reduce((sum, c) => sum + cpuMillis(c.resources?.requests?.cpu), 0);
        if (cpu > cpuMillis(n.status.allocatable.cpu)) { reasons.push('Insufficient cpu'); return false; }
        return true;
      });
      if (!fits.length) {
        const counts = new Map<string, number>();
        for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
        const message = `0/${nodes.length} nodes are available: ${[...counts].map(([r, n]) => `${n} ${r}`).join(', ')}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} No preemption victims found for incoming pod.`;
        setCondition('PodScheduled', 'False', { reason: 'Unschedulable', message });
        if (!sameStatus(pod.status, { ...status, phase: 'Pending', conditions })) {
          this.cluster.put({ ...pod, status: { ...status, phase: 'Pending', conditions } });
          this.cluster.event(pod, 'Warning', 'FailedScheduling', message, 'default-scheduler');
        }
        return;
      }
      nodeName = fits[Math.floor(Math.random() * fits.length)].metadata.name;
      this.cluster.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${nodeName}`, 'default-scheduler');
    }
    setCondition('PodScheduled', 'True');
    status.hostIP ??= '10.224.0.4';
    status.podIP ??= `10.244.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;
    status.startTime ??= t;
    status.qosClass ??= 'BestEffort';

    const isJob = (pod.metadata.ownerReferences ?? []).some((r: Any) => r.kind === 'Job');
    const restartPolicy: string = spec.restartPolicy ?? 'Always';
    const previous = new Map<string, Any>(([...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])] as Any[]).map((cs) => [cs.name, cs]));
    const initStatuses: Any[] = [];
    let initDone = true;
    for (const c of (spec.initContainers ?? []) as Any[]) {
      const cs = initDone ? this.container(pod, c, previous.get(c.name), true, restartPolicy) : waitingStatus(c, previous.get(c.name), 'PodInitializing');
      initStatuses.push(cs);
      if (!cs.state.terminated || cs.state.terminated.exitCode !== 0) initDone = false;
    }
    const statuses: Any[] = (spec.containers as Any[]).map((c) => (initDone ? this.container(pod, c, previous.get(c.name), isJob, restartPolicy) : waitingStatus(c, previous.get(c.name), 'PodInitializing')));
    const allReady = initDone && statuses.every((cs) => cs.ready);
    setCondition('Initialized', initDone ? 'True' : 'False');
    setCondition('ContainersReady', allReady ? 'True' : 'False', allReady ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${statuses.filter((cs) => !cs.ready).map((cs) => cs.name).join(' ')}]` });
    setCondition('Ready', allReady ? 'True' : 'False', allReady ? {} : { reason: 'ContainersNotReady', message: `containers with unready status: [${statuses.filter((cs) => !cs.ready).map((cs) => cs.name).join(' ')}]` });
    let phase = 'Pending';
    if (statuses.every((cs) => cs.state.terminated)) phase = statuses.every((cs) => cs.state.terminated.exitCode === 0) ? 'Succeeded' : 'Failed';
    else if (statuses.some((cs) => cs.state.running || cs.lastState?.terminated)) phase = 'Running';
    const next = { ...status, phase, conditions, ...(initStatuses.length ? { initContainerStatuses: initStatuses } : {}), containerStatuses: statuses };
    if (!sameStatus(pod.status, next) || spec.nodeName !== nodeName) this.cluster.put({ ...pod, spec: { ...spec, nodeName }, status: next });
  }

  /** The status of one container after this tick: pulling, waiting, crashing, running or done. */
  private container(pod: KObj, c: Any, prev: Any, runsToCompletion: boolean, restartPolicy: string): Any {
    const base = { name: c.name, image: c.image, imageID: prev?.imageID ?? '', restartCount: prev?.restartCount ?? 0, started: false, ready: false, lastState: prev?.lastState ?? {} };
    if (prev?.state?.terminated && (prev.state.terminated.exitCode === 0 || restartPolicy === 'Never')) return prev;
    if (!isValidImage(c.image)) {
      return { ...base, state: { waiting: { reason: 'InvalidImageName', message: `Failed to apply default image tag "${c.image}": couldn't parse image name "${c.image}": invalid reference format` } } };
    }
    if (!base.imageID) {
      const pull = this.pull(pod, c.image);
      if (pull === undefined) return { ...base, state: { waiting: { reason: 'ContainerCreating' } } };
      if (pull.ok === false) {
        const since = Date.now() - pull.checkedAt;
        const wasErr = prev?.state?.waiting?.reason === 'ErrImagePull' || prev?.state?.waiting?.reason === 'ImagePullBackOff';
        if (!wasErr || since < this.backoffMs / 2) {
          if (!wasErr) this.cluster.event(pod, 'Warning', 'Failed', `Failed to pull image "${c.image}": ${pull.error}`);
          return { ...base, state: { waiting: { reason: 'ErrImagePull', message: `failed to pull and unpack image "${c.image}": ${pull.error}` } } };
        }
        if (prev.state.waiting.reason !== 'ImagePullBackOff') this.cluster.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
        return { ...base, state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` } } };
      }
      base.imageID = pull.digest ?? '';
      this.cluster.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${c.image}"`);
    }
    const env = new Map<string, string>();
    for (const e of (c.env ?? []) as Any[]) {
      if (e.value !== undefined) env.set(e.name, String(e.value));
      const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
      if (ref && !ref.optional) {
        const kind = e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
        const source = this.cluster.get('v1', kind, pod.metadata.namespace, ref.name);
        if (!source) {
          const message = `${kind === 'Secret' ? 'secret' : 'configmap'} "${ref.name}" not found`;
          if (prev?.state?.waiting?.reason !== 'CreateContainerConfigError') this.cluster.event(pod, 'Warning', 'Failed', `Error: ${message}`);
          return { ...base, state: { waiting: { reason: 'CreateContainerConfigError', message } } };
        }
      }
    }
    const exitCode = env.has('EMULATOR_EXIT_CODE') ? Number(env.get('EMULATOR_EXIT_CODE')) : runsToCompletion ? 0 : undefined;
    const readyAfterMs = Number(env.get('EMULATOR_READY_AFTER') ?? 0) * 1000;
    if (prev?.state?.running) {
      const started = Date.parse(prev.state.running.startedAt);
      if (exitCode !== undefined) {
        const terminated = { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: prev.state.running.startedAt, finishedAt: now(), containerID: prev.containerID };
        if (exitCode === 0 || restartPolicy === 'Never') return { ...base, containerID: prev.containerID, started: false, state: { terminated } };
        this.crashes.set(`${pod.metadata.uid}/${c.name}`, Date.now());
        this.cluster.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`);
        return {
          ...base, restartCount: base.restartCount + 1, lastState: { terminated },
          state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${10 * 2 ** Math.min(base.restartCount, 4)}s restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})` }, },
        };
      }
      return { ...base, containerID: prev.containerID, started: true, ready: Date.now() - started >= readyAfterMs, state: prev.state };
    }
    if (prev?.state?.waiting?.reason === 'CrashLoopBackOff' && Date.now() - (this.crashes.get(`${pod.metadata.uid}/${c.name}`) ?? 0) < this.backoffMs) return prev;
    const containerID = `containerd://${randomBytes(32).toString('hex')}`;
    this.cluster.event(pod, 'Normal', 'Started', `Started container ${c.name}`);
    return { ...base, containerID, started: true, ready: readyAfterMs === 0 && exitCode === undefined, state: { running: { startedAt: new Date().toISOString() } } };
  }

  /** The pull result for an image, or undefined while the registry is being asked. */
  private pull(pod: KObj, image: string): (PullState & { digest?: string }) | undefined {
    const key = `${pod.metadata.namespace}/${(pod.spec.imagePullSecrets ?? []).map((s: Any) => s.name).join(',')}/${image}`;
    const state = this.pulls.get(key);
    if (state && !state.pending && Date.now() - state.checkedAt < this.pullCacheMs) return state;
    if (state?.pending) return state.ok === undefined ? undefined : state;
    const next: PullState & { digest?: string } = { checkedAt: Date.now(), ok: state?.ok, error: state?.error };
    next.pending = this.resolve(pod, image).then((digest) => {
      next.ok = true; next.error = undefined; next.digest = digest;
    }, (err: Error) => {
      next.ok = false; next.error = err.message;
    }).finally(() => { next.pending = undefined; next.checkedAt = Date.now(); });
    this.pulls.set(key, next);
    return next.ok === undefined ? undefined : next;
  }

  /** Resolves an image's manifest on its registry with the cluster's or the pod's pull credentials. */
  private async resolve(pod: KObj, image: string): Promise<string> {
    const ref = parseImage(image);
    const access = this.registries.find((r) => r.loginServer === ref.registry);
    const secretCreds = (pod.spec.imagePullSecrets ?? []).flatMap((s: Any) => {
      const secret = this.cluster.get('v1', 'Secret', pod.metadata.namespace, s.name);
      const data = secret?.data?.['.dockerconfigjson'];
      if (!data) return [];
      const auths = (JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { auths?: Record<string, { username?: string; password?: string; auth?: string }> }).auths ?? {};
      return Object.entries(auths).filter(([host]) => host.replace(/^https?:\/\//, '').replace(/\/$/, '') === ref.registry).map(([, a]) => {
        if (a.username) return { username: a.username, password: a.password ?? '' };
        const [u, ...p] = Buffer.from(a.auth ?? '', 'base64').toString('utf8').split(':');
        return { username: u, password: p.join(':') };
      });
    }) as { username: string; password: string }[];
    const creds = [...secretCreds, ...(access ? [{ username: access.username, password: access.password }] : [])];
    if (!access && !secretCreds.length) {
      throw new Error(`failed to resolve reference "${image}": failed to do request: Head "https://${ref.registry}/v2/${ref.repository}/manifests/${ref.reference}": dial tcp: lookup ${ref.registry.split(':')[0]}: no such host`);
    }
    let lastError = '';
    for (const cred of creds) {
      const tokenRes = await this.request(ref.registry, `/oauth2/token?service=${encodeURIComponent(ref.registry)}&scope=${encodeURIComponent(`repository:${ref.repository}:pull`)}`, 'GET', { authorization: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}` });
      if (tokenRes.status !== 200) { lastError = `failed to authorize: failed to fetch anonymous token: unexpected status: ${tokenRes.status} Unauthorized`; continue; }
      const token = (JSON.parse(tokenRes.body) as { token: string }).token;
      const res = await this.request(ref.registry, `/v2/${ref.repository}/manifests/${ref.reference}`, 'HEAD', {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json',
      });
      if (res.status === 200) return res.digest ?? '';
      if (res.status === 404) throw new Error(`failed to resolve reference "${image}": ${image}: not found`);
      lastError = `failed to resolve reference "${image}": unexpected status from HEAD request to https://${ref.registry}/v2/${ref.repository}/manifests/${ref.reference}: ${res.status}`;
      if (res.status === 401 || res.status === 403) lastError = `failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized`;
    }
    throw new Error(lastError);
  }

  private request(host: string, path: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: string; digest?: string }> {
    return new Promise((resolve, reject) => {
      const [hostname, port] = host.split(':');
      const req = https.request({ hostname, port: Number(port || 443), path, method, headers, ca: this.caPem, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, body, digest: res.headers['docker-content-digest'] as string | undefined }));
      });
      req.on('timeout', () => req.destroy(new Error('i/o timeout')));
      req.on('error', reject);
      req.end();
    });
  }
}

function waitingStatus(c: Any, prev: Any, reason: string): Any {
  return { name: c.name, image: c.image, imageID: '', restartCount: prev?.restartCount ?? 0, started: false, ready: false, lastState: {}, state: { waiting: { reason } } };
}

function cpuMillis(v: unknown): number {
  if (v === undefined) return 0;
  const s = String(v);
  return s.endsWith('m') ? Number(s.slice(0, -1)) : Number(s) * 1000;
}

const IMAGE = /^(?:((?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::\d+)?|localhost(?::\d+)?)\/)?([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;

function isValidImage(image: string): boolean {
  return IMAGE.test(image);
}

function parseImage(image: string): { registry: string; repository: string; reference: string } {
  const m = IMAGE.exec(image)!;
  let registry = m[1];
  let repository = m[2];
  if (!registry || (!registry.includes('.') && !registry.includes(':') && registry !== 'localhost')) {
    repository = registry ? `${registry}/${repository}` : repository;
    registry = 'docker.io';
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  return { registry, repository, reference: m[4] ?? m[3] ?? 'latest' };
}

export { FAILING_WAIT_REASONS };
