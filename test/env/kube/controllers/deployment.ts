import type { KubeCluster } from '../cluster';
import { clone, type KObj } from '../types';
import { controllerRef, now, ownedBy, sameStatus, templateHash, type Any } from './objects';

const progressMarks = new Map<string, { revision: string; available: number; at: number }>();

/** The Deployment controller: one ReplicaSet per pod template, the old ones scaled down, the status written. */
export function reconcileDeployment(cluster: KubeCluster, d: KObj): void {
  const spec = d.spec as Any;
  const hash = templateHash(spec.template);
  const sets = ownedBy(cluster, d, 'apps/v1', 'ReplicaSet');
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
    newRs = cluster.put({
      apiVersion: 'apps/v1', kind: 'ReplicaSet',
      metadata: {
        ...(newRs?.metadata ?? {}),
        name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace, labels: { ...template.metadata.labels },
        annotations: { ...(newRs?.metadata.annotations ?? {}), 'deployment.kubernetes.io/revision': revision, 'deployment.kubernetes.io/desired-replicas': String(spec.replicas) },
        ownerReferences: controllerRef(d),
      },
      spec: { replicas: spec.replicas, selector: { matchLabels: { ...spec.selector.matchLabels, 'pod-template-hash': hash }, matchExpressions: spec.selector.matchExpressions }, template },
      status: newRs?.status ?? { replicas: 0 },
    });
    progressed = true;
    cluster.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${newRs.metadata.name} from 0 to ${spec.replicas}`, 'deployment-controller');
  }
  const revision: string = newRs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? '1';
  const uid: string = d.metadata.uid!;
  if (newRs.spec.replicas !== spec.replicas) newRs = cluster.put({ ...newRs, spec: { ...newRs.spec, replicas: spec.replicas } });
  const newAvailable = newRs.status?.availableReplicas ?? 0;
  const complete = newAvailable >= spec.replicas;
  for (const old of sets.filter((rs) => rs !== newRs && rs.metadata.uid !== newRs!.metadata.uid)) {
    if (complete && old.spec.replicas !== 0) {
      cluster.put({ ...old, spec: { ...old.spec, replicas: 0 } });
      cluster.event(d, 'Normal', 'ScalingReplicaSet', `Scaled down replica set ${old.metadata.name} from ${old.spec.replicas} to 0`, 'deployment-controller');
    }
  }
  const all = ownedBy(cluster, d, 'apps/v1', 'ReplicaSet');
  const sum = (f: (rs: KObj) => number) => all.reduce((n, rs) => n + f(rs), 0);
  const replicas = sum((rs) => rs.status?.replicas ?? 0);
  const updated = newRs.status?.replicas ?? 0;
  const ready = sum((rs) => rs.status?.readyReplicas ?? 0);
  const available = sum((rs) => rs.status?.availableReplicas ?? 0);
  const lastSeen = progressMarks.get(uid) ?? { revision: '', available: -1, at: Date.now() };
  if (lastSeen.revision !== revision || newAvailable > lastSeen.available) {
    progressed = true;
    progressMarks.set(uid, { revision, available: newAvailable, at: Date.now() });
  }
  const t = now();
  let next: Any;
  const rsFailure = (newRs.status?.conditions ?? []).find((x: Any) => x.type === 'ReplicaFailure');
  if (complete) {
    next = { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${newRs.metadata.name}" has successfully progressed.` };
  } else if (progressing?.reason === 'ProgressDeadlineExceeded' && !progressed) {
    next = progressing;
  } else if (!progressed && Date.now() - (progressMarks.get(uid)?.at ?? Date.now()) > spec.progressDeadlineSeconds * 1000) {
    next = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: `ReplicaSet "${newRs.metadata.name}" has timed out progressing.` };
    cluster.event(d, 'Warning', 'ProgressDeadlineExceeded', `Deployment "${d.metadata.name}" has timed out progressing`, 'deployment-controller');
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
    cluster.put({ ...d, metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, 'deployment.kubernetes.io/revision': revision } }, status: newStatus });
  } else if (d.metadata.annotations?.['deployment.kubernetes.io/revision'] !== revision) {
    cluster.put({ ...d, metadata: { ...d.metadata, annotations: { ...d.metadata.annotations, 'deployment.kubernetes.io/revision': revision } } });
  }
}

function maxUnavailable(spec: Any): number {
  const v = spec.strategy?.rollingUpdate?.maxUnavailable ?? '25%';
  const replicas = spec.replicas ?? 1;
  return typeof v === 'string' && v.endsWith('%') ? Math.floor((replicas * Number(v.slice(0, -1))) / 100) : Number(v);
}
