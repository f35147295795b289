import type { V1Job } from '@kubernetes/client-node';
import { collectionPath, conditionOf, ownedBy, type WorkloadKind } from './kind';

/** Jobs: complete or failed by their conditions. A Job's template cannot change, so all its pods are of its revision. */
export const job: WorkloadKind = {
  kind: 'Job',
  apiVersion: 'batch/v1',
  collection: (namespace) => collectionPath('batch/v1', namespace, 'jobs'),

  evaluate(obj) {
    const j = obj as unknown as V1Job;
    const status = j.status ?? {};
    const failed = conditionOf(j, 'Failed');
    if (failed?.status === 'True') return { state: 'failed', message: `the Job failed: ${failed.reason}: ${failed.message}` };
    const completions = j.spec?.completions ?? 1;
    if (conditionOf(j, 'Complete')?.status === 'True') return { state: 'ready', message: `completed (${status.succeeded ?? 0} of ${completions} succeeded)` };
    return { state: 'waiting', message: `${status.succeeded ?? 0} of ${completions} completions, ${status.active ?? 0} active, ${status.failed ?? 0} failed` };
  },

  revisionPods: (obj, view) => ({ current: ownedBy(obj, view.pods), previous: [] }),
};
