import { FIELD_MANAGER } from '../apply';
import type { KObj } from '../kubeClient';
import { workloadKindOf } from './kinds';
import type { NamespaceView, RevisionPods } from './kind';
import { managersOf } from './managedFields';
import { findPodProblem, type PodProblem } from './podProblems';
import { sameTemplate } from './template';
import * as say from './wording';

/** A workload this deployment applied, as the wait follows it. */
export interface RolloutTarget {
  /** The object as the apply answered: its template is what this deployment rolls out. */
  applied: KObj;
  /** The manifest as sent, for what it asks itself (spec.paused). */
  manifest: KObj;
}

export type Judgement =
  | { outcome: 'waiting'; message: string; pods?: RevisionPods }
  | { outcome: 'ready'; message: string; pods?: RevisionPods }
  | { outcome: 'failed'; status: 'failed' | 'progressDeadline' | 'superseded'; message: string; pods?: RevisionPods; problem?: PodProblem }
  | { outcome: 'stuck'; message: string; stuck: KObj[]; pods: RevisionPods };

/**
 * One look at a workload: whether the applied template is still the live one, the kind's verdict, and, on the new
 * revision's pods only, the problems that do not fix themselves. The order matters: a superseded template is
 * never judged ready; a pause decides before anything waits for a rollout that cannot happen; old-revision pods
 * are reported only as what holds an OrderedReady StatefulSet.
 */
export function judge(target: RolloutTarget, live: KObj, view: NamespaceView, key: string): Judgement {
  const kind = workloadKindOf(live)!;
  const template = target.applied.spec?.template;
  if (template && live.spec?.template && !sameTemplate(template, live.spec.template)) {
    return { outcome: 'failed', status: 'superseded', message: say.superseded(key, live, writersOf(live, ['spec', 'template']), FIELD_MANAGER) };
  }
  const verdict = kind.evaluate(live);
  if (verdict.state === 'paused') {
    const byManifest = target.manifest.spec?.paused === true;
    const message = say.paused(key, live, byManifest, writersOf(live, ['spec', 'paused']));
    return byManifest ? { outcome: 'ready', message } : { outcome: 'failed', status: 'failed', message };
  }
  const pods = kind.revisionPods(live, view);
  if (verdict.state === 'ready') return { outcome: 'ready', message: verdict.message, pods };
  if (verdict.state === 'failed') {
    const status = verdict.progressDeadline ? 'progressDeadline' : 'failed';
    return { outcome: 'failed', status, message: verdict.message, pods, problem: pods && findPodProblem(pods.current) };
  }
  if (!pods) return { outcome: 'waiting', message: verdict.message };
  const problem = findPodProblem(pods.current);
  if (problem) return { outcome: 'failed', status: 'failed', message: say.failed(key, problem.summary), pods, problem };
  const refused = kind.replicaFailure?.(live, view);
  if (refused) return { outcome: 'failed', status: 'failed', message: say.failed(key, refused), pods };
  const stuck = kind.stuckPods?.(live, pods) ?? [];
  if (stuck.length) return { outcome: 'stuck', message: say.stuck(key, live, stuck), stuck, pods };
  return { outcome: 'waiting', message: verdict.message, pods };
}

/** The field managers that wrote a field, others before the task's own (which means another run of this task). */
function writersOf(live: KObj, path: string[]): string[] {
  const others = managersOf(live, path, FIELD_MANAGER);
  return others.length ? others : managersOf(live, path);
}
