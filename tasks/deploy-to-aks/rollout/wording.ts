import { errorMessage } from '../../common/errors';
import type { KObj, KubeClient } from '../kubeClient';
import type { RevisionPods } from './kind';
import { containerStates, findPodProblem, type PodProblem } from './podProblems';

/**
 * The sentences a rollout result is made of, apart from the judgement, so that wording changes without touching
 * the wait. Each says what happened, and where a person can act, what to do.
 */

export function timedOut(key: string, timeoutSeconds: number, state: string): string {
  return `${key} did not finish its rollout within the task's rolloutTimeout (${timeoutSeconds} s): ${state}. Raise rolloutTimeout if the workload needs longer, or look at the pods below.`;
}

export function progressDeadlineExceeded(key: string, live: KObj, timeoutSeconds: number, state: string): string {
  return `${key} exceeded its progress deadline (spec.progressDeadlineSeconds: ${live.spec?.progressDeadlineSeconds ?? 600} s, set on the Deployment; the task's rolloutTimeout is ${timeoutSeconds} s): ${state}`;
}

export function unreadable(key: string, timeoutSeconds: number): string {
  return `${key} could not be read from the API server within the task's rolloutTimeout (${timeoutSeconds} s); the debug log shows its answers.`;
}

export function deleted(key: string): string {
  return `${key} was deleted while the task waited for it`;
}

export function failed(key: string, why: string): string {
  return `${key} failed: ${why}`;
}

/** An OrderedReady StatefulSet held by broken pods of its previous revision (kubernetes/kubernetes#67250). */
export function stuck(key: string, live: KObj, pods: KObj[]): string {
  const names = pods.map((p) => p.metadata.name);
  const problem = findPodProblem(pods);
  return `${key} cannot roll forward: ${problem ? `the previous revision's ${problem.summary}` : `the previous revision's pod ${names[0]} is not ready`}, and with `
    + `podManagementPolicy OrderedReady the StatefulSet controller waits for it to become Running and Ready before it replaces it, which it never will `
    + `(kubernetes/kubernetes#67250). Delete ${names.length === 1 ? 'that pod' : 'those pods'} so that the controller recreates ${names.length === 1 ? 'it' : 'them'} `
    + `at the new revision (kubectl delete pod -n ${live.metadata.namespace} ${names.join(' ')}), or set the input recreateStuckPods to true to let the task do it.`;
}

export function stuckPodsDeleted(key: string, pods: KObj[]): string {
  return `${key}: deleted ${pods.map((p) => `pod ${p.metadata.name}${p.metadata.labels?.['controller-revision-hash'] ? ` (revision ${p.metadata.labels['controller-revision-hash']})` : ''}`).join(', ')} `
    + 'of the previous revision, which kept the StatefulSet from rolling forward (recreateStuckPods); the controller recreates them at the new revision';
}

/** A paused Deployment: fine when the manifest asks for it, else nothing will roll out until someone resumes it. */
export function paused(key: string, live: KObj, byManifest: boolean, managers: string[]): string {
  if (byManifest) return `${key} is paused, as its manifest asks (spec.paused: true): no rollout happens until it is resumed`;
  const owner = managers.length ? `spec.paused is set by field manager ${managers.map((m) => `'${m}'`).join(', ')}` : 'spec.paused was set outside this task';
  return `${key} is paused (${owner}), so the applied template does not roll out. Resume it (kubectl rollout resume deployment/${live.metadata.name} -n ${live.metadata.namespace}), `
    + 'or set spec.paused: true in the manifest if the pause is intended.';
}

/** Another writer changed the template while the task waited. */
export function superseded(key: string, live: KObj, managers: string[], ownManager: string): string {
  const own = managers.length > 0 && managers.every((m) => m.startsWith(ownManager));
  const by = own ? `another run of this task (field manager '${ownManager}')` : managers.length ? `field manager ${managers.map((m) => `'${m}'`).join(', ')}` : 'another writer';
  const containers = ((live.spec?.template?.spec?.containers ?? []) as { name: string; image: string }[]).map((c) => `container '${c.name}' runs ${c.image}`);
  return `${key}: the template this task applied was replaced by ${by} while the task waited (generation ${live.metadata.generation}); `
    + `live now: ${containers.join(', ') || 'a template without containers'}. This deployment's template is not what runs.`;
}

/** Details for a failed or stuck workload: each unready pod's containers, its Warning events, and older revisions as context. */
export async function diagnose(client: KubeClient, w: KObj, pods: RevisionPods | undefined, problem: PodProblem | undefined): Promise<string[]> {
  const lines: string[] = [];
  const current = pods?.current ?? [];
  const shown = problem ? [problem.pod, ...current.filter((p) => p !== problem.pod)] : current;
  for (const pod of shown.slice(0, 3)) {
    const states = containerStates(pod);
    lines.push(`pod ${pod.metadata.name} (${pod.status?.phase ?? 'Pending'}): ${states.join('; ') || 'no container has started'}`);
    lines.push(...await warningEvents(client, pod));
  }
  lines.push(...await warningEvents(client, w));
  lines.push(...previousRevisionNotes(pods?.previous ?? []));
  return lines;
}

/** Older revisions' failing pods, as context only: they are never the rollout's verdict. */
export function previousRevisionNotes(previous: KObj[]): string[] {
  return previous.flatMap((p) => {
    const problem = findPodProblem([p]);
    return problem ? [`the previous revision's pod ${p.metadata.name} is still in ${problem.reason}; it goes away as the rollout proceeds`] : [];
  }).slice(0, 3);
}

async function warningEvents(client: KubeClient, obj: KObj): Promise<string[]> {
  try {
    const { body } = await client.request<{ items: KObj[] }>('GET', `/api/v1/namespaces/${encodeURIComponent(obj.metadata.namespace!)}/events`, {
      query: { fieldSelector: `involvedObject.uid=${obj.metadata.uid},type=Warning` },
    });
    return body.items
      .sort((a, b) => String(a.lastTimestamp ?? '').localeCompare(String(b.lastTimestamp ?? '')))
      .slice(-5)
      .map((e) => `event on ${obj.kind} ${obj.metadata.name}: ${e.reason}: ${e.message}${(e.count ?? 1) > 1 ? ` (×${e.count})` : ''}`);
  } catch (err) {
    return [`(events of ${obj.kind} ${obj.metadata.name} could not be read: ${errorMessage(err)})`];
  }
}
