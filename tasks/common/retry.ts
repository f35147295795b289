/**
 * Retry with exponential backoff and jitter for transient failures only: HTTP 429 and 5xx, and dropped
 * connections. A server's Retry-After is honoured (capped, so a misbehaving server cannot stall a job).
 */

export interface RetryOptions {
  /** Total attempts, the first included. */
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each wait, e.g. to log "429 from …, retrying in 2 s". */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
  signal?: AbortSignal;
}

export interface TransientVerdict {
  transient: boolean;
  reason?: string;
  retryAfterMs?: number;
}

const DEFAULTS = { attempts: 5, baseDelayMs: 200, maxDelayMs: 15_000 };
const MAX_RETRY_AFTER_MS = 60_000;

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);

/** Whether an HTTP status is worth another try: throttling or a server-side failure. */
export function isTransientStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 505);
}

/** Whether an error is a dropped or reset connection (Node and undici spellings). */
export function isDroppedConnection(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code)) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /socket hang up|other side closed|terminated/i.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  // Stryker disable next-line EqualityOperator: '0' then reads as a date (1 January 2000), in the past: 0 ms as well.
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MS);
}

export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const exponential = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exponential / 2 + Math.random() * (exponential / 2));
}

/** Runs `operation` until it succeeds, fails with a non-transient error, or runs out of attempts. */
export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  classify: (err: unknown) => TransientVerdict,
  options: RetryOptions = {},
): Promise<T> {
  const { attempts, baseDelayMs, maxDelayMs } = { ...DEFAULTS, ...options };
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (err) {
      const verdict = classify(err);
      if (!verdict.transient || attempt >= attempts || options.signal?.aborted) throw err;
      const delayMs = verdict.retryAfterMs ?? backoffDelay(attempt, baseDelayMs, maxDelayMs);
      options.onRetry?.({ attempt, delayMs, reason: verdict.reason ?? 'transient failure' });
      await sleep(delayMs, options.signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: done() removes the listener itself; `once` only says so twice.
    signal?.addEventListener('abort', done, { once: true });
  });
}
