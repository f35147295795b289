import { createHash, randomBytes } from 'node:crypto';
import type { KubeCluster } from '../cluster';
import { isReady } from '../status';
import { KubeStatus, clone, type KObj } from '../types';

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

/** A pod's name: given (a StatefulSet's ordinal pods) or generated from a prefix (ReplicaSets, DaemonSets, Jobs). */
export type PodName = { name: string } | { generateName: string };

/**
 * Creates a pod as a controller does, through the API server's admission: the ServiceAccount plugin first, then
 * the cluster's policies. A refusal becomes a FailedCreate Warning event on the owner ("Error creating: …", a
 * StatefulSet's "create Pod … in StatefulSet … failed error: …") and is
 * returned as the error's text, which ReplicaSets put in their ReplicaFailure condition.
 */
export function createPod(cluster: KubeCluster, owner: KObj, podName: PodName, template: Any, extraLabels: Record<string, string>, nodeName?: string): KObj | string {
  const shownName = 'name' in podName ? podName.name : podName.generateName;
  const pod: KObj = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: 'name' in podName ? podName.name : `${podName.generateName}${nameSuffix()}`, ...('generateName' in podName ? { generateName: podName.generateName } : {}),
      namespace: owner.metadata.namespace, labels: { ...template.metadata?.labels, ...extraLabels }, annotations: { ...template.metadata?.annotations },
      ownerReferences: controllerRef(owner),
    },
    spec: { ...clone(template.spec), ...(nodeName ? { nodeName } : {}) },
    status: { phase: 'Pending', conditions: [] },
  };
  const component = `${owner.kind.toLowerCase()}-controller`;
  try {
    admitServiceAccount(cluster, pod, shownName);
    cluster.admit(pod, 'CREATE', false);
  } catch (err) {
    const message = (err as Error).message;
    // The StatefulSet controller words it itself (stateful_pod_control.go recordPodEvent); the others through PodControl.
    const event = owner.kind === 'StatefulSet' ? `create Pod ${shownName} in StatefulSet ${owner.metadata.name} failed error: ${message}` : `Error creating: ${message}`;
    cluster.event(owner, 'Warning', 'FailedCreate', event, component);
    return message;
  }
  const created = cluster.put(pod);
  cluster.event(owner, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`, component);
  return created;
}

/**
 * The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount): a pod without serviceAccountName runs
 * as `default`, and a pod whose ServiceAccount does not exist is refused. A refused create has no name yet, so the
 * message names the generateName prefix, as in `pods "web-7c79c4bf97-" is forbidden: error looking up service
 * account shop/web: serviceaccount "web" not found`.
 */
export function admitServiceAccount(cluster: KubeCluster, pod: KObj, shownName: string): void {
  const ns = pod.metadata.namespace!;
  pod.spec.serviceAccountName ||= pod.spec.serviceAccount || 'default';
  pod.spec.serviceAccount = pod.spec.serviceAccountName;
  const account = pod.spec.serviceAccountName as string;
  if (!cluster.get('v1', 'ServiceAccount', ns, account)) {
    throw new KubeStatus(403, 'Forbidden', `pods "${shownName}" is forbidden: error looking up service account ${ns}/${account}: serviceaccount "${account}" not found`);
  }
}

/**
 * Deletes a pod as a controller's PodControl does (RealPodControl.DeletePod in pkg/controller/controller_utils.go;
 * a StatefulSet's DeleteStatefulPod in stateful_pod_control.go): through the API with the default grace period,
 * so a pod on a node turns Terminating until the kubelet has ended its processes, and a SuccessfulDelete event on
 * the owner. A pod already marked for deletion is left alone (the controllers skip those; deleting it again would
 * change nothing but the event count).
 */
export function deletePod(cluster: KubeCluster, owner: KObj, pod: KObj): void {
  if (pod.metadata.deletionTimestamp) return;
  const { code } = cluster.deleteObject(pod, {});
  if (code === 404) return;
  const name = pod.metadata.name;
  const message = owner.kind === 'StatefulSet' ? `delete Pod ${name} in StatefulSet ${owner.metadata.name} successful` : `Deleted pod: ${name}`;
  cluster.event(owner, 'Normal', 'SuccessfulDelete', message, `${owner.kind.toLowerCase()}-controller`);
}

/** Whether a pod is being deleted (a deletionTimestamp: Terminating until the kubelet has ended it). */
export function isTerminating(p: KObj): boolean {
  return !!p.metadata.deletionTimestamp;
}

/** Whether a pod's containers have finished for good (Succeeded or Failed): it has no process left to end. */
export function isFinished(p: KObj): boolean {
  return p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
}

/**
 * Whether a pod counts for its controller: not finished and not being deleted (IsPodActive, which FilterActivePods
 * applies, in pkg/controller/controller_utils.go). A Terminating pod is not one of a ReplicaSet's replicas, so its
 * replacement is made at once and a rollout does not wait for it to end.
 */
export function isActivePod(p: KObj): boolean {
  return !isFinished(p) && !isTerminating(p);
}

/**
 * IsPodAvailable: ready, and with minReadySeconds, ready for longer than that. The Ready condition's
 * lastTransitionTime has whole seconds, so a pod ready at 10:00:00.7 with minReadySeconds 2 is available from
 * 10:00:02 on (the time the API shows, not the instant).
 */
export function isAvailable(p: KObj, minReadySeconds: number): boolean {
  if (!isReady(p)) return false;
  if (!minReadySeconds) return true;
  const ready = ((p.status?.conditions ?? []) as Any[]).find((c) => c.type === 'Ready');
  const since = Date.parse(ready?.lastTransitionTime ?? '');
  return Number.isFinite(since) && since + minReadySeconds * 1000 < Date.now();
}
