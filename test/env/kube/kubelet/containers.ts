import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KubeCluster } from '../cluster';
import { now } from '../status';
import type { KObj } from '../types';
import { isValidImage, type ImagePuller, type PulledImage } from './images';
import { ProcessTable, StartError, commandLine, startProcess, terminate } from './process';
import { Prober, resolvePort, runCommand } from './probes';
import { unpackLayers } from './rootfs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** The crash back-off of one container (pkg/util/flowcontrol's Backoff as the kubelet uses it). */
interface Backoff {
  delayMs: number;
  lastUpdate: number;
}

/** What the kubelet holds for one container of one pod between syncs. */
interface Runtime {
  image?: PulledImage;
  root?: string;
  proc?: ChildProcess;
  containerID: string;
  startedAt?: string;
  /** Set when the process has exited and the exit is not yet reported as a restart. */
  exit?: Any;
  restartCount: number;
  lastTerminated?: Any;
  backoff?: Backoff;
  startup?: Prober;
  readiness?: Prober;
  liveness?: Prober;
  /** Log file of each start, by restart count (`kubectl logs --previous` reads the one before). */
  logs: string[];
  stopping?: Promise<void>;
}

/**
 * Containers as the kubelet runs them: the image pulled for real, its layers unpacked into a per-pod root, the
 * process started with the container's command, working directory and environment, probed, and restarted after
 * it exits with the kubelet's crash back-off (pkg/kubelet/kuberuntime/kuberuntime_manager.go doBackOff: the first
 * restart is immediate, then 10 s doubling to 5 min; a container that ran longer than twice the maximum starts the
 * back-off anew). Statuses report what really happened: exit codes, restart counts, CrashLoopBackOff.
 */
export class Containers {
  /** The first crash back-off (Kubernetes: 10 s); tests of a cluster may shorten it. The maximum is 30 times it. */
  backoffBaseMs = 10_000;
  /** Back-off before a failed pull is reported as ImagePullBackOff. */
  pullBackoffMs = 400;
  readonly processes: ProcessTable;
  private readonly runtimes = new Map<string, Runtime>();

  constructor(private readonly cluster: KubeCluster, private readonly images: ImagePuller, private readonly dir: string) {
    this.processes = new ProcessTable(path.join(dir, 'processes'));
  }

  /** The status of one container after this sync. */
  status(pod: KObj, c: Any, prev: Any, restartPolicy: string, init: boolean): Any {
    const key = `${pod.metadata.uid}/${c.name}`;
    const rt: Runtime = this.runtimes.get(key) ?? { containerID: '', restartCount: prev?.restartCount ?? 0, logs: [] };
    this.runtimes.set(key, rt);
    const base = { name: c.name, image: c.image, imageID: prev?.imageID ?? '', restartCount: rt.restartCount, started: false, ready: false, lastState: rt.lastTerminated ? { terminated: rt.lastTerminated } : {} };
    if (prev?.state?.terminated && !rt.proc && !this.restarts(restartPolicy, prev.state.terminated.exitCode)) return prev;
    if (!isValidImage(c.image)) {
      return { ...base, state: { waiting: { reason: 'InvalidImageName', message: `Failed to apply default image tag "${c.image}": couldn't parse image name "${c.image}": invalid reference format` } } };
    }
    if (!rt.image) {
      // Pulled once per container, as with imagePullPolicy IfNotPresent; a restart runs the same image.
      const pull = this.images.pull(pod, c.image);
      if (pull === undefined || (pull.ok && !pull.image)) return { ...base, state: { waiting: { reason: 'ContainerCreating' } } };
      if (pull.ok === false) {
        const since = Date.now() - pull.checkedAt;
        const wasErr = prev?.state?.waiting?.reason === 'ErrImagePull' || prev?.state?.waiting?.reason === 'ImagePullBackOff';
        if (!wasErr || since < this.pullBackoffMs / 2) {
          if (!wasErr) this.cluster.event(pod, 'Warning', 'Failed', `Failed to pull image "${c.image}": ${pull.error}`);
          return { ...base, state: { waiting: { reason: 'ErrImagePull', message: `failed to pull and unpack image "${c.image}": ${pull.error}` } } };
        }
        if (prev.state.waiting.reason !== 'ImagePullBackOff') this.cluster.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
        return { ...base, state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` } } };
      }
      rt.image = pull.image;
      this.cluster.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${c.image}"`);
    }
    const image = rt.image!;
    base.imageID = `${c.image.split('@')[0].replace(/:[^/:]+$/, '')}@${image.digest}`;
    if (rt.proc && !rt.exit) {
      const started = rt.startup ? rt.startup.success : true;
      const ready = !init && started && (rt.readiness ? rt.readiness.success : true);
      return { ...base, containerID: rt.containerID, started, ready, state: { running: { startedAt: rt.startedAt } } };
    }
    if (rt.exit) {
      // The process ended since the last sync: report it, then restart it or keep it terminated.
      const terminated = rt.exit;
      rt.exit = undefined;
      rt.proc = undefined;
      this.stopProbes(rt);
      if (!this.restarts(restartPolicy, terminated.exitCode)) return { ...base, containerID: rt.containerID, state: { terminated } };
      rt.lastTerminated = terminated;
      rt.restartCount++;
      base.restartCount = rt.restartCount;
      base.lastState = { terminated };
    }
    if (rt.lastTerminated && this.inBackoff(rt, Date.parse(rt.lastTerminated.finishedAt))) {
      const seconds = Math.round(rt.backoff!.delayMs / 1000);
      if (prev?.state?.waiting?.reason !== 'CrashLoopBackOff') {
        this.cluster.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`);
      }
      return { ...base, state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${seconds}s restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})` } } };
    }
    const env = this.environment(pod, c, image);
    if (typeof env === 'string') {
      if (prev?.state?.waiting?.reason !== 'CreateContainerConfigError') this.cluster.event(pod, 'Warning', 'Failed', `Error: ${env}`);
      return { ...base, state: { waiting: { reason: 'CreateContainerConfigError', message: env } } };
    }
    return this.start(pod, c, rt, image, env, base, init);
  }

  /** Starts the container's process; a container that cannot start is reported as the runtime reports it. */
  private start(pod: KObj, c: Any, rt: Runtime, image: PulledImage, env: Record<string, string>, base: Any, init: boolean): Any {
    const podDir = path.join(this.dir, 'pods', pod.metadata.uid!);
    try {
      if (!rt.root) {
        rt.root = path.join(podDir, c.name, 'rootfs');
        unpackLayers(rt.root, image.layers);
      }
      const cwd = path.join(rt.root, c.workingDir ?? image.config.WorkingDir ?? '/');
      const argv = commandLine(image.config, { command: c.command && expandAll(c.command, env), args: c.args && expandAll(c.args, env) }, rt.root, cwd, env);
      const logPath = path.join(podDir, c.name, `${rt.restartCount}.log`);
      const proc = startProcess(argv, cwd, env, logPath);
      rt.containerID = `containerd://${randomBytes(32).toString('hex')}`;
      rt.logs[rt.restartCount] = logPath;
      rt.proc = proc;
      rt.startedAt = now();
      this.processes.add(proc);
      const containerID = rt.containerID;
      const startedAt = rt.startedAt;
      proc.once('error', (err) => {
        rt.exit ??= { exitCode: 128, reason: 'StartError', message: err.message, startedAt, finishedAt: now(), containerID };
      });
      proc.once('exit', (code, signal) => {
        const exitCode = code ?? 128 + signalNumber(signal);
        rt.exit ??= { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt, finishedAt: now(), containerID };
      });
      this.startProbes(pod, c, rt, cwd, env);
      this.cluster.event(pod, 'Normal', 'Created', `Created container ${c.name}`);
      this.cluster.event(pod, 'Normal', 'Started', `Started container ${c.name}`);
      const started = !rt.startup;
      return { ...base, containerID: rt.containerID, started, ready: started && !rt.readiness && !init, state: { running: { startedAt: rt.startedAt } } };
    } catch (err) {
      if (!(err instanceof StartError)) throw err;
      this.cluster.event(pod, 'Warning', 'Failed', `Error: ${err.message}`);
      if (err.reason === 'CreateContainerError') return { ...base, state: { waiting: { reason: 'CreateContainerError', message: err.message } } };
      // exec failed: the runtime reports a terminated container with exit code 128, which then backs off.
      const t = now();
      rt.exit = { exitCode: 128, reason: 'StartError', message: err.message, startedAt: '1970-01-01T00:00:00Z', finishedAt: t, containerID: rt.containerID };
      rt.proc = undefined;
      return { ...base, state: { waiting: { reason: 'ContainerCreating' } } };
    }
  }

  private startProbes(pod: KObj, c: Any, rt: Runtime, cwd: string, env: Record<string, string>): void {
    const target = {
      podIP: pod.status?.podIP ?? '127.0.0.1', ports: c.ports ?? [],
      exec: (command: string[], timeoutMs: number) => {
        try {
          return runCommand(commandLine({}, { command }, rt.root!, cwd, env), cwd, env, timeoutMs);
        } catch {
          return Promise.resolve(1);
        }
      },
    };
    const liveness = () => {
      if (!c.livenessProbe) return;
      rt.liveness = new Prober(c.livenessProbe, target, true, (ok) => {
        if (ok || !rt.proc) return;
        this.cluster.event(pod, 'Warning', 'Unhealthy', `Liveness probe failed`);
        this.cluster.event(pod, 'Normal', 'Killing', `Container ${c.name} failed liveness probe, will be restarted`);
        void terminate(rt.proc, (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000);
      });
      rt.liveness.start();
    };
    const readiness = () => {
      if (!c.readinessProbe) return;
      rt.readiness = new Prober(c.readinessProbe, target, false);
      rt.readiness.start();
    };
    if (c.startupProbe) {
      rt.startup = new Prober(c.startupProbe, target, false, (ok) => {
        if (!ok) {
          if (rt.proc) void terminate(rt.proc, (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000);
          return;
        }
        rt.startup?.stop();
        liveness();
        readiness();
      });
      rt.startup.start();
    } else {
      liveness();
      readiness();
    }
  }

  private stopProbes(rt: Runtime): void {
    for (const p of [rt.startup, rt.readiness, rt.liveness]) p?.stop();
    rt.startup = rt.readiness = rt.liveness = undefined;
  }

  private restarts(restartPolicy: string, exitCode: number): boolean {
    return restartPolicy === 'Always' || (restartPolicy === 'OnFailure' && exitCode !== 0);
  }

  /** doBackOff: false (and the back-off advanced) when the container may start again now. */
  private inBackoff(rt: Runtime, finishedAt: number): boolean {
    const max = this.backoffBaseMs * 30;
    const expired = !rt.backoff || finishedAt - rt.backoff.lastUpdate > 2 * max;
    if (!expired && Date.now() - finishedAt < rt.backoff!.delayMs) return true;
    rt.backoff = expired ? { delayMs: this.backoffBaseMs, lastUpdate: finishedAt } : { delayMs: Math.min(rt.backoff!.delayMs * 2, max), lastUpdate: finishedAt };
    return false;
  }

  /**
   * The process environment: the image's Env, then the container's envFrom and env (values with $(VAR)
   * references expanded, ConfigMap and Secret keys, the Downward API's metadata.name, metadata.namespace,
   * status.podIP and the like), then HOSTNAME (the pod name) and POD_IP. A text is the reason it cannot be made.
   */
  private environment(pod: KObj, c: Any, image: PulledImage): Record<string, string> | string {
    const env: Record<string, string> = {};
    for (const line of image.config.Env ?? []) {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    env.HOSTNAME = pod.metadata.name;
    const ns = pod.metadata.namespace;
    const source = (kind: 'ConfigMap' | 'Secret', name: string) => {
      const obj = this.cluster.get('v1', kind, ns, name);
      if (!obj) return undefined;
      const data: Record<string, string> = { ...obj.data };
      if (kind === 'Secret') for (const k of Object.keys(data)) data[k] = Buffer.from(data[k], 'base64').toString('utf8');
      if (kind === 'ConfigMap') Object.assign(data, Object.fromEntries(Object.entries(obj.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')])));
      return data;
    };
    for (const from of (c.envFrom ?? []) as Any[]) {
      const kind = from.secretRef ? 'Secret' : 'ConfigMap';
      const ref = from.secretRef ?? from.configMapRef;
      const data = source(kind, ref.name);
      if (!data) {
        if (ref.optional) continue;
        return `${kind === 'Secret' ? 'secret' : 'configmap'} "${ref.name}" not found`;
      }
      for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v;
    }
    for (const e of (c.env ?? []) as Any[]) {
      if (e.valueFrom?.fieldRef) {
        const value = fieldValue(pod, e.valueFrom.fieldRef.fieldPath);
        if (value !== undefined) env[e.name] = value;
        continue;
      }
      const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
      if (ref) {
        const kind = e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
        const data = source(kind, ref.name);
        const what = kind === 'Secret' ? 'secret' : 'configmap';
        if (!data) { if (ref.optional) continue; return `${what} "${ref.name}" not found`; }
        if (data[ref.key] === undefined) { if (ref.optional) continue; return `couldn't find key ${ref.key} in ${kind} ${ns}/${ref.name}`; }
        env[e.name] = data[ref.key];
        continue;
      }
      env[e.name] = expand(String(e.value ?? ''), env);
    }
    if (pod.status?.podIP) env.POD_IP = pod.status.podIP;
    return env;
  }

  /** Output of a container's current (or, with `previous`, last terminated) process, or undefined when none. */
  logs(pod: KObj, container: string, previous: boolean): string | undefined {
    const rt = this.runtimes.get(`${pod.metadata.uid}/${container}`);
    if (!rt) return undefined;
    const file = previous ? rt.logs[rt.restartCount - 1] : rt.logs[rt.logs.length - 1];
    return file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
  }

  /** Whether the container has a process running (a test of pod deletion asks). */
  pid(pod: KObj, container: string): number | undefined {
    return this.runtimes.get(`${pod.metadata.uid}/${container}`)?.proc?.pid;
  }

  /**
   * Ends the containers of a pod (deleted, or its containers done): SIGTERM, then SIGKILL after the grace period
   * (terminationGracePeriodSeconds), and removes its root once they have exited.
   */
  kill(uid: string, graceMs: number): Promise<void> {
    const all: Promise<void>[] = [];
    for (const [key, rt] of this.runtimes) {
      if (!key.startsWith(`${uid}/`)) continue;
      this.stopProbes(rt);
      rt.stopping ??= rt.proc ? terminate(rt.proc, graceMs) : Promise.resolve();
      all.push(rt.stopping);
    }
    return Promise.all(all).then(() => {
      for (const key of [...this.runtimes.keys()]) if (key.startsWith(`${uid}/`)) this.runtimes.delete(key);
      fs.rmSync(path.join(this.dir, 'pods', uid), { recursive: true, force: true });
    });
  }

  /** The pod uids the kubelet holds containers for. */
  podUids(): string[] {
    return [...new Set([...this.runtimes.keys()].map((k) => k.split('/')[0]))];
  }

  /** Ends every process (the environment stops). */
  async stopAll(): Promise<void> {
    for (const rt of this.runtimes.values()) this.stopProbes(rt);
    await this.processes.stopAll();
  }
}

/** The Downward API fields a container's env can name (fieldRef.fieldPath). */
function fieldValue(pod: KObj, fieldPath: string): string | undefined {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) return (pod.metadata[m[1] as 'labels' | 'annotations'] as Record<string, string> | undefined)?.[m[2]];
  const values: Record<string, string | undefined> = {
    'metadata.name': pod.metadata.name, 'metadata.namespace': pod.metadata.namespace, 'metadata.uid': pod.metadata.uid,
    'spec.nodeName': pod.spec.nodeName, 'spec.serviceAccountName': pod.spec.serviceAccountName ?? 'default',
    'status.podIP': pod.status?.podIP, 'status.hostIP': pod.status?.hostIP,
  };
  return values[fieldPath];
}

/** $(VAR) references to variables defined before, as Kubernetes expands them; $$ escapes a dollar. */
function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) => (name === undefined ? '$' : (env[name] ?? all)));
}

function expandAll(values: string[], env: Record<string, string>): string[] {
  return values.map((v) => expand(v, env));
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return ({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGABRT: 6, SIGSEGV: 11 } as Record<string, number>)[signal ?? ''] ?? 0;
}

/** The status of a container that waits for an earlier step (PodInitializing). */
export function waitingStatus(c: Any, prev: Any, reason: string): Any {
  return { name: c.name, image: c.image, imageID: '', restartCount: prev?.restartCount ?? 0, started: false, ready: false, lastState: {}, state: { waiting: { reason } } };
}

export { resolvePort };
