import { UserError, errorMessage } from '../../common/errors';
import { formatDuration, type TaskLog } from '../../common/log';
import { describeObject } from '../apply';
import { KubeApiError, type KObj, type KubeClient } from '../kubeClient';
import { judge, type Judgement, type RolloutTarget } from './judge';
import { workloadKindOf } from './kinds';
import type { NamespaceView } from './kind';
import { ListWatch } from './listWatch';
import * as say from './wording';

export type RolloutStatus = 'ready' | 'failed' | 'progressDeadline' | 'superseded' | 'timeout' | 'stopped';

export interface RolloutResult {
  workload: string;
  kind: string;
  namespace: string;
  name: string;
  status: RolloutStatus;
  /** One line: why it is ready or not. */
  message: string;
  /** Details of a failure: containers, reasons, last termination, Warning events, older revisions as context. */
  details: string[];
  /** Seconds from the start of the wait to the verdict. */
  seconds: number;
}

export interface WaitOptions {
  timeoutSeconds: number;
  /** How often a still-waiting workload reports its state. */
  progressIntervalMs?: number;
  /** Delete old-revision pods that keep an OrderedReady StatefulSet from rolling forward (input recreateStuckPods). */
  recreateStuckPods?: boolean;
}

/**
 * Waits for the workloads on list-and-watch: one watch per workload, and per namespace one of its pods (and of its
 * ReplicaSets when a Deployment is among them). This loop only schedules and stops: `judge` decides each
 * workload, the wording module words it. A failure ends the wait; the others then get their state of the moment.
 */
export async function waitForRollouts(client: KubeClient, targets: RolloutTarget[], log: TaskLog, options: WaitOptions): Promise<RolloutResult[]> {
  const started = Date.now();
  const deadline = started + options.timeoutSeconds * 1000;
  const progressMs = options.progressIntervalMs ?? 10_000;
  const results = new Map<string, RolloutResult>();
  const lastReport = new Map<string, { message: string; at: number }>();
  const notesLogged = new Set<string>();
  const deletedStuck = new Set<string>();
  let wake: () => void = () => undefined;
  // Set by every change; a change that arrives while the workloads are being judged is not lost.
  let dirty = true;
  const watches = new Watches(client, log, () => { dirty = true; wake(); });
  for (const t of targets) watches.follow(t.applied);
  const resultOf = (w: KObj, status: RolloutStatus, message: string, details: string[] = []): RolloutResult => ({
    workload: describeObject(w), kind: w.kind, namespace: w.metadata.namespace!, name: w.metadata.name,
    status, message, details, seconds: Math.round((Date.now() - started) / 100) / 10,
  });
  const stopped = watches.start();

  try {
    for (;;) {
      watches.throwIfFailed();
      dirty = false;
      const looks = new Map<string, Judgement>();
      for (const t of targets) {
        const w = t.applied;
        const key = describeObject(w);
        if (results.has(key)) continue;
        const live = watches.live(w);
        if (!live) {
          if (watches.listed(w)) results.set(key, resultOf(w, 'failed', say.deleted(key)));
          // Never listed: the API server keeps failing the list (its watch retries on). rolloutTimeout still holds.
          else if (Date.now() >= deadline) results.set(key, resultOf(w, 'timeout', say.unreadable(key, options.timeoutSeconds)));
          continue;
        }
        const look = judge(t, live, watches.view(w.metadata.namespace!), key);
        looks.set(key, look);
        if (look.outcome === 'ready') {
          results.set(key, resultOf(w, 'ready', look.message));
          log.info(`${key}: ${look.message} (${formatDuration(Date.now() - started)})`);
        } else if (look.outcome === 'failed') {
          const details = await say.diagnose(client, live, look.pods, look.problem);
          const message = look.status === 'progressDeadline' ? say.progressDeadlineExceeded(key, live, options.timeoutSeconds, look.message) : look.message;
          results.set(key, resultOf(w, look.status, message, details));
        } else if (look.outcome === 'stuck' && options.recreateStuckPods) {
          const fresh = look.stuck.filter((p) => !deletedStuck.has(p.metadata.uid));
          if (fresh.length) {
            await deletePods(client, fresh);
            for (const p of fresh) deletedStuck.add(p.metadata.uid);
            log.warn(say.stuckPodsDeleted(key, fresh));
          }
        } else if (look.outcome === 'stuck') {
          results.set(key, resultOf(w, 'failed', look.message, await say.diagnose(client, live, { current: look.stuck, previous: [] }, undefined)));
        } else if (Date.now() >= deadline) {
          results.set(key, resultOf(w, 'timeout', say.timedOut(key, options.timeoutSeconds, look.message), await say.diagnose(client, live, look.pods, undefined)));
        } else {
          const last = lastReport.get(key);
          if (!last || (last.message !== look.message && Date.now() - last.at > 1000) || Date.now() - last.at >= progressMs) {
            log.info(`${key}: ${look.message} (${formatDuration(Date.now() - started)})`);
            lastReport.set(key, { message: look.message, at: Date.now() });
          }
          for (const note of say.previousRevisionNotes(look.pods?.previous ?? [])) {
            if (!notesLogged.has(note)) log.info(`${key}: ${note}`);
            notesLogged.add(note);
          }
        }
      }
      const failed = [...results.values()].find((r) => r.status !== 'ready');
      if (failed) {
        for (const t of targets) {
          const key = describeObject(t.applied);
          const state = looks.get(key)?.message;
          if (!results.has(key)) results.set(key, resultOf(t.applied, 'stopped', `${state ? `${state}; ` : ''}not waited for further: ${failed.workload} did not roll out`));
        }
        break;
      }
      if (results.size === targets.length) break;
      if (dirty) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(1000, Math.max(10, deadline - Date.now())));
        wake = () => { clearTimeout(timer); resolve(); };
      });
      wake = () => undefined;
    }
  } finally {
    await stopped();
  }
  return targets.map((t) => results.get(describeObject(t.applied))!);
}

/**
 * The watches of one wait: each workload by name, and per namespace its pods and, when needed, ReplicaSets and
 * the FailedCreate events recorded from now on.
 */
class Watches {
  private readonly objects = new Map<string, ListWatch>();
  private readonly pods = new Map<string, ListWatch>();
  private readonly replicaSets = new Map<string, ListWatch>();
  private readonly failedCreates = new Map<string, ListWatch>();
  private readonly controller = new AbortController();
  private fatal: unknown;

  constructor(private readonly client: KubeClient, private readonly log: TaskLog, private readonly changed: () => void) {}

  follow(w: KObj): void {
    const ns = w.metadata.namespace!;
    const kind = workloadKindOf(w)!;
    this.objects.set(describeObject(w), this.watch(kind.collection(ns), { fieldSelector: `metadata.name=${w.metadata.name}` }));
    if (!this.pods.has(ns)) this.pods.set(ns, this.watch(`/api/v1/namespaces/${encodeURIComponent(ns)}/pods`, {}));
    if (kind.readsReplicaSets && !this.replicaSets.has(ns)) this.replicaSets.set(ns, this.watch(`/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/replicasets`, {}));
    if (kind.readsEvents && !this.failedCreates.has(ns)) {
      this.failedCreates.set(ns, new ListWatch(this.client, `/api/v1/namespaces/${encodeURIComponent(ns)}/events`, { fieldSelector: 'reason=FailedCreate' }, this.changed, this.log, true));
    }
  }

  private watch(path: string, query: Record<string, string>): ListWatch {
    return new ListWatch(this.client, path, query, this.changed, this.log);
  }

  /** Starts every watch; the function returned stops them and waits until they have. */
  start(): () => Promise<void> {
    const all = [...this.objects.values(), ...this.pods.values(), ...this.replicaSets.values()];
    const running = all.map((lw) => lw.run(this.controller.signal).catch((err: unknown) => { this.fatal ??= err; this.changed(); }));
    // Events only make a refused pod known sooner; an identity that may not read them waits for the timeout instead.
    running.push(...[...this.failedCreates.values()].map((lw) => lw.run(this.controller.signal).catch((err: unknown) => {
      this.log.warn(`Cannot watch the namespace's events (${errorMessage(err)}): a StatefulSet or DaemonSet whose pods are refused is reported only at the timeout. Grant list and watch on events to have it reported at once.`);
    })));
    return async () => {
      this.controller.abort();
      await Promise.all(running);
    };
  }

  throwIfFailed(): void {
    if (this.fatal) throw this.fatal;
  }

  live(w: KObj): KObj | undefined {
    return this.objects.get(describeObject(w))!.items.get(w.metadata.name);
  }

  listed(w: KObj): boolean {
    return this.objects.get(describeObject(w))!.relists > 0;
  }

  view(ns: string): NamespaceView {
    return {
      pods: [...this.pods.get(ns)!.items.values()],
      replicaSets: [...(this.replicaSets.get(ns)?.items.values() ?? [])],
      failedCreates: [...(this.failedCreates.get(ns)?.items.values() ?? [])],
    };
  }
}

async function deletePods(client: KubeClient, pods: KObj[]): Promise<void> {
  for (const p of pods) {
    try {
      await client.request('DELETE', `/api/v1/namespaces/${encodeURIComponent(p.metadata.namespace!)}/pods/${encodeURIComponent(p.metadata.name)}`, {
        body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: p.metadata.uid } },
      });
    } catch (err) {
      if (!(err instanceof KubeApiError && (err.status === 404 || err.status === 409))) throw err;
    }
  }
}

/** Thrown when waiting cannot go on (e.g. the identity may not watch pods). */
export function waitError(err: unknown): Error {
  if (err instanceof KubeApiError && err.status === 403) {
    return new UserError(`The task's identity may not list or watch the workloads and their pods: ${err.message}. Grant it get, list and watch on pods, replicasets and the workload kinds in the namespace.`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
