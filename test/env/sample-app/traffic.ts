import * as http from 'node:http';

/** The most a generator may send, whatever it is asked: requests per second and seconds. */
const MAX_RATE = 200;
const MAX_SECONDS = 600;

export interface TrafficStats {
  sent: number;
  /** Answers by status code ("error" for a request that got none). */
  byStatus: Record<string, number>;
}

/**
 * A steady, bounded request rate to a URL on loopback (a Service's clusterIP or the gateway), for tests and the
 * demo: at most 200 requests a second, for at most ten minutes, and it stops by itself after `seconds` (or when
 * `stop` is called). Nothing outside 127.0.0.0/8 is ever sent to.
 */
export class TrafficGenerator {
  readonly stats: TrafficStats = { sent: 0, byStatus: {} };
  private timer?: NodeJS.Timeout;
  private deadline?: NodeJS.Timeout;
  private readonly inFlight = new Set<http.ClientRequest>();
  private readonly done: Promise<void>;
  private finish!: () => void;

  constructor(readonly url: string, ratePerSecond: number, seconds: number) {
    const target = new URL(url);
    if (!/^127\.\d+\.\d+\.\d+$/.test(target.hostname) && target.hostname !== 'localhost') throw new Error(`traffic goes to loopback addresses only, not ${target.hostname}`);
    const rate = Math.min(Math.max(ratePerSecond, 0.1), MAX_RATE);
    this.done = new Promise((resolve) => { this.finish = resolve; });
    this.timer = setInterval(() => this.send(target), 1000 / rate);
    this.deadline = setTimeout(() => void this.stop(), Math.min(seconds, MAX_SECONDS) * 1000);
  }

  /** Stops sending; resolves with what was sent and answered once the requests under way have ended. */
  async stop(): Promise<TrafficStats> {
    if (this.timer) clearInterval(this.timer);
    if (this.deadline) clearTimeout(this.deadline);
    this.timer = this.deadline = undefined;
    for (const req of this.inFlight) req.destroy();
    this.finish();
    await this.done;
    return this.stats;
  }

  /** Resolves when the generator has stopped (by itself, at the end of its time, or by `stop`). */
  finished(): Promise<void> {
    return this.done;
  }

  private send(target: URL): void {
    this.stats.sent++;
    const count = (key: string) => { this.stats.byStatus[key] = (this.stats.byStatus[key] ?? 0) + 1; };
    const req = http.get(target, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => { this.inFlight.delete(req); count(String(res.statusCode)); });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => { if (this.inFlight.delete(req)) count('error'); });
    this.inFlight.add(req);
  }
}
