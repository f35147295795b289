import { errorMessage } from '../../common/errors';

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|SSL|EPROTO/;

/** Says what a failed request met, in words a pipeline author can act on. */
export function describeRequestFailure(err: unknown, url: string, timeoutSeconds: number, gateSignal: AbortSignal): string {
  const name = (err as { name?: string }).name;
  if (gateSignal.aborted) return 'stopped: the gate timed out';
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer from ${hostOf(url)} within ${timeoutSeconds} s (the check's timeout)`;
  let cause: unknown = err;
  for (let i = 0; i < 4 && cause; i++) {
    const code = (cause as { code?: string }).code;
    if (code === 'ECONNREFUSED') return `cannot connect to ${hostOf(url)}: connection refused`;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve the host ${new URL(url).hostname}`;
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `the connection to ${hostOf(url)} was dropped`;
    if (code && TLS_CODES.test(code)) {
      return `TLS failure with ${hostOf(url)}: ${(cause as Error).message} (${code}); the agent must trust the server's certificate authority (for a private CA, set NODE_EXTRA_CA_CERTS on the agent)`;
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return `request to ${hostOf(url)} failed: ${errorMessage((err as { cause?: unknown }).cause ?? err)}`;
}

export function hostOf(url: string): string {
  return new URL(url).host;
}

/** Ends a request at the check's timeout or when the gate ends, whichever comes first. */
export function signalFor(timeoutSeconds: number, gate: AbortSignal): AbortSignal {
  return AbortSignal.any([gate, AbortSignal.timeout(Math.max(1, Math.round(timeoutSeconds * 1000)))]);
}
