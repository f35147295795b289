import type { V1StatefulSet } from '@kubernetes/client-node';
import { collectionPath, failedCreate, observed, ownedBy, waitingForObservation, type WorkloadKind } from './kind';
import type { KObj } from '../kubeClient';
import { findPodProblem, isPodReady } from './podProblems';

/**
 * StatefulSets: kubectl's StatefulSetStatusViewer; the new revision's pods carry `controller-revision-hash` equal to
 * status.updateRevision. With podManagementPolicy OrderedReady (the default), a pod of the old revision that is
 * broken holds the rollout for good: the controller replaces pods only while all are Running and Ready.
 */
export const statefulSet: WorkloadKind = {
  kind: 'StatefulSet',
  apiVersion: 'apps/v1',
  collection: (namespace) => collectionPath('apps/v1', namespace, 'statefulsets'),
  readsEvents: true,

  evaluate(obj) {
    const s = obj as unknown as V1StatefulSet;
    if (!observed(obj)) return waitingForObservation(obj);
    // Observed: the controller has written a status.
    const status = s.status!;
    const replicas = s.spec?.replicas ?? 1;
    const ready = status.readyReplicas ?? 0;
    if (ready < replicas) return { state: 'waiting', message: `waiting for ${replicas - ready} pods to be ready` };
    if (s.spec?.updateStrategy?.type === 'OnDelete') {
      return { state: 'ready', message: `all ${replicas} pods are ready; updateStrategy OnDelete: ${status.updatedReplicas ?? 0} of ${replicas} run the new revision (the others change when deleted)` };
    }
    const partition = s.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    if (partition > 0) {
      if ((status.updatedReplicas ?? 0) < replicas - partition) {
        return { state: 'waiting', message: `waiting for partitioned roll out to finish: ${status.updatedReplicas ?? 0} out of ${replicas - partition} new pods have been updated` };
      }
      return { state: 'ready', message: `partitioned roll out complete: ${status.updatedReplicas ?? 0} new pods have been updated (partition ${partition})` };
    }
    if (status.updateRevision !== status.currentRevision) {
      return { state: 'waiting', message: `waiting for statefulset rolling update to complete ${status.updatedReplicas ?? 0} pods at revision ${status.updateRevision}` };
    }
    return { state: 'ready', message: `rolling update complete ${replicas} pods at revision ${status.currentRevision}` };
  },

  revisionPods(obj, view) {
    const revision = (obj as unknown as V1StatefulSet).status?.updateRevision;
    if (!observed(obj) || !revision) return undefined;
    const pods = ownedBy(obj, view.pods);
    const isNew = (p: KObj) => p.metadata.labels?.['controller-revision-hash'] === revision;
    return { current: pods.filter(isNew), previous: pods.filter((p) => !isNew(p)) };
  },

  replicaFailure: failedCreate,

  stuckPods(obj, pods) {
    const s = obj as unknown as V1StatefulSet;
    if (s.spec?.podManagementPolicy === 'Parallel' || s.spec?.updateStrategy?.type === 'OnDelete') return [];
    const partition = s.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    return pods.previous.filter((p) => ordinal(obj, p) >= partition && !isPodReady(p) && findPodProblem([p]) !== undefined);
  },
};

/** A StatefulSet pod's ordinal: its index label, else the number after the StatefulSet's name. */
function ordinal(owner: KObj, pod: KObj): number {
  return Number(pod.metadata.labels?.['apps.kubernetes.io/pod-index'] ?? pod.metadata.name.slice(owner.metadata.name.length + 1));
}
