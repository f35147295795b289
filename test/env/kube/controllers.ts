import { createHash, randomBytes } from 'node:crypto';
import * as https from 'node:https';
import { clone, type KObj } from './types';
import type { KubeCluster } from './cluster';

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
 * The controllers (Deployment → ReplicaSet → Pod, StatefulSet, DaemonSet, Job, CRD establishment) and a kubelet
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
    for (const crd of c.list('apiextensions.k8s.io/v1', 'CustomResourceDefinition')) this.crd(crd);
    for (const d of c.list('apps/v1', 'Deployment')) this.deployment(d);
    for (const rs of c.list('apps/v1', 'ReplicaSet')) this.replicaSet(rs);
    for (const s of c.list('apps/v1', 'StatefulSet')) this.statefulSet(s);
    for (const ds of c.list('apps/v1', 'DaemonSet')) this.daemonSet(ds);
    for (const j of c.list('batch/v1', 'Job')) this.job(j);
    for (const p of c.list('v1', 'Pod')) this.kubelet(p);
  }

  // ---- CRDs ---------------------------------------------------------------------------------------------------

  private crd(crd: KObj): void {
    const established = (crd.status?.conditions ?? []).some((x: Any) => x.type === 'Established' && x.status === 'True');
    if (established) return;
    const created = Date.parse(crd.metadata.creationTimestamp);
    if (Date.now() - created < 150) return;
    this.cluster.establishCrd(crd);
    const t = now();
    this.cluster.put({
      ...crd,
      status: {
        acceptedNames: crd.spec.names,
        storedVersions: (crd.spec.versions as Any[]).filter((v) => v.storage).map((v) => v.name),
        conditions: [
          { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: t },
          { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: t },
        ],
      },
    });
  }

  // ---- Deployments --------------------------------------------------------------------------------------------

  private ownedBy(owner: KObj, apiVersion: string, kind: string): KObj[] {
    return this.cluster.list(apiVersion, kind, owner.metadata.namespace, (o) => (o.metadata.ownerReferences ?? []).some((r: Any) => r.uid === owner.metadata.uid));
  }

  private ownerRef(owner: KObj) {
    return [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }];
  }

  private deployment(d: KObj): void {
    const spec = d.spec as Any;
    const hash = templateHash(spec.template);
    const sets = this.ownedBy(d, 'apps/v1', 'ReplicaSet');
    const maxRevision = Math.max(0, ...sets.map((rs) => Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0)));
    let newRs = sets.find((rs) => rs.metadata.labels?.['pod-template-hash'] === hash);
    const status = clone(d.status ?? {}) as Any;
    const conditions: Any[] = status.conditions ?? [];
    const progressing = conditions.find((x) => x.type === 'Progressing');
    let progressed = false;
    if (spec.paused) return;
    if (!newRs || Number(newRs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0) < maxRevision) {
      const revision = String(maxRevision + (newRs ? 1 : 1));
      const template = clone(spec.template);
      template.metadata ??= {};
      template.metadata.labels = { ...template.metadata.labels, 'pod-template-hash': hash };
      newRs = this.cluster.put({
        apiVersion: 'apps/v1', kind: 'ReplicaSet',
        metadata: {
          ...(newRs?.metadata ?? {}),
          name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace, labels: { ...template.metadata.labels },
          annotations: { ...(newRs?.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': revision, 'deployment.kubernetes.io/desired-replicas': String(spec.replicas) },
          ownerReferences: this.ownerRef(d),
        },
        spec: { replicas: spec.replicas, selector: { matchLabels: { ...spec.selector.matchLabels, 'pod-template-hash': hash }, matchExpressions: spec.selector.matchExpressions }, template },
        status: newRs?.status ?? { replicas: 0 },
      });
      progressed = true;
      this.cluster.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${newRs.metadata.name} from 0 to ${spec.replicas}`, 'deployment-controller');
    }
    const revision: string = newRs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? '1';
    const uid: string = d.metadata.uid!;
    if (newRs.spec.replicas !== spec.replicas) newRs = this.cluster.put({ ...newRs, spec: { ...newRs.spec, replicas: spec.replicas } });
    const newAvailable = newRs.status?.availableReplicas ?? 0;
    const complete = newAvailable >= spec.replicas;
    for (const old of sets.filter((rs) => rs !== newRs && rs.metadata.uid !== newRs!.metadata.uid)) {
      if (complete && old.spec.replicas !== 0) {
        this.cluster.put({ ...old, spec: { ...old.spec, replicas: 0 } });
        this.cluster.event(d, 'Normal', 'ScalingReplicaSet', `Scaled down replica set ${old.metadata.name} from ${old.spec.replicas} to 0`, 'deployment-controller');
      }
    }
    const all = this.ownedBy(d, 'apps/v1', 'ReplicaSet');
    const sum = (f: (rs: KObj) => number) => all.reduce((n, rs) => n + f(rs), 0);
    const replicas = sum((rs) => rs.status?.replicas ?? 0);
    const updated = newRs.status?.replicas ?? 0;
    const ready = sum((rs) => rs.status?.readyReplicas ?? 0);
    const available = sum((rs) => rs.status?.availableReplicas ?? 0);
    const lastSeen = this.progressMarks.get(uid) ?? { revision: '', available: -1, at: Date.now() };
    if (lastSeen.revision !== revision || newAvailable > lastSeen.available) {
      progressed = true;
      this.progressMarks.set(uid, { revision, available: newAvailable, at: Date.now() });
    }
    const t = now();
    let next: Any;
    const rsFailure = (newRs.status?.conditions ?? []).find((x: Any) => x.type === 'ReplicaFailure');
    if (complete) {
      next = { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${newRs.metadata.name}" has successfully progressed.` };
    } else if (progressing?.reason === 'ProgressDeadlineExceeded' && !progressed) {
      next = progressing;
    } else if (!progressed && Date.now() - (this.progressMarks.get(uid)?.at ?? Date.now()) > spec.progressDeadlineSeconds * 1000) {
      next = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${newRs.metadata.name}" has timed out progressing.` };
      this.cluster.event(d, 'Warning', 'ProgressDeadlineExceeded', `Deployment "${d.metadata.name}" has timed out progressing`, 'deployment-controller');
    } else {
      next = { type: 'Progressing', status: 'True', reason: progressing?.reason === 'NewReplicaSetCreated' && !progressed ? 'NewReplicaSetCreated' : 'ReplicaSetUpdated', message: `ReplicaSet "${newRs.metadata.name}" is progressing.` };
    }
    const keepTime = (prev: Any, cond: Any) => ({
      ...cond,
      lastUpdateTime: prev && prev.reason === cond.reason && prev.status === cond.status && !progressed ? prev.lastUpdateTime : t,
      lastTransitionTime: prev && prev.status === cond.status ? prev.lastTransitionTime : t,
    });
    const availableCond = available >= spec.replicas - maxUnavailable(spec)
      ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
      : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' };
    const newConditions = [keepTime(conditions.find((x) => x.type === 'Available'), availableCond), keepTime(progressing, next)];
    if (rsFailure) newConditions.push({ ...rsFailure });
    const newStatus = {
      observedGeneration: d.metadata.generation, replicas, updatedReplicas: updated, readyReplicas: ready, availableReplicas: available,
      unavailableReplicas: Math.max(0, spec.replicas - available), conditions: newConditions,
    };
    if (!sameStatus(d.status, newStatus)) {
      this.cluster.put({ ...d, metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, 'deployment.kubernetes.io/revision': revision } }, status: newStatus });
    } else if (d.metadata.annotations?.['deployment.kubernetes.io/revision'] !== revision) {
      this.cluster.put({ ...d, metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, 'deployment.kubernetes.io/revision': revision } } });
    }
  }

  private readonly progressMarks = new Map<string, { revision: string; available: number; at: number }>();

  private replicaSet(rs: KObj): void {
    const pods = this.ownedBy(rs, 'v1', 'Pod');
    const want = rs.spec.replicas ?? 1;
    let failure: string | undefined;
    for (let i = pods.length; i < want; i++) {
      const name = `${rs.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
      const created = this.createPod(rs, name, rs.spec.template, {});
      if (typeof created === 'string') { failure = created; break; }
      pods.push(created);
    }
    for (const extra of pods.slice(want)) this.cluster.remove(extra);
    const live = pods.slice(0, want);
    const conditions = failure ? [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: failure, lastTransitionTime: now() }] : undefined;
    const status = {
      replicas: live.length, fullyLabeledReplicas: live.length,
      readyReplicas: live.filter(isReady).length, availableReplicas: live.filter(isReady).length, observedGeneration: rs.metadata.generation,
      ...(conditions ? { conditions } : {}),
    };
    if (!sameStatus(rs.status, status)) this.cluster.put({ ...rs, status });
  }

  /** Creates a pod through admission; a denial becomes a FailedCreate event and is returned as text. */
  private createPod(owner: KObj, name: string, template: Any, extraLabels: Record<string, string>, nodeName?: string): KObj | string {
    const pod: KObj = {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name, namespace: owner.metadata.namespace, labels: { ...template.metadata?.labels, ...extraLabels }, annotations: { ...template.metadata?.annotations }, ownerReferences: this.ownerRef(owner) },
      spec: { ...clone(template.spec), ...(nodeName ? { nodeName } : {}) },
      status: { phase: 'Pending', conditions: [] },
    };
    try {
      this.cluster.admit(pod, 'CREATE', false);
    } catch (err) {
      const message = `Error creating: pods "${name}" is forbidden: ${(err as Error).message}`;
      this.cluster.event(owner, 'Warning', 'FailedCreate', message, `${owner.kind.toLowerCase()}-controller`);
      return message;
    }
    const created = this.cluster.put(pod);
    this.cluster.event(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${name}`, `${owner.kind.toLowerCase()}-controller`);
    return created;
  }

  // ---- StatefulSets -------------------------------------------------------------------------------------------

  private statefulSet(s: KObj): void {
    const spec = s.spec as Any;
    const updateRevision = `${s.metadata.name}-${templateHash(spec.template)}`;
    const pods = this.ownedBy(s, 'v1', 'Pod');
    const byOrdinal = new Map(pods.map((p) => [Number(p.metadata.name.slice(s.metadata.name.length + 1)), p]));
    const replicas = spec.replicas ?? 1;
    const rolling = spec.updateStrategy?.type !== 'OnDelete';
    const partition = rolling ? (spec.updateStrategy?.rollingUpdate?.partition ?? 0) : 0;
    const ordered = spec.podManagementPolicy !== 'Parallel';
    let currentRevision: string = s.status?.currentRevision ?? updateRevision;
    for (let i = 0; i < replicas; i++) {
      if (byOrdinal.has(i)) {
        if (ordered && !isReady(byOrdinal.get(i)!)) break;
        continue;
      }
      // A pod below the partition keeps the current revision; the rest get the update revision.
      const revision = rolling && i < partition && currentRevision !== updateRevision ? currentRevision : updateRevision;
      const template = revision === updateRevision ? spec.template : (this.revisions.get(currentRevision) ?? spec.template);
      const created = this.createPod(s, `${s.metadata.name}-${i}`, template, { 'controller-revision-hash': revision, 'statefulset.kubernetes.io/pod-name': `${s.metadata.name}-${i}`, 'apps.kubernetes.io/pod-index': String(i) });
      if (typeof created !== 'string') byOrdinal.set(i, created);
      break;
    }
    this.revisions.set(updateRevision, clone(spec.template));
    for (const [i, p] of byOrdinal) if (i >= replicas) { this.cluster.remove(p); byOrdinal.delete(i); }
    const all = [...byOrdinal.values()];
    if (rolling && all.length === replicas && all.every(isReady)) {
      for (let i = replicas - 1; i >= partition; i--) {
        const p = byOrdinal.get(i)!;
        if (p.metadata.labels?.['controller-revision-hash'] !== updateRevision) {
          this.cluster.remove(p);
          break;
        }
      }
    }
    const updated = all.filter((p) => p.metadata.labels?.['controller-revision-hash'] === updateRevision);
    if (updated.length === replicas) currentRevision = updateRevision;
    const status = {
      observedGeneration: s.metadata.generation, replicas: all.length, readyReplicas: all.filter(isReady).length, availableReplicas: all.filter(isReady).length,
      currentReplicas: all.filter((p) => p.metadata.labels?.['controller-revision-hash'] === currentRevision).length, updatedReplicas: updated.length,
      currentRevision, updateRevision, collisionCount: 0,
    };
    if (!sameStatus(s.status, status)) this.cluster.put({ ...s, status });
  }

  private readonly revisions = new Map<string, Any>();

  // ---- DaemonSets ---------------------------------------------------------------------------------------------

  private daemonSet(ds: KObj): void {
    const spec = ds.spec as Any;
    const hash = templateHash(spec.template);
    const nodes = this.cluster.list('v1', 'Node').filter((n) => Object.entries(spec.template.spec.nodeSelector ?? {}).every(([k, v]) => n.metadata.labels?.[k] === v));
    const pods = this.ownedBy(ds, 'v1', 'Pod');
    const rolling = spec.updateStrategy?.type !== 'OnDelete';
    for (const node of nodes) {
      if (!pods.some((p) => p.spec.nodeName === node.metadata.name)) {
        const created = this.createPod(ds, `${ds.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`, spec.template, { 'controller-revision-hash': hash, 'pod-template-generation': String(ds.metadata.generation) }, node.metadata.name);
        if (typeof created !== 'string') pods.push(created);
      }
    }
    if (rolling && pods.every(isReady)) {
      const stale = pods.find((p) => p.metadata.labels?.['controller-revision-hash'] !== hash);
      if (stale) this.cluster.remove(stale);
    }
    const live = this.ownedBy(ds, 'v1', 'Pod');
    const updated = live.filter((p) => p.metadata.labels?.['controller-revision-hash'] === hash);
    const status = {
      observedGeneration: ds.metadata.generation, desiredNumberScheduled: nodes.length, currentNumberScheduled: live.length, numberMisscheduled: 0,
      numberReady: live.filter(isReady).length, numberAvailable: live.filter(isReady).length, updatedNumberScheduled: updated.length,
      numberUnavailable: Math.max(0, nodes.length - live.filter(isReady).length),
    };
    if (!sameStatus(ds.status, status)) this.cluster.put({ ...ds, status });
  }

  // ---- Jobs ---------------------------------------------------------------------------------------------------

  private job(j: KObj): void {
    const spec = j.spec as Any;
    const status = clone(j.status ?? {}) as Any;
    if ((status.conditions ?? []).some((x: Any) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True')) return;
    const pods = this.ownedBy(j, 'v1', 'Pod');
    const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length;
    const failed = pods.filter((p) => p.status?.phase === 'Failed').length + pods.reduce((n, p) => n + restarts(p), 0);
    const active = pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
    const t = now();
    const next: Any = { startTime: status.startTime ?? t, active: active.length, succeeded, failed, ready: active.filter(isReady).length };
    if (succeeded >= spec.completions) {
      next.completionTime = t;
      next.conditions = [
        { type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods', lastProbeTime: t, lastTransitionTime: t },
        { type: 'Complete', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods', lastProbeTime: t, lastTransitionTime: t },
      ];
      this.cluster.event(j, 'Normal', 'Completed', 'Job completed', 'job-controller');
      for (const p of active) this.cluster.remove(p);
    } else if (failed > spec.backoffLimit) {
      next.conditions = [
        { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastProbeTime: t, lastTransitionTime: t },
        { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastProbeTime: t, lastTransitionTime: t },
      ];
      this.cluster.event(j, 'Warning', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', 'job-controller');
      for (const p of active) this.cluster.remove(p);
    } else {
      const want = Math.min(spec.parallelism, spec.completions - succeeded) - active.length;
      for (let i = 0; i < want; i++) {
        const labels = { 'batch.kubernetes.io/job-name': j.metadata.name, 'job-name': j.metadata.name, 'batch.kubernetes.io/controller-uid': j.metadata.uid!, 'controller-uid': j.metadata.uid! };
        this.createPod(j, `${j.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`, spec.template, labels);
      }
      next.conditions = status.conditions;
    }
    if (!sameStatus(j.status, next)) this.cluster.put({ ...j, status: next });
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

function isReady(p: KObj): boolean {
  return (p.status?.conditions ?? []).some((x: Any) => x.type === 'Ready' && x.status === 'True');
}

function restarts(p: KObj): number {
  return (p.status?.containerStatuses ?? []).reduce((n: number, cs: Any) => n + (cs.restartCount ?? 0), 0);
}

function sameStatus(a: unknown, b: unknown): boolean {
  const strip = (v: unknown) => JSON.stringify(v, (k, val: unknown) => (k === 'lastUpdateTime' || k === 'lastTransitionTime' || k === 'lastProbeTime' ? undefined : val));
  return strip(a) === strip(b);
}

function maxUnavailable(spec: Any): number {
  const v = spec.strategy?.rollingUpdate?.maxUnavailable ?? '25%';
  const replicas = spec.replicas ?? 1;
  return typeof v === 'string' && v.endsWith('%') ? Math.floor((replicas * Number(v.slice(0, -1))) / 100) : Number(v);
}

function cpuMillis(v: unknown): number {
  if (v === undefined) return 0;
  const s = String(v);
  return s.endsWith('m') ? Number(s.slice(0, -1)) : Number(s) * 1000;
}

/** The pod-template-hash a controller gives a template. */
export function templateHash(template: unknown): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const digest = createHash('sha256').update(JSON.stringify(template)).digest();
  return [...digest.subarray(0, 10)].map((b) => alphabet[b % alphabet.length]).join('');
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

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export { FAILING_WAIT_REASONS };
