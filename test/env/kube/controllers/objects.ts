import { createHash, randomBytes } from 'node:crypto';
import type { KubeCluster } from '../cluster';
import { clone, type KObj } from '../types';

export { isReady, now, sameStatus } from '../status';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Any = any;

/** The pod-template-hash a controller gives a template. */
export function templateHash(template: unknown): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  const digest = createHash('sha256').update(JSON.stringify(template)).digest();
  return [...digest.subarray(0, 10)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** A five-character name suffix, as generateName gives. */
export function nameSuffix(): string {
  return randomBytes(3).toString('hex').slice(0, 5);
}

/** The objects of a kind in the owner's namespace that name it as an owner. */
export function ownedBy(cluster: KubeCluster, owner: KObj, apiVersion: string, kind: string): KObj[] {
  return cluster.list(apiVersion, kind, owner.metadata.namespace, (o) => (o.metadata.ownerReferences ?? []).some((r: Any) => r.uid === owner.metadata.uid));
}

/** The ownerReferences of an object the owner controls. */
export function controllerRef(owner: KObj) {
  return [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }];
}

/** Creates a pod through admission; a denial becomes a FailedCreate event and is returned as text. */
export function createPod(cluster: KubeCluster, owner: KObj, name: string, template: Any, extraLabels: Record<string, string>, nodeName?: string): KObj | string {
  const pod: KObj = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: owner.metadata.namespace, labels: { ...template.metadata?.labels, ...extraLabels }, annotations: { ...template.metadata?.annotations }, ownerReferences: controllerRef(owner) },
    spec: { ...clone(template.spec), ...(nodeName ? { nodeName } : {}) },
    status: { phase: 'Pending', conditions: [] },
  };
  try {
    cluster.admit(pod, 'CREATE', false);
  } catch (err) {
    const message = `Error creating: pods "${name}" is forbidden: ${(err as Error).message}`;
    cluster.event(owner, 'Warning', 'FailedCreate', message, `${owner.kind.toLowerCase()}-controller`);
    return message;
  }
  const created = cluster.put(pod);
  cluster.event(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${name}`, `${owner.kind.toLowerCase()}-controller`);
  return created;
}
