import { errorMessage } from '../../common/errors';
import type { TaskLog } from '../../common/log';
import { sleep } from '../../common/retry';
import { Discovery, objectPath } from '../apply';
import { connectToCluster } from '../connect';
import { KubeApiError, type KObj } from '../kubeClient';
import type { ClusterConnection } from '../options';
import { waitForRollouts, type RolloutResult, type RolloutTarget } from '../rollout';

export interface RolloutWatch {
  /** A failed rollout's message as soon as one is known. */
  failure(): string | undefined;
  /** Waits for the watch to end; the failure, if any. */
  result(): Promise<string | undefined>;
  results(): RolloutResult[];
  stop(): void;
}

/**
 * With a Kubernetes connection besides GitOps: once Flux has applied our objects (the workloads carry our pinned
 * images), watches their rollouts with push mode's fail-fast rules, so a crash loop fails the task in seconds
 * rather than when Flux's health check times out.
 */
export function watchRollouts(connection: ClusterConnection, workloads: KObj[], timeoutSeconds: number, log: TaskLog): RolloutWatch {
  let failure: string | undefined;
  let results: RolloutResult[] = [];
  let stopped = false;
  const done = (async () => {
    const session = await connectToCluster(connection, log);
    try {
      const discovery = new Discovery(session.client);
      const deadline = Date.now() + timeoutSeconds * 1000;
      let live: RolloutTarget[] = [];
      while (!stopped && Date.now() < deadline) {
        live = [];
        for (const w of workloads) {
          const info = await discovery.resolve(w.apiVersion, w.kind);
          if (!info) break;
          try {
            const { body } = await session.client.request('GET', objectPath(w.apiVersion, info, w.metadata.namespace, w.metadata.name));
            if (JSON.stringify(body.spec?.template?.spec?.containers?.map((c: { image: string }) => c.image)) === JSON.stringify(w.spec?.template?.spec?.containers?.map((c: { image: string }) => c.image))) {
              live.push({ applied: { ...body, apiVersion: w.apiVersion, kind: w.kind }, manifest: w });
            }
          } catch (err) {
            if (!(err instanceof KubeApiError && err.status === 404)) throw err;
          }
        }
        if (live.length === workloads.length) break;
        await sleep(500);
      }
      if (stopped || live.length < workloads.length) return undefined;
      log.info(`Flux applied the ${workloads.length} workload${workloads.length === 1 ? '' : 's'}; watching their rollouts on ${session.description}`);
      results = await waitForRollouts(session.client, live, log, { timeoutSeconds: Math.max(1, Math.round((deadline - Date.now()) / 1000)) });
      failure = results.find((r) => r.status !== 'ready' && r.status !== 'stopped')?.message;
      return failure;
    } finally {
      session.client.close();
    }
  })().catch((err: unknown) => {
    log.warn(`Watching the rollouts failed: ${errorMessage(err)}; Flux's verdict decides.`);
    return undefined;
  });
  return { failure: () => failure, result: () => done, results: () => results, stop: () => { stopped = true; } };
}
