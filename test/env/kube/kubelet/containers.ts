import { randomBytes } from 'node:crypto';
import type { KubeCluster } from '../cluster';
import { now } from '../status';
import type { KObj } from '../types';
import { isValidImage, type ImagePuller } from './images';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/**
 * Container state as the kubelet reports it in containerStatuses: pulling, waiting, crashing, running or done.
 * The container's environment decides what happens: EMULATOR_EXIT_CODE=<n> exits with n after each start
 * (CrashLoopBackOff follows), EMULATOR_READY_AFTER=<seconds> delays readiness.
 */
export class Containers {
  /** Back-off before a failed pull or a crashed container is retried (Kubernetes: 10 s doubling). */
  backoffMs = 400;
  /** When each container (pod uid/name) last crashed, for its back-off. */
  private readonly crashes = new Map<string, number>();

  constructor(private readonly cluster: KubeCluster, private readonly images: ImagePuller) {}

  /** The status of one container after this tick. */
  status(pod: KObj, c: Any, prev: Any, runsToCompletion: boolean, restartPolicy: string): Any {
    const base = { name: c.name, image: c.image, imageID: prev?.imageID ?? '', restartCount: prev?.restartCount ?? 0, started: false, ready: false, lastState: prev?.lastState ?? {} };
    if (prev?.state?.terminated && (prev.state.terminated.exitCode === 0 || restartPolicy === 'Never')) return prev;
    if (!isValidImage(c.image)) {
      return { ...base, state: { waiting: { reason: 'InvalidImageName', message: `Failed to apply default image tag "${c.image}": couldn't parse image name "${c.image}": invalid reference format` } } };
    }
    if (!base.imageID) {
      const pull = this.images.pull(pod, c.image);
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
}

/** The status of a container that waits for an earlier step (PodInitializing). */
export function waitingStatus(c: Any, prev: Any, reason: string): Any {
  return { name: c.name, image: c.image, imageID: '', restartCount: prev?.restartCount ?? 0, started: false, ready: false, lastState: {}, state: { waiting: { reason } } };
}
