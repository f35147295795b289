import { startTicking } from '../../ticker';
import type { KubeCluster } from '../cluster';
import { now, sameStatus } from '../status';
import { KubeStatus, clone, type KObj } from '../types';
import * as path from 'node:path';
import type { Exchange } from '../../http';
import { loopbackBlockOf, type LoopbackBlock } from '../network/addresses';
import { Containers, waitingStatus } from './containers';
import { ImagePuller, type RegistryAccess } from './images';
import { missingVolume, schedule } from './scheduler';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/**
 * The kubelet stand-in of one cluster, with the scheduler's part: on a fast tick it schedules pods that have no
 * node, gives each pod a loopback address of the cluster's block as its pod IP, pulls images from the local
 * registries and runs their containers as processes (containers.ts), and reports the containers' state and the
 * pod's conditions. A pod that is deleted has its processes ended (SIGTERM, SIGKILL after the grace period).
 * `pods/{name}/log` serves a container's output. Processes, not isolation: there are no containers.
 */
export class Kubelet {
  /** Milliseconds between syncs. */
  tickMs = 50;
  readonly images: ImagePuller;
  readonly containers: Containers;
  private readonly block: LoopbackBlock;
  private readonly podIPs = new Map<string, string>();
  private readonly nodeIPs = new Map<string, string>();
  private readonly mountFailures = new Map<string, string>();
  private readonly terminating = new Set<string>();
  private ticking?: { stop(): void };

  /** @param dir where the kubelet keeps pulled blobs, pod roots and logs. */
  constructor(private readonly cluster: KubeCluster, registries: RegistryAccess[], caPem: string, dir: string) {
    this.images = new ImagePuller(cluster, registries, caPem, path.join(dir, 'images'));
    this.containers = new Containers(cluster, this.images, dir);
    this.block = loopbackBlockOf(cluster);
    cluster.subresources.set('pods/log', (x, pod) => this.serveLog(x, pod));
    // Graceful deletion waits for this kubelet: the pod stays (Terminating) until its processes have ended.
    cluster.onPodTerminating((pod) => this.terminate(pod));
  }

  /** The registries the cluster itself may pull from. */
  get registries(): RegistryAccess[] {
    return this.images.registries;
  }

  start(): void {
    this.ticking = startTicking(() => {
      const pods = this.cluster.list('v1', 'Pod');
      for (const p of pods) this.sync(p);
      this.forgetDeleted(new Set(pods.map((p) => p.metadata.uid!)));
    }, () => this.tickMs);
  }

  /** Stops syncing and ends every process this kubelet started. */
  async stop(): Promise<void> {
    this.ticking?.stop();
    await this.containers.stopAll();
    this.block.close();
  }

  /** Forgets cached pull results (a test pushed an image that was missing before). */
  forgetPulls(): void {
    this.images.forget();
  }

  /** Pods gone from the store (deleted at once): their processes end with the pod's grace period. */
  private forgetDeleted(live: Set<string>): void {
    for (const uid of this.containers.podUids()) {
      if (live.has(uid) || this.terminating.has(uid)) continue;
      this.terminating.add(uid);
      void this.containers.kill(uid, 30_000).finally(() => this.release(uid));
    }
  }

  /**
   * A pod marked for deletion: its processes get SIGTERM, SIGKILL after deletionGracePeriodSeconds, and once they
   * have ended the API server is told (podTerminated), which removes the pod unless finalizers hold it.
   */
  private terminate(pod: KObj): void {
    const uid = pod.metadata.uid!;
    if (this.terminating.has(uid)) return;
    this.terminating.add(uid);
    const graceSeconds = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    void this.containers.kill(uid, graceSeconds * 1000).finally(() => {
      this.release(uid);
      this.cluster.podTerminated(pod);
    });
  }

  private release(uid: string): void {
    this.terminating.delete(uid);
    this.mountFailures.delete(uid);
    const ip = this.podIPs.get(uid);
    if (ip) this.block.release(ip);
    this.podIPs.delete(uid);
  }

  /** Each node's address (status.hostIP of its pods), from the cluster's loopback block. */
  private nodeAddress(nodeName: string): string {
    let ip = this.nodeIPs.get(nodeName);
    if (!ip) {
      ip = this.block.allocate();
      this.nodeIPs.set(nodeName, ip);
    }
    return ip;
  }

  /** GET pods/{name}/log: the container's output (`container`, `previous`, `tailLines` as the API takes them). */
  private serveLog(x: Exchange, pod: KObj): void {
    const containers = (pod.spec.containers as Any[]).map((c) => c.name as string);
    const name = x.query('container') ?? (containers.length === 1 ? containers[0] : undefined);
    if (!name) {
      throw new KubeStatus(400, 'BadRequest', `a container name must be specified for pod ${pod.metadata.name}, choose one of: [${containers.join(' ')}]`);
    }
    if (![...containers, ...((pod.spec.initContainers ?? []) as Any[]).map((c) => c.name)].includes(name)) {
      throw new KubeStatus(400, 'BadRequest', `container ${name} is not valid for pod ${pod.metadata.name}`);
    }
    const previous = x.query('previous') === 'true';
    const text = this.containers.logs(pod, name, previous);
    if (text === undefined) {
      if (previous) throw new KubeStatus(400, 'BadRequest', `previous terminated container "${name}" in pod "${pod.metadata.name}" not found`);
      throw new KubeStatus(400, 'BadRequest', `container "${name}" in pod "${pod.metadata.name}" is waiting to start: ContainerCreating`);
    }
    const tail = x.query('tailLines');
    let out = text;
    if (tail !== undefined) {
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      out = lines.slice(Math.max(0, lines.length - Number(tail))).map((l) => `${l}\n`).join('');
    }
    x.send(200, out, { 'content-type': 'text/plain' });
  }

  sync(pod: KObj): void {
    if (pod.metadata.deletionTimestamp) return this.terminate(pod);
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
      const choice = schedule(this.cluster, pod);
      if ('unschedulable' in choice) {
        const message = choice.unschedulable;
        setCondition('PodScheduled', 'False', { reason: 'Unschedulable', message });
        if (!sameStatus(pod.status, { ...status, phase: 'Pending', conditions })) {
          this.cluster.put({ ...pod, status: { ...status, phase: 'Pending', conditions } });
          this.cluster.event(pod, 'Warning', 'FailedScheduling', message, 'default-scheduler');
        }
        return;
      }
      nodeName = choice.nodeName;
      this.cluster.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${nodeName}`, 'default-scheduler');
    }
    setCondition('PodScheduled', 'True');
    status.hostIP ??= this.nodeAddress(nodeName);
    status.hostIPs ??= [{ ip: status.hostIP }];
    if (!status.podIP) {
      status.podIP = this.block.allocate();
      status.podIPs = [{ ip: status.podIP }];
      this.podIPs.set(pod.metadata.uid!, status.podIP);
      // The process gets POD_IP from the pod as stored, so the address is written before any container starts.
      pod = this.cluster.put({ ...pod, spec: { ...spec, nodeName }, status: { ...status, phase: 'Pending', conditions } });
    }
    status.startTime ??= t;
    status.qosClass ??= 'BestEffort';
    const missing = missingVolume(this.cluster, pod);
    if (missing) {
      if (this.mountFailures.get(pod.metadata.uid!) !== missing) {
        this.mountFailures.set(pod.metadata.uid!, missing);
        this.cluster.event(pod, 'Warning', 'FailedMount', missing);
      }
      const waiting = (spec.containers as Any[]).map((c) => waitingStatus(c, undefined, 'ContainerCreating'));
      const next = { ...status, phase: 'Pending', conditions, containerStatuses: waiting };
      if (!sameStatus(pod.status, next)) this.cluster.put({ ...pod, status: next });
      return;
    }

    const restartPolicy: string = spec.restartPolicy ?? 'Always';
    const previous = new Map<string, Any>(([...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])] as Any[]).map((cs) => [cs.name, cs]));
    const initStatuses: Any[] = [];
    let initDone = true;
    for (const c of (spec.initContainers ?? []) as Any[]) {
      const cs = initDone ? this.containers.status(pod, c, previous.get(c.name), restartPolicy === 'Always' ? 'OnFailure' : restartPolicy, true) : waitingStatus(c, previous.get(c.name), 'PodInitializing');
      initStatuses.push(cs);
      if (!cs.state.terminated || cs.state.terminated.exitCode !== 0) initDone = false;
    }
    const statuses: Any[] = (spec.containers as Any[]).map((c) => (initDone ? this.containers.status(pod, c, previous.get(c.name), restartPolicy, false) : waitingStatus(c, previous.get(c.name), 'PodInitializing')));
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
}
