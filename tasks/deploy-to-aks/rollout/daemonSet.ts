import type { V1DaemonSet } from '@kubernetes/client-node';
import type { KObj } from '../kubeClient';
import { collectionPath, failedCreate, observed, ownedBy, waitingForObservation, type WorkloadKind } from './kind';

/**
 * DaemonSets: kubectl's DaemonSetStatusViewer. A pod is of the new revision as the controller's IsPodUpdated
 * decides: its `pod-template-generation` is the DaemonSet's generation, or its `controller-revision-hash` is that
 * of such a pod (the hash is the revision's own name, so a generation bumped by a change outside the template still
 * counts the pods of the same template as updated).
 */
export const daemonSet: WorkloadKind = {
  kind: 'DaemonSet',
  apiVersion: 'apps/v1',
  collection: (namespace) => collectionPath('apps/v1', namespace, 'daemonsets'),
  readsEvents: true,

  evaluate(obj) {
    const ds = obj as unknown as V1DaemonSet;
    if (!observed(obj)) return waitingForObservation(obj);
    // Observed: the controller has written a status.
    const status = ds.status!;
    const desired = status.desiredNumberScheduled ?? 0;
    const updated = status.updatedNumberScheduled ?? 0;
    const onDelete = ds.spec?.updateStrategy?.type === 'OnDelete';
    if (!onDelete && updated < desired) return { state: 'waiting', message: `${updated} out of ${desired} new pods have been updated` };
    if ((status.numberAvailable ?? 0) < desired) return { state: 'waiting', message: `${status.numberAvailable ?? 0} of ${desired} updated pods are available` };
    return {
      state: 'ready',
      message: onDelete
        ? `all ${desired} pods are available; updateStrategy OnDelete: ${updated} of ${desired} run the new template (the others change when deleted)`
        : `successfully rolled out (${desired} of ${desired} pods available)`,
    };
  },

  revisionPods(obj, view) {
    if (!observed(obj)) return undefined;
    const pods = ownedBy(obj, view.pods);
    // The API server gives every DaemonSet a generation; the label holds it as text.
    const generation = String(obj.metadata.generation);
    // A pod of this generation without a hash vouches for no other pod (else every pod without one would count as new).
    const hashes = new Set(pods.filter((p) => p.metadata.labels?.['pod-template-generation'] === generation).map((p) => p.metadata.labels['controller-revision-hash']).filter((h) => h !== undefined));
    const isNew = (p: KObj) => p.metadata.labels?.['pod-template-generation'] === generation || hashes.has(p.metadata.labels?.['controller-revision-hash']);
    return { current: pods.filter(isNew), previous: pods.filter((p) => !isNew(p)) };
  },

  replicaFailure: failedCreate,
};
