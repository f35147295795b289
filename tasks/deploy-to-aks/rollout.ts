import { UserError, errorMessage } from '../common/errors';
import { formatDuration, type TaskLog } from '../common/log';
import { backoffDelay, isDroppedConnection, isTransientStatus, sleep } from '../common/retry';
import { describeObject } from './apply';
import { KubeApiError, type KObj, type KubeClient, type WatchEvent } from './kubeClient';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** Kinds whose rollout the task waits for. */
export const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'Pod']);

function collectionOf(w: KObj): string {
  const base = w.kind === 'Pod' ? '/api/v1' : w.kind === 'Job' ? '/apis/batch/v1' : '/apis/apps/v1';
  return `${base}/namespaces/${encodeURIComponent(w.metadata.namespace!)}/${w.kind.toLowerCase()}s`;
}

/** Container waiting reasons that do not fix themselves: the rollout fails at once. */
const FATAL_WAITING = new Set(['ImagePullBackOff', 'ErrImagePull', 'CrashLoopBackOff', 'CreateContainerConfigError', 'InvalidImageName', 'CreateContainerError', 'RunContainerError']);

export type RolloutStatus = 'ready' | 'failed' | 'progressDeadline' | 'timeout' | 'stopped';

export interface RolloutResult {
  workload: string;
  kind: string;
  namespace: string;
  name: string;
  status: RolloutStatus;
  /** One line: why it is ready or not. */
  message: string;
  /** Details of a failure: containers, reasons, last termination, Warning events. */
  details: string[];
  /** Seconds from the start of the wait to the verdict. */
  seconds: number;
}

interface Verdict {
  done: boolean;
  failed?: RolloutStatus;
  message: string;
}

/**
 * A list-then-watch of one collection that keeps `items` current: it re-watches from the last resource version
 * when the server ends the stream or the connection drops, re-lists on 410 Gone, and backs off on 429 and 5xx.
 */
export class ListWatch {
  readonly items = new Map<string, KObj>();
  relists = 0;
  rewatches = 0;
  private rv = '';

  constructor(
    private readonly client: KubeClient,
    private readonly path: string,
    private readonly query: Record<string, string | undefined>,
    private readonly onChange: () => void,
    private readonly log: TaskLog,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          const { body } = await this.client.request<{ metadata: { resourceVersion: string }; items: KObj[] }>('GET', this.path, { query: this.query });
          this.items.clear();
          for (const o of body.items ?? []) this.items.set(o.metadata.name, o);
          this.rv = body.metadata?.resourceVersion ?? '';
          needList = false;
          this.relists++;
          this.onChange();
        }
        await this.client.watch(this.path, { ...this.query, resourceVersion: this.rv, allowWatchBookmarks: 'true', timeoutSeconds: '240' }, (e) => this.event(e), signal);
        failures = 0;
        this.rewatches++;
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof KubeApiError && err.status === 410) {
          this.log.debug(`watch ${this.path}: resource version ${this.rv} is too old (410 Gone); listing again`);
          needList = true;
          continue;
        }
        const transient = (err instanceof KubeApiError && isTransientStatus(err.status)) || isDroppedConnection(err);
        if (!transient) throw err;
        failures++;
        const delay = err instanceof KubeApiError && err.retryAfterMs !== undefined ? err.retryAfterMs : backoffDelay(failures, 200, 5000);
        this.log.debug(`watch ${this.path}: ${errorMessage(err)}; watching again in ${delay} ms`);
        if (failures > 3) needList = true;
        await sleep(delay, signal);
      }
    }
  }

  private event(e: WatchEvent): void {
    if (e.type === 'ERROR') {
      const status = e.object as unknown as { code?: number; reason?: string; message?: string };
      throw new KubeApiError(status.code ?? 500, status.reason ?? '', status.message ?? 'watch error');
    }
    const rv = e.object?.metadata?.resourceVersion;
    if (rv) this.rv = rv;
    if (e.type === 'BOOKMARK') return;
    if (e.type === 'DELETED') this.items.delete(e.object.metadata.name);
    else this.items.set(e.object.metadata.name, e.object);
    this.onChange();
  }
}

export interface WaitOptions {
  timeoutSeconds: number;
  /** How often a still-waiting workload reports its state. */
  progressIntervalMs?: number;
}

/**
 * Waits for the workloads as `kubectl rollout status` decides, on list-and-watch, and beyond it watches the pods of
 * each new revision so that pull errors, crash loops, configuration errors and unschedulable pods fail at once with
 * the container, reason, last termination and recent Warning events.
 */
export async function waitForRollouts(client: KubeClient, workloads: KObj[], log: TaskLog, options: WaitOptions): Promise<RolloutResult[]> {
  const started = Date.now();
  const deadline = started + options.timeoutSeconds * 1000;
  const progressMs = options.progressIntervalMs ?? 10_000;
  const controller = new AbortController();
  const results = new Map<string, RolloutResult>();
  const watches: ListWatch[] = [];
  const podWatches = new Map<string, ListWatch>();
  const objectWatches = new Map<string, ListWatch>();
  let wake: () => void = () => undefined;
  // Set by every change; a change that arrives while the workloads are being evaluated is not lost.
  let dirty = true;
  const changed = () => { dirty = true; wake(); };
  const lastReport = new Map<string, { message: string; at: number }>();
  const newReplicaSets: NewReplicaSets = new Map();
  const resultOf = (w: KObj, status: RolloutStatus, message: string, details: string[] = []): RolloutResult => ({
    workload: describeObject(w), kind: w.kind, namespace: w.metadata.namespace!, name: w.metadata.name,
    status, message, details, seconds: Math.round((Date.now() - started) / 100) / 10,
  });

  for (const w of workloads) {
    const ns = w.metadata.namespace!;
    const key = describeObject(w);
    const lw = new ListWatch(client, collectionOf(w), { fieldSelector: `metadata.name=${w.metadata.name}` }, changed, log);
    objectWatches.set(key, lw);
    watches.push(lw);
    if (!podWatches.has(ns)) {
      const pw = new ListWatch(client, `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`, {}, changed, log);
      podWatches.set(ns, pw);
      watches.push(pw);
    }
  }
  let fatal: unknown;
  const running = watches.map((lw) => lw.run(controller.signal).catch((err: unknown) => { fatal ??= err; wake(); }));

  try {
    for (;;) {
      if (fatal) throw fatal;
      dirty = false;
      for (const w of workloads) {
        const key = describeObject(w);
        if (results.has(key)) continue;
        const live = objectWatches.get(key)!.items.get(w.metadata.name);
        if (!live) {
          if (objectWatches.get(key)!.relists > 0) results.set(key, resultOf(w, 'failed', `${key} was deleted while the task waited for it`));
          // Never listed: the API server keeps failing the list (its watch retries on). rolloutTimeout still holds.
          else if (Date.now() >= deadline) results.set(key, resultOf(w, 'timeout', `${key} could not be read from the API server within the task's rolloutTimeout (${options.timeoutSeconds} s); the debug log shows its answers.`));
          continue;
        }
        const pods = await podsOfRevision(client, live, [...podWatches.get(w.metadata.namespace!)!.items.values()], newReplicaSets);
        const verdict = evaluate(live);
        const podProblem = verdict.done ? undefined : findPodProblem(pods);
        const ownFailure = !verdict.done ? replicaFailure(live) : undefined;
        if (verdict.done) {
          results.set(key, resultOf(w, 'ready', verdict.message));
          log.info(`${key}: ${verdict.message} (${formatDuration(Date.now() - started)})`);
        } else if (podProblem || ownFailure || verdict.failed) {
          const details = await diagnose(client, live, pods, podProblem);
          const status: RolloutStatus = verdict.failed ?? 'failed';
          let message: string;
          if (podProblem) message = `${key} failed: ${podProblem.summary}`;
          else if (ownFailure) message = `${key} failed: ${ownFailure}`;
          else if (status === 'progressDeadline') message = `${key} exceeded its progress deadline (spec.progressDeadlineSeconds: ${live.spec?.progressDeadlineSeconds ?? 600} s, set on the Deployment; the task's rolloutTimeout is ${options.timeoutSeconds} s): ${verdict.message}`;
          else message = `${key} failed: ${verdict.message}`;
          results.set(key, resultOf(w, status, message, details));
        } else if (Date.now() >= deadline) {
          const details = await diagnose(client, live, pods, undefined);
          results.set(key, resultOf(w, 'timeout', `${key} did not finish its rollout within the task's rolloutTimeout (${options.timeoutSeconds} s): ${verdict.message}. Raise rolloutTimeout if the workload needs longer, or look at the pods below.`, details));
        } else {
          const last = lastReport.get(key);
          if (!last || (last.message !== verdict.message && Date.now() - last.at > 1000) || Date.now() - last.at >= progressMs) {
            log.info(`${key}: ${verdict.message} (${formatDuration(Date.now() - started)})`);
            lastReport.set(key, { message: verdict.message, at: Date.now() });
          }
        }
      }
      const failed = [...results.values()].find((r) => r.status !== 'ready');
      if (failed) {
        for (const w of workloads) {
          const key = describeObject(w);
          if (!results.has(key)) results.set(key, resultOf(w, 'stopped', `not waited for further: ${failed.workload} failed`));
        }
        break;
      }
      if (results.size === workloads.length) break;
      if (dirty) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(1000, Math.max(10, deadline - Date.now())));
        wake = () => { clearTimeout(timer); resolve(); };
      });
      wake = () => undefined;
    }
  } finally {
    controller.abort();
    await Promise.all(running);
  }
  return workloads.map((w) => results.get(describeObject(w))!);
}

/** `kubectl rollout status`, kind by kind (pkg/polymorphichelpers/rollout_status.go), plus Job completion. */
export function evaluate(o: KObj): Verdict {
  const spec = o.spec as Any ?? {};
  const status = o.status as Any ?? {};
  const name = `${o.kind.toLowerCase()} "${o.metadata.name}"`;
  const generation = o.metadata.generation ?? 0;
  switch (o.kind) {
    case 'Deployment': {
      if (generation > (status.observedGeneration ?? 0)) return { done: false, message: `waiting for ${name} spec update to be observed` };
      const progressing = (status.conditions ?? []).find((c: Any) => c.type === 'Progressing');
      if (progressing?.reason === 'ProgressDeadlineExceeded') return { done: false, failed: 'progressDeadline', message: progressing.message ?? `${name} exceeded its progress deadline` };
      const replicas = spec.replicas ?? 1;
      const updated = status.updatedReplicas ?? 0;
      if (updated < replicas) return { done: false, message: `${updated} out of ${replicas} new replicas have been updated` };
      if ((status.replicas ?? 0) > updated) return { done: false, message: `${(status.replicas ?? 0) - updated} old replicas are pending termination` };
      if ((status.availableReplicas ?? 0) < updated) return { done: false, message: `${status.availableReplicas ?? 0} of ${updated} updated replicas are available` };
      return { done: true, message: `successfully rolled out (${updated} of ${replicas} replicas available)` };
    }
    case 'DaemonSet': {
      const onDelete = spec.updateStrategy?.type === 'OnDelete';
      if (generation > (status.observedGeneration ?? 0)) return { done: false, message: `waiting for ${name} spec update to be observed` };
      const desired = status.desiredNumberScheduled ?? 0;
      if (!onDelete && (status.updatedNumberScheduled ?? 0) < desired) return { done: false, message: `${status.updatedNumberScheduled ?? 0} out of ${desired} new pods have been updated` };
      if ((status.numberAvailable ?? 0) < desired) return { done: false, message: `${status.numberAvailable ?? 0} of ${desired} updated pods are available` };
      return { done: true, message: onDelete
        ? `all ${desired} pods are available; updateStrategy OnDelete: ${status.updatedNumberScheduled ?? 0} of ${desired} run the new template (the others change when deleted)`
        : `successfully rolled out (${desired} of ${desired} pods available)` };
    }
    case 'StatefulSet': {
      const onDelete = spec.updateStrategy?.type === 'OnDelete';
      if (!status.observedGeneration || generation > status.observedGeneration) return { done: false, message: `waiting for ${name} spec update to be observed` };
      const replicas = spec.replicas ?? 1;
      if ((status.readyReplicas ?? 0) < replicas) return { done: false, message: `waiting for ${replicas - (status.readyReplicas ?? 0)} pods to be ready` };
      if (onDelete) return { done: true, message: `all ${replicas} pods are ready; updateStrategy OnDelete: ${status.updatedReplicas ?? 0} of ${replicas} run the new revision (the others change when deleted)` };
      const partition = spec.updateStrategy?.rollingUpdate?.partition;
      if (spec.updateStrategy?.rollingUpdate) {
        if (partition && partition > 0) {
          if ((status.updatedReplicas ?? 0) < replicas - partition) return { done: false, message: `waiting for partitioned roll out to finish: ${status.updatedReplicas ?? 0} out of ${replicas - partition} new pods have been updated` };
          return { done: true, message: `partitioned roll out complete: ${status.updatedReplicas ?? 0} new pods have been updated (partition ${partition})` };
        }
      }
      if (status.updateRevision !== status.currentRevision) return { done: false, message: `waiting for statefulset rolling update to complete ${status.updatedReplicas ?? 0} pods at revision ${status.updateRevision}` };
      return { done: true, message: `rolling update complete ${replicas} pods at revision ${status.currentRevision}` };
    }
    case 'Job': {
      const conditions = (status.conditions ?? []) as Any[];
      const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
      if (failed) return { done: false, failed: 'failed', message: `the Job failed: ${failed.reason}: ${failed.message}` };
      if (conditions.some((c) => c.type === 'Complete' && c.status === 'True')) return { done: true, message: `completed (${status.succeeded ?? 0} of ${spec.completions ?? 1} succeeded)` };
      return { done: false, message: `${status.succeeded ?? 0} of ${spec.completions ?? 1} completions, ${status.active ?? 0} active, ${status.failed ?? 0} failed` };
    }
    case 'Pod': {
      if (status.phase === 'Succeeded') return { done: true, message: 'completed' };
      if (status.phase === 'Failed') return { done: false, failed: 'failed', message: `the pod failed${status.reason ? `: ${status.reason}` : ''}${status.message ? ` (${status.message})` : ''}` };
      const ready = (status.conditions ?? []).find((c: Any) => c.type === 'Ready');
      if (ready?.status === 'True') return { done: true, message: 'running and ready' };
      return { done: false, message: `${status.phase ?? 'Pending'}${ready?.message ? `: ${ready.message}` : ''}` };
    }
    default:
      return { done: true, message: 'not a workload' };
  }
}

function replicaFailure(o: KObj): string | undefined {
  const c = ((o.status?.conditions ?? []) as Any[]).find((x) => x.type === 'ReplicaFailure' && x.status === 'True');
  return c ? `${c.reason}: ${c.message}` : undefined;
}

/**
 * The new ReplicaSet of each Deployment revision (by `uid/revision`), and when it was last looked for: one the
 * controller has not made yet is asked for again at most every 250 ms, not on every change.
 */
type NewReplicaSets = Map<string, { uid?: string; lookedAt: number }>;

/** The pods of the workload's newest revision. */
async function podsOfRevision(client: KubeClient, w: KObj, pods: KObj[], newReplicaSets: NewReplicaSets): Promise<KObj[]> {
  const owned = (uid: string) => pods.filter((p) => (p.metadata.ownerReferences ?? []).some((r: Any) => r.uid === uid));
  switch (w.kind) {
    case 'Deployment': {
      const revision = w.metadata.annotations?.['deployment.kubernetes.io/revision'];
      if (!revision) return [];
      const key = `${w.metadata.uid}/${revision}`;
      let known = newReplicaSets.get(key);
      if (!known?.uid) {
        if (known && Date.now() - known.lookedAt < 250) return [];
        known = { lookedAt: Date.now() };
        newReplicaSets.set(key, known);
        const selector = Object.entries(w.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
        const { body } = await client.request<{ items: KObj[] }>('GET', `/apis/apps/v1/namespaces/${encodeURIComponent(w.metadata.namespace!)}/replicasets`, { query: { labelSelector: selector || undefined } });
        known.uid = body.items.find((r) => r.metadata.annotations?.['deployment.kubernetes.io/revision'] === revision && (r.metadata.ownerReferences ?? []).some((o: Any) => o.uid === w.metadata.uid))?.metadata.uid;
        if (!known.uid) return [];
      }
      return owned(known.uid);
    }
    case 'StatefulSet': {
      const revision = w.status?.updateRevision;
      return owned(w.metadata.uid).filter((p) => !revision || p.metadata.labels?.['controller-revision-hash'] === revision);
    }
    case 'DaemonSet': {
      const generation = String(w.metadata.generation ?? '');
      const all = owned(w.metadata.uid);
      const current = all.filter((p) => p.metadata.labels?.['pod-template-generation'] === generation);
      return all.some((p) => p.metadata.labels?.['pod-template-generation'] !== undefined) ? current : all;
    }
    case 'Job':
      return owned(w.metadata.uid);
    case 'Pod':
      return [w];
    default:
      return [];
  }
}

interface PodProblem {
  pod: KObj;
  container?: string;
  reason: string;
  summary: string;
}

/** The first pod of the new revision that will not become ready by itself, and why. */
export function findPodProblem(pods: KObj[]): PodProblem | undefined {
  for (const pod of pods) {
    const scheduled = ((pod.status?.conditions ?? []) as Any[]).find((c) => c.type === 'PodScheduled');
    if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
      return { pod, reason: 'Unschedulable', summary: `pod ${pod.metadata.name} cannot be scheduled: ${scheduled.message}` };
    }
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])] as Any[];
    for (const cs of statuses) {
      const waiting = cs.state?.waiting;
      if (waiting && FATAL_WAITING.has(waiting.reason)) {
        const last = cs.lastState?.terminated;
        const termination = last ? `; last exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}${last.finishedAt ? ` at ${last.finishedAt}` : ''}` : '';
        return {
          pod, container: cs.name, reason: waiting.reason,
          summary: `pod ${pod.metadata.name}, container '${cs.name}' is in ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}${termination}${cs.restartCount ? `; restarted ${cs.restartCount} time${cs.restartCount > 1 ? 's' : ''}` : ''}`,
        };
      }
    }
  }
  return undefined;
}

/** Details for a failed or stuck workload: each unready pod's containers and the recent Warning events. */
async function diagnose(client: KubeClient, w: KObj, pods: KObj[], problem: PodProblem | undefined): Promise<string[]> {
  const lines: string[] = [];
  const shown = problem ? [problem.pod, ...pods.filter((p) => p !== problem.pod)] : pods;
  for (const pod of shown.slice(0, 3)) {
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])] as Any[];
    const states = statuses.map((cs) => {
      const state = cs.state?.waiting ? `waiting: ${cs.state.waiting.reason}${cs.state.waiting.message ? ` (${cs.state.waiting.message})` : ''}`
        : cs.state?.terminated ? `terminated: exit code ${cs.state.terminated.exitCode} (${cs.state.terminated.reason})`
          : cs.state?.running ? (cs.ready ? 'running, ready' : 'running, not ready') : 'unknown';
      const last = cs.lastState?.terminated ? `; last termination: exit code ${cs.lastState.terminated.exitCode} (${cs.lastState.terminated.reason}) at ${cs.lastState.terminated.finishedAt}` : '';
      return `container '${cs.name}' (${cs.image}): ${state}${last}; restarts ${cs.restartCount ?? 0}`;
    });
    lines.push(`pod ${pod.metadata.name} (${pod.status?.phase ?? 'Pending'}): ${states.join('; ') || 'no container has started'}`);
    lines.push(...await warningEvents(client, pod));
  }
  lines.push(...await warningEvents(client, w));
  return lines;
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

/** Thrown when waiting cannot go on (e.g. the identity may not watch pods). */
export function waitError(err: unknown): Error {
  if (err instanceof KubeApiError && err.status === 403) {
    return new UserError(`The task's identity may not list or watch the workloads and their pods: ${err.message}. Grant it get, list and watch on pods, replicasets and the workload kinds in the namespace.`, { cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
