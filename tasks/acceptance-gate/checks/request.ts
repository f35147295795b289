import { NetworkError, describeNetworkFailure } from '../../common/http';

/**
 * Says what a failed request met, in words a pipeline author can act on: the gate's own reasons (its timeout, the
 * check's), then the HTTP layer's description of the network failure (which names the proxy or the CA setting).
 */
export function describeRequestFailure(err: unknown, url: string, timeoutSeconds: number, gateSignal: AbortSignal): string {
  if (gateSignal.aborted) return 'stopped: the gate timed out';
  const cause = err instanceof NetworkError ? err.cause : err;
  if ((cause as { name?: string } | undefined)?.name === 'TimeoutError') return `no answer from ${hostOf(url)} within ${timeoutSeconds} s (the check's timeout)`;
  return describeNetworkFailure(err, new URL(url));
}

export function hostOf(url: string): string {
  return new URL(url).host;
}

/** Ends a request at the check's timeout or when the gate ends, whichever comes first. */
export function signalFor(timeoutSeconds: number, gate: AbortSignal): AbortSignal {
  return AbortSignal.any([gate, AbortSignal.timeout(Math.max(1, Math.round(timeoutSeconds * 1000)))]);
}
