import { createHash, randomBytes } from 'node:crypto';
import { clone, type KObj } from './types';
import type { KubeCluster } from './cluster';
import { isReady, now, sameStatus } from './status';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/**
 * The controllers (Deployment → ReplicaSet → Pod, StatefulSet, DaemonSet, Job, CRD establishment), run on a fast
 * tick so rollouts take fractions of a second. The kubelet stand-in (kubelet/) runs pods on its own tick.
 */
export class Controllers {
  /** Milliseconds between reconciliations. */
  tickMs = 50;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(private readonly cluster: KubeCluster) {}

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

  private tick(): void {
    const c = this.cluster;
    for (const crd of c.list('apiextensions.k8s.io/v1', 'CustomResourceDefinition')) this.crd(crd);
    for (const d of c.list('apps/v1', 'Deployment')) this.deployment(d);
    for (const rs of c.list('apps/v1', 'ReplicaSet')) this.replicaSet(rs);
    for (const s of c.list('apps/v1', 'StatefulSet')) this.statefulSet(s);
    for (const ds of c.list('apps/v1', 'DaemonSet')) this.daemonSet(ds);
    for (const j of c.list('batch/v1', 'Job')) this.job(j);
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
}

function restarts(p: KObj): number {
  return (p.status?.containerStatuses ?? []).reduce((n: number, cs: Any) => n + (cs.restartCount ?? 0), 0);
}

function maxUnavailable(spec: Any): number {
  const v = spec.strategy?.rollingUpdate?.maxUnavailable ?? '25%';
  const replicas = spec.replicas ?? 1;
  return typeof v === 'string' && v.endsWith('%') ? Math.floor((replicas * Number(v.slice(0, -1))) / 100) : Number(v);
}

/** The pod-template-hash a controller gives a template. */
export function templateHash(template: unknown): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const digest = createHash('sha256').update(JSON.stringify(template)).digest();
  return [...digest.subarray(0, 10)].map((b) => alphabet[b % alphabet.length]).join('');
}

