import { errorMessage } from '../../common/errors';
import type { TaskLog } from '../../common/log';
import { backoffDelay, isDroppedConnection, isTransientStatus, sleep } from '../../common/retry';
import { KubeApiError, type KObj, type KubeClient, type WatchEvent } from '../kubeClient';

/**
 * A list-then-watch of one collection that keeps `items` current: it re-watches from the last resource version
 * when the server ends the stream or the connection drops, re-lists on 410 Gone, and backs off on 429 and 5xx.
 * With `onlyChanges`, the list gives only the resource version to watch from, so `items` holds what changed since.
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
    private readonly onlyChanges = false,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          const { body } = await this.client.request<{ metadata: { resourceVersion: string }; items: KObj[] }>('GET', this.path, { query: this.query });
          if (!this.onlyChanges) {
            this.items.clear();
            for (const o of body.items ?? []) this.items.set(o.metadata.name, o);
          }
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
