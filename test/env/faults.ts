import type { IncomingMessage, ServerResponse } from 'node:http';

export type FaultKind = '429' | '500' | '503' | 'drop' | 'slow';

/** Shares of requests that fail, and how; each 0..1. */
export interface FaultRates {
  rate429?: number;
  rate500?: number;
  rateDrop?: number;
  rateSlow?: number;
  slowMs?: number;
  /** Retry-After seconds sent with 429 and 503 (omitted when undefined). */
  retryAfterSeconds?: number;
  /** Only requests whose "METHOD path" matches are affected. */
  match?: RegExp;
}

interface Planned {
  kind: FaultKind;
  remaining: number;
  match?: RegExp;
  retryAfterSeconds?: number;
  slowMs?: number;
}

/**
 * Fault injection for an emulator or a registry front: a configurable share of 429, 500, dropped connections and
 * slow responses, or exactly the next N matching requests, so tests can prove a task survives them.
 */
export class Faults {
  private rates: FaultRates = {};
  private planned: Planned[] = [];
  /** Faults served so far, by kind: tests assert that a fault really happened. */
  readonly served: Record<FaultKind, number> = { '429': 0, '500': 0, '503': 0, drop: 0, slow: 0 };

  setRates(rates: FaultRates): void {
    this.rates = { ...rates };
  }

  /** The next `count` requests matching `match` get `kind`. */
  failNext(kind: FaultKind, count = 1, options: { match?: RegExp; retryAfterSeconds?: number; slowMs?: number } = {}): void {
    this.planned.push({ kind, remaining: count, ...options });
  }

  clear(): void {
    this.rates = {};
    this.planned = [];
    for (const k of Object.keys(this.served) as FaultKind[]) this.served[k] = 0;
  }

  /** Applies a fault to the request if one is due; true when the response was taken over (not for 'slow'). */
  async apply(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const key = `${req.method} ${req.url}`;
    const plan = this.planned.find((p) => p.remaining > 0 && (!p.match || p.match.test(key)));
    let kind: FaultKind | undefined;
    let retryAfterSeconds = this.rates.retryAfterSeconds;
    let slowMs = this.rates.slowMs ?? 2000;
    if (plan) {
      plan.remaining--;
      kind = plan.kind;
      retryAfterSeconds = plan.retryAfterSeconds;
      slowMs = plan.slowMs ?? slowMs;
      this.planned = this.planned.filter((p) => p.remaining > 0);
    } else if (!this.rates.match || this.rates.match.test(key)) {
      const r = Math.random();
      const { rate429 = 0, rate500 = 0, rateDrop = 0, rateSlow = 0 } = this.rates;
      if (r < rate429) kind = '429';
      else if (r < rate429 + rate500) kind = '500';
      else if (r < rate429 + rate500 + rateDrop) kind = 'drop';
      else if (r < rate429 + rate500 + rateDrop + rateSlow) kind = 'slow';
    }
    if (!kind) return false;
    this.served[kind]++;
    switch (kind) {
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, slowMs));
        return false;
      case 'drop':
        req.socket.destroy();
        return true;
      default: {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (retryAfterSeconds !== undefined && kind !== '500') headers['retry-after'] = String(retryAfterSeconds);
        const status = Number(kind);
        res.writeHead(status, headers);
        res.end(JSON.stringify(status === 429
          ? { error: { code: 'TooManyRequests', message: 'Injected fault: too many requests.' }, errors: [{ code: 'TOOMANYREQUESTS', message: 'Injected fault: too many requests.' }] }
          : { error: { code: 'InternalServerError', message: 'Injected fault: internal server error.' }, errors: [{ code: 'UNKNOWN', message: 'Injected fault: internal server error.' }] }));
        return true;
      }
    }
  }
}
