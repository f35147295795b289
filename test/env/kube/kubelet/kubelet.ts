import type { KubeCluster } from '../cluster';
import { now, sameStatus } from '../status';
import { clone, type KObj } from '../types';
import { Containers, waitingStatus } from './containers';
import { ImagePuller, type RegistryAccess } from './images';
import { schedule } from './scheduler';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/**
 * The kubelet stand-in of one cluster: on a fast tick it schedules pods that have no node, pulls their images
 * from the local registries, and reports their containers' state and the pod's conditions.
 */
export class Kubelet {
  /** Milliseconds between syncs. */
  tickMs = 50;
  readonly images: ImagePuller;
  readonly containers: Containers;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(private readonly cluster: KubeCluster, registries: RegistryAccess[], caPem: string) {
    this.images = new ImagePuller(cluster, registries, caPem);
    this.containers = new Containers(cluster, this.images);
  }

  /** The registries the cluster itself may pull from. */
  get registries(): RegistryAccess[] {
    return this.images.registries;
  }

  start(): void {
    const loop = () => {
      if (!this.busy) {
        this.busy = true;
        try {
          for (const p of this.cluster.list('v1', 'Pod')) this.sync(p);
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
    this.images.forget();
  }

  sync(pod: KObj): void {
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
      const cs = initDone ? this.containers.status(pod, c, previous.get(c.name), true, restartPolicy) : waitingStatus(c, previous.get(c.name), 'PodInitializing');
      initStatuses.push(cs);
      if (!cs.state.terminated || cs.state.terminated.exitCode !== 0) initDone = false;
    }
    const statuses: Any[] = (spec.containers as Any[]).map((c) => (initDone ? this.containers.status(pod, c, previous.get(c.name), isJob, restartPolicy) : waitingStatus(c, previous.get(c.name), 'PodInitializing')));
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
