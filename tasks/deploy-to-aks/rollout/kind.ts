import type { V1Condition } from '@kubernetes/client-node';
import type { KObj } from '../kubeClient';

/**
 * What one workload kind contributes to judging a rollout, in the shape of kubectl's status viewers
 * (pkg/polymorphichelpers/rollout_status.go): one module per kind, registered in kinds.ts.
 *
 * A rollout is judged on its new revision only: `revisionPods` answers only once the controller has observed the
 * applied generation (status.observedGeneration >= metadata.generation), and splits the workload's pods into the
 * new revision's and the older ones'. Pods of older revisions never fail or pass a rollout; they are context.
 */
export interface WorkloadKind {
  kind: string;
  apiVersion: string;
  /** The collection of this kind in a namespace, for list and watch. */
  collection(namespace: string): string;
  /** Whether revisionPods reads the namespace's ReplicaSets (so the wait watches them). */
  readsReplicaSets?: boolean;
  /** Whether replicaFailure reads the namespace's FailedCreate events (so the wait watches them). */
  readsEvents?: boolean;
  /** kubectl's rules for this kind, read off the workload alone: ready, waiting, failed, or paused. */
  evaluate(obj: KObj): Verdict;
  /** The pods of the new revision and of older ones; undefined until the new revision is known. */
  revisionPods(obj: KObj, view: NamespaceView): RevisionPods | undefined;
  /** A refusal to create the new revision's pods (ReplicaFailure or FailedCreate, e.g. a missing ServiceAccount or quota). */
  replicaFailure?(obj: KObj, view: NamespaceView): string | undefined;
  /**
   * Pods of an older revision that the controller waits on forever, so the new revision never rolls out: an
   * OrderedReady StatefulSet waits for a broken pod to become ready before it replaces it (kubernetes/kubernetes#67250).
   */
  stuckPods?(obj: KObj, pods: RevisionPods): KObj[];
}

/** What an evaluator says. `failed` never fixes itself; `paused` is decided by whether the manifest asked for it. */
export type Verdict =
  | { state: 'ready'; message: string }
  | { state: 'waiting'; message: string }
  | { state: 'paused'; message: string }
  | { state: 'failed'; message: string; progressDeadline?: boolean };

export interface RevisionPods {
  current: KObj[];
  previous: KObj[];
}

/**
 * What the wait keeps current for each namespace: its pods, its ReplicaSets when a kind reads them, and the
 * FailedCreate events recorded while it waits (never those of before: they belong to earlier rollouts).
 */
export interface NamespaceView {
  pods: KObj[];
  replicaSets: KObj[];
  failedCreates?: KObj[];
}

/**
 * The newest FailedCreate event about `obj` recorded during the wait, as `FailedCreate: <message>`: the StatefulSet
 * and DaemonSet controllers say a refused pod only so (no condition, unlike a ReplicaSet's ReplicaFailure).
 */
export function failedCreate(obj: KObj, view: NamespaceView): string | undefined {
  const about = (view.failedCreates ?? []).filter((e) => (e.involvedObject as { uid?: string } | undefined)?.uid === obj.metadata.uid);
  const latest = about.sort((a, b) => String(a.lastTimestamp ?? a.eventTime ?? '').localeCompare(String(b.lastTimestamp ?? b.eventTime ?? ''))).pop();
  return latest ? `FailedCreate: ${String(latest.message ?? '')}` : undefined;
}

/** kubectl's first rule for every kind: nothing is judged before the controller has seen the applied spec. */
export function observed(obj: KObj): boolean {
  const observedGeneration = (obj.status as { observedGeneration?: number } | undefined)?.observedGeneration ?? 0;
  return observedGeneration > 0 && observedGeneration >= (obj.metadata.generation ?? 0);
}

export function waitingForObservation(obj: KObj): Verdict {
  return { state: 'waiting', message: `waiting for ${obj.kind.toLowerCase()} "${obj.metadata.name}" spec update to be observed` };
}

/** The objects among `objects` that `owner` controls. */
export function ownedBy(owner: KObj, objects: KObj[]): KObj[] {
  return objects.filter((o) => ((o.metadata.ownerReferences ?? []) as { uid?: string; controller?: boolean }[]).some((r) => r.uid === owner.metadata.uid));
}

export function conditionOf(obj: { status?: { conditions?: V1Condition[] | unknown[] } }, type: string): { status?: string; reason?: string; message?: string } | undefined {
  return ((obj.status?.conditions ?? []) as { type?: string; status?: string; reason?: string; message?: string }[]).find((c) => c.type === type);
}

export function collectionPath(apiVersion: string, namespace: string, resource: string): string {
  return `${apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
}
