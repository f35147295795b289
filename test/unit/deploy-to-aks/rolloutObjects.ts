import type { KObj } from '../../../tasks/deploy-to-aks/kubeClient';

/** Objects as the API server returns them, for the rollout evaluators' tests. */

export const template = (image: string) => ({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } });

export function deploymentAt(spec: object, status: object, generation = 2): KObj {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop', uid: 'd-1', generation },
    spec: { replicas: 3, template: template('web:2'), ...spec }, status: { observedGeneration: generation, ...status },
  };
}

export function replicaSet(name: string, image: string, owner = 'd-1'): KObj {
  const t = template(image);
  return {
    apiVersion: 'apps/v1', kind: 'ReplicaSet',
    metadata: { name, namespace: 'shop', uid: `rs-${name}`, creationTimestamp: '2026-01-01T00:00:00Z', ownerReferences: [{ uid: owner, controller: true }] },
    spec: { template: { ...t, metadata: { labels: { ...t.metadata.labels, 'pod-template-hash': name } } } },
  };
}

export function pod(name: string, owner: string, status: object = {}, labels: Record<string, string> = {}): KObj {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop', uid: `p-${name}`, labels, ownerReferences: [{ uid: owner, controller: true }] }, status };
}

export const crashing = { phase: 'Running', containerStatuses: [{ name: 'web', image: 'web:2', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } }, lastState: { terminated: { exitCode: 1, reason: 'Error' } } }] };
export const pulling = { phase: 'Pending', containerStatuses: [{ name: 'web', image: 'web:bad', restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "web:bad"' } } }] };
export const readyPod = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'web', image: 'web:2', ready: true, restartCount: 0, state: { running: {} } }] };
