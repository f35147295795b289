import type { KObj } from '../kubeClient';
import { daemonSet } from './daemonSet';
import { deployment } from './deployment';
import { job } from './job';
import type { WorkloadKind } from './kind';
import { pod } from './pod';
import { statefulSet } from './statefulSet';

/** Every kind the task waits for, by kind: a new kind is one module and one entry here. */
const KINDS = new Map<string, WorkloadKind>([deployment, statefulSet, daemonSet, job, pod].map((k) => [k.kind, k]));

/** Kinds whose rollout the task waits for. */
export const WORKLOAD_KINDS: ReadonlySet<string> = new Set(KINDS.keys());

/** The kind module of a workload the task waits for (its apiVersion included), or undefined. */
export function workloadKindOf(obj: Pick<KObj, 'apiVersion' | 'kind'>): WorkloadKind | undefined {
  const kind = KINDS.get(obj.kind);
  return kind && kind.apiVersion === obj.apiVersion ? kind : undefined;
}
