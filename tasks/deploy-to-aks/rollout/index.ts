/**
 * Waiting for rollouts: `waitForRollouts` follows the applied workloads until each is ready or has failed.
 * Per kind: kinds.ts (the registry), deployment.ts, statefulSet.ts, daemonSet.ts, job.ts, pod.ts (each a
 * WorkloadKind, kind.ts); judge.ts decides one workload, wording.ts words it, listWatch.ts keeps collections current.
 */
export { judge, type Judgement, type RolloutTarget } from './judge';
export type { NamespaceView, RevisionPods, Verdict, WorkloadKind } from './kind';
export { WORKLOAD_KINDS, workloadKindOf } from './kinds';
export { ListWatch } from './listWatch';
export { findPodProblem, type PodProblem } from './podProblems';
export { sameTemplate } from './template';
export { waitError, waitForRollouts, type RolloutResult, type RolloutStatus, type WaitOptions } from './wait';
