import type { V1Deployment, V1ReplicaSet } from '@kubernetes/client-node';
import type { KObj } from '../kubeClient';
import { collectionPath, conditionOf, observed, ownedBy, waitingForObservation, type WorkloadKind } from './kind';
import { sameTemplate } from './template';

/**
 * Deployments: kubectl's DeploymentStatusViewer, then the new ReplicaSet found as the controller finds it, by the
 * pod template (FindNewReplicaSet), never by the revision annotation, which still names the previous ReplicaSet
 * until the controller has observed the applied generation.
 */
export const deployment: WorkloadKind = {
  kind: 'Deployment',
  apiVersion: 'apps/v1',
  readsReplicaSets: true,
  collection: (namespace) => collectionPath('apps/v1', namespace, 'deployments'),

  evaluate(obj) {
    const d = obj as unknown as V1Deployment;
    const status = d.status ?? {};
    if (!observed(obj)) return waitingForObservation(obj);
    if (d.spec?.paused) return { state: 'paused', message: `deployment "${obj.metadata.name}" is paused` };
    const progressing = conditionOf(d, 'Progressing');
    if (progressing?.reason === 'ProgressDeadlineExceeded') {
      return { state: 'failed', progressDeadline: true, message: progressing.message ?? `deployment "${obj.metadata.name}" exceeded its progress deadline` };
    }
    const replicas = d.spec?.replicas ?? 1;
    const updated = status.updatedReplicas ?? 0;
    if (updated < replicas) return { state: 'waiting', message: `${updated} out of ${replicas} new replicas have been updated` };
    if ((status.replicas ?? 0) > updated) return { state: 'waiting', message: `${(status.replicas ?? 0) - updated} old replicas are pending termination` };
    if ((status.availableReplicas ?? 0) < updated) return { state: 'waiting', message: `${status.availableReplicas ?? 0} of ${updated} updated replicas are available` };
    return { state: 'ready', message: `successfully rolled out (${updated} of ${replicas} replicas available)` };
  },

  revisionPods(obj, view) {
    const current = newReplicaSet(obj, view.replicaSets);
    if (!current) return undefined;
    const sets = ownedBy(obj, view.replicaSets);
    const previous = sets.filter((rs) => rs.metadata.uid !== current.metadata.uid).flatMap((rs) => ownedBy(rs, view.pods));
    return { current: ownedBy(current, view.pods), previous };
  },

  replicaFailure(obj, view) {
    const rs = newReplicaSet(obj, view.replicaSets) as unknown as V1ReplicaSet | undefined;
    const failure = rs && conditionOf(rs, 'ReplicaFailure');
    return failure?.status === 'True' ? `${failure.reason}: ${failure.message}` : undefined;
  },
};

/** The ReplicaSet of the applied template, once the controller has observed it; undefined before. */
function newReplicaSet(obj: KObj, replicaSets: KObj[]): KObj | undefined {
  if (!observed(obj)) return undefined;
  return ownedBy(obj, replicaSets)
    // The API server stamps every object's creation: the oldest ReplicaSet of the template is the controller's.
    .sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)))
    .find((rs) => sameTemplate(rs.spec?.template, obj.spec?.template));
}
