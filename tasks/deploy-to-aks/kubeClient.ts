import type * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node';
import { UserError } from '../common/errors';
import type { TaskLog } from '../common/log';
import { HttpError, httpRetryVerdict, tlsOptions } from '../common/http';
import { nodeAgentFor } from '../common/network/clients';
import { networkSettings } from '../common/network/settings';
import { parseRetryAfter, retry } from '../common/retry';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KObj = Record<string, any> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [key: string]: any } };

/** A failure answered by the API server: the HTTP layer's error with the Status fields. */
export class KubeApiError extends HttpError {
  constructor(
    status: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; kind?: string; group?: string; causes?: { field?: string; message?: string }[] },
    retryAfterMs?: number,
  ) {
    super(status, 'the API server', { message, retryAfterMs, transient: isSchemaRefusal(status, message) ? false : undefined });
    this.name = 'KubeApiError';
  }
}

/**
 * A server-side apply whose body does not fit the schema (an unknown field, a value of the wrong type) fails in the
 * API server's typed conversion, which answers 500 InternalError although nothing is transient: the body is wrong
 * (`failed to create typed patch object (ns/name; apps/v1, Kind=Deployment): .spec.foo: field not declared in
 * schema`; kubernetes/kubernetes#122480 and #139253). Such a 500 is the manifest's fault: not retried.
 */
export function isSchemaRefusal(status: number, message: string): boolean {
  return status === 500 && /^failed to create typed patch object \(|^failed to convert (new|original|live) object .* to smd typed/.test(message);
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  /** Retry 429, 5xx and dropped connections (default true). */
  retry?: boolean;
  /** Attempts in all, when retrying (default 6). */
  attempts?: number;
  /** Longest wait for an answer (default 30 s). */
  timeoutMs?: number;
}

export type WatchEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: KObj };

/**
 * The task's only way to the API server. Connection details (server, CA, client certificate, token, exec plugin)
 * come from client-node's KubeConfig through `applyToHTTPSOptions`; requests are made here with raw JSON bodies,
 * because client-node's model serializer drops fields it does not know (CRD schemas above all). Transient
 * failures are retried with backoff honouring Retry-After.
 */
export class KubeClient {
  readonly server: string;
  /** Pooled connections for requests; a watch holds its connection, so watches get an agent of their own. */
  private readonly agent: http.Agent;
  private readonly watchAgent: http.Agent;
  private readonly tlsContexts = new Map<string, tls.SecureContext>();

  constructor(private readonly kc: KubeConfig, private readonly log: TaskLog, readonly description: string) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new UserError(`${description}: the kubeconfig has no current cluster. Set current-context to a context whose cluster has a server.`);
    this.server = cluster.server.replace(/\/+$/, '');
    // client-node 1.4 ignores HTTPS_PROXY and knows only the kubeconfig's proxy-url: the agent's proxy and CA come
    // from the HTTP layer's settings instead, the CA also inside the tunnel (the kubeconfig's CA applies per request).
    this.agent = nodeAgentFor(this.server, { keepAlive: true, maxSockets: 16 });
    this.watchAgent = nodeAgentFor(this.server, { keepAlive: false, maxSockets: Infinity });
  }

  /** The namespace of the kubeconfig's current context, if it names one. */
  get contextNamespace(): string | undefined {
    return this.kc.getContextObject(this.kc.getCurrentContext())?.namespace || undefined;
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }

  async request<T = KObj>(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: T }> {
    const attempt = () => this.once<T>(method, path, options);
    if (options.retry === false) return attempt();
    return retry(attempt, httpRetryVerdict, {
      attempts: options.attempts ?? 6, baseDelayMs: 200, maxDelayMs: 5000,
      onRetry: ({ delayMs, reason }) => this.log.debug(`${method} ${path}: ${reason}; retrying in ${delayMs} ms`),
    });
  }

  private async options(method: string, path: string, query?: Record<string, string | undefined>): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = { method, headers: {} };
    await this.kc.applyToHTTPSOptions(opts);
    this.addAgentTls(opts);
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    return { ...opts, agent: this.agent, hostname: url.hostname, port: url.port || 443, path: `${url.pathname}${url.search}`, headers: { ...opts.headers, 'user-agent': 'aks-secure-delivery/deploy-to-aks' } };
  }

  /**
   * The agent's TLS settings beside the kubeconfig's: its CA trusts the API server and Agent.CAInfo is trusted
   * besides it; the agent's client certificate is presented only when the kubeconfig has none of its own. Built
   * once per distinct kubeconfig material, as the HTTP layer's context is: given as `ca`, the ~140 roots that come
   * with Agent.CAInfo would be parsed again for every connection (20 ms of CPU), and every watch opens one.
   */
  private addAgentTls(opts: https.RequestOptions & { secureContext?: tls.SecureContext }): void {
    const settings = networkSettings();
    if (!settings.caFile && !settings.clientCert) return;
    const material = [opts.ca, opts.cert, opts.key, opts.passphrase].map((v) => [v ?? ''].flat().map(String).join('\n')).join('\0');
    let context = this.tlsContexts.get(material);
    if (!context) {
      const agentTls = tlsOptions(settings);
      const own = opts.cert ? { cert: opts.cert, key: opts.key, passphrase: opts.passphrase } : { cert: agentTls.cert, key: agentTls.key, passphrase: agentTls.passphrase };
      const ca = agentTls.ca ? [...[opts.ca ?? []].flat(), ...agentTls.ca] : opts.ca;
      context = tls.createSecureContext({ ...own, ca });
      this.tlsContexts.set(material, context);
    }
    opts.secureContext = context;
  }

  private async once<T>(method: string, path: string, { query, body, contentType, timeoutMs = 30_000 }: RequestOptions): Promise<{ status: number; body: T }> {
    const opts = await this.options(method, path, query);
    const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    opts.headers = { ...opts.headers, accept: 'application/json', ...(payload ? { 'content-type': contentType ?? 'application/json', 'content-length': String(payload.length) } : {}) };
    return new Promise((resolve, reject) => {
      const req = https.request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const parsed = parseBody(Buffer.concat(chunks).toString('utf8'));
          const status = res.statusCode ?? 0;
          if (status >= 400) return reject(toApiError(status, parsed, res.headers['retry-after'] as string | undefined));
          resolve({ status, body: parsed as T });
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`the API server did not answer within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * One watch request: calls `onEvent` for each event until the server ends the stream (resolves), the signal
   * aborts (resolves), or the request fails (rejects with KubeApiError or a network error).
   */
  async watch(path: string, query: Record<string, string | undefined>, onEvent: (event: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const opts = await this.options('GET', path, { ...query, watch: 'true' });
    opts.headers = { ...opts.headers, accept: 'application/json' };
    return new Promise((resolve, reject) => {
      if (signal.aborted) return resolve();
      const req = https.request({ ...opts, agent: this.watchAgent }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 400) {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => {
            reject(toApiError(status, parseBody(text), res.headers['retry-after'] as string | undefined));
          });
          return;
        }
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buffer += d;
          let i: number;
          while ((i = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, i).trim();
            buffer = buffer.slice(i + 1);
            if (!line) continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent);
            } catch (err) {
              if (err instanceof SyntaxError) continue;
              req.destroy();
              return reject(err);
            }
          }
        });
        res.on('end', () => resolve());
        res.on('aborted', () => (signal.aborted ? resolve() : reject(Object.assign(new Error('the watch was cut off'), { code: 'ECONNRESET' }))));
        res.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
      });
      const abort = () => { req.destroy(); resolve(); };
      signal.addEventListener('abort', abort, { once: true });
      req.on('close', () => signal.removeEventListener('abort', abort));
      req.on('error', (err) => (signal.aborted ? resolve() : reject(err)));
      req.end();
    });
  }
}

/** A response body as JSON; text that is not JSON stays text (an error page from a proxy), nothing is undefined. */
function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toApiError(status: number, body: unknown, retryAfter?: string): KubeApiError {
  const s = (body && typeof body === 'object' ? body : {}) as { message?: string; reason?: string; details?: KubeApiError['details']; error?: { message?: string } };
  const message = s.message ?? s.error?.message ?? (typeof body === 'string' && body ? body.slice(0, 300) : `HTTP ${status}`);
  return new KubeApiError(status, s.reason ?? '', message, s.details, parseRetryAfter(retryAfter));
}
