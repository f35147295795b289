import type { Exchange } from '../../http';
import { KubeStatus, groupVersion, matchesFieldSelector, matchesLabelSelector, type KObj, type ResourceType } from '../types';
import type { Change, Store } from './store';

interface Watcher {
  typeKey: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  x: Exchange;
  bookmarks: boolean;
  timers: NodeJS.Timeout[];
}

/** Changes kept for watches that resume from a resource version; older ones are compacted away (410 Gone). */
const HISTORY_LIMIT = 2000;

/** Watches: the change history, resuming from a resource version, bookmarks, and 410 Gone once compacted. */
export class Watches {
  /** Milliseconds between watch bookmarks. */
  bookmarkIntervalMs = 1000;
  /** How a watch from a too-old resource version is refused: an ERROR event (usual) or HTTP 410 on the request. */
  expiredWatch: 'event' | 'http' = 'event';
  private readonly history: Change[] = [];
  private readonly watchers = new Set<Watcher>();
  /** Watches from resource versions older than this get 410 Gone. */
  private compactedRv = 0;

  constructor(private readonly store: Store) {
    store.subscribe((change) => this.record(change));
  }

  get open(): number {
    return this.watchers.size;
  }

  /** Ends every open watch, as an API server restart or a load balancer does. */
  dropAll(): number {
    let n = 0;
    for (const w of [...this.watchers]) {
      n++;
      this.end(w, true);
    }
    return n;
  }

  /** Forgets the change history: every watch from a resource version seen so far gets 410 Gone. */
  compact(): void {
    // The resource version moves on, so a list made after this is watchable while every older one has expired.
    this.compactedRv = this.store.nextRv();
    this.history.length = 0;
  }

  private record(change: Change): void {
    this.history.push(change);
    if (this.history.length > HISTORY_LIMIT) {
      const dropped = this.history.splice(0, this.history.length - HISTORY_LIMIT);
      this.compactedRv = Math.max(this.compactedRv, dropped[dropped.length - 1].rv);
    }
    for (const w of this.watchers) this.deliver(w, change);
  }

  serve(x: Exchange, type: ResourceType, namespace: string | undefined): void {
    const rvText = x.query('resourceVersion');
    const w: Watcher = {
      typeKey: this.store.typeKey(type), namespace, labelSelector: x.query('labelSelector'), fieldSelector: x.query('fieldSelector'),
      x, bookmarks: x.query('allowWatchBookmarks') === 'true', timers: [],
    };
    const fromRv = rvText && rvText !== '0' ? Number(rvText) : undefined;
    const expired = fromRv !== undefined && (!Number.isFinite(fromRv) || fromRv < this.compactedRv);
    if (expired && this.expiredWatch === 'http') throw new KubeStatus(410, 'Expired', `too old resource version: ${rvText} (${this.compactedRv})`);
    x.res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache, private' });
    x.res.flushHeaders();
    if (expired) {
      writeEvent(x, { type: 'ERROR', object: new KubeStatus(410, 'Expired', `too old resource version: ${rvText} (${this.compactedRv})`).toJSON() });
      x.res.end();
      return;
    }
    this.watchers.add(w);
    if (fromRv === undefined) {
      for (const o of this.store.ofType(type, namespace)) if (matches(w, o)) writeEvent(x, { type: 'ADDED', object: o });
    } else {
      for (const change of this.history) if (change.rv > fromRv && change.typeKey === w.typeKey) this.deliver(w, change);
    }
    const timeout = Number(x.query('timeoutSeconds') ?? 1800);
    w.timers.push(setTimeout(() => this.end(w, false), Math.max(1, timeout) * 1000));
    if (w.bookmarks) {
      const bookmark = () => ({ type: 'BOOKMARK', object: { kind: type.kind, apiVersion: groupVersion(type), metadata: { resourceVersion: String(this.store.rv) } } });
      w.timers.push(setInterval(() => writeEvent(x, bookmark()), this.bookmarkIntervalMs));
    }
    x.req.socket.once('close', () => this.end(w, false));
  }

  private deliver(w: Watcher, change: Change): void {
    if (change.typeKey !== w.typeKey || !matches(w, change.obj)) return;
    writeEvent(w.x, { type: change.type, object: change.obj });
  }

  private end(w: Watcher, abrupt: boolean): void {
    if (!this.watchers.delete(w)) return;
    for (const t of w.timers) clearTimeout(t);
    if (abrupt) w.x.req.socket.destroy();
    else w.x.res.end();
  }
}

function matches(w: Watcher, o: KObj): boolean {
  return (w.namespace === undefined || o.metadata.namespace === w.namespace)
    && matchesLabelSelector(o.metadata.labels, w.labelSelector) && matchesFieldSelector(o, w.fieldSelector);
}

function writeEvent(x: Exchange, event: unknown): void {
  if (!x.res.writableEnded && !x.res.destroyed) x.res.write(`${JSON.stringify(event)}\n`);
}
