import type { V1Pod } from '@kubernetes/client-node';
import { collectionPath, conditionOf, type WorkloadKind } from './kind';

/** Bare Pods: done when Ready (or Succeeded), failed when Failed. */
export const pod: WorkloadKind = {
  kind: 'Pod',
  apiVersion: 'v1',
  collection: (namespace) => collectionPath('v1', namespace, 'pods'),

  evaluate(obj) {
    const p = obj as unknown as V1Pod;
    const status = p.status ?? {};
    if (status.phase === 'Succeeded') return { state: 'ready', message: 'completed' };
    if (status.phase === 'Failed') return { state: 'failed', message: `the pod failed${status.reason ? `: ${status.reason}` : ''}${status.message ? ` (${status.message})` : ''}` };
    const ready = conditionOf(p, 'Ready');
    if (ready?.status === 'True') return { state: 'ready', message: 'running and ready' };
    return { state: 'waiting', message: `${status.phase ?? 'Pending'}${ready?.message ? `: ${ready.message}` : ''}` };
  },

  revisionPods: (obj) => ({ current: [obj], previous: [] }),
};
