/**
 * The project's one HTTP layer: connection pools, the agent's proxy and CA, timeouts, one error type, one retry
 * verdict and one description of network failures. Built on node:http(s) with keep-alive agents (hpagent's CONNECT
 * tunnels through a proxy): its bodies are Node streams, so a blob piped from a download into an upload has
 * backpressure and none of the web-stream cost of fetch (about 1.5× the CPU for the same bytes), and it is the
 * cheapest of the measured clients (reference/agent-networking.md §5.3). undici 7 was tried first: its 520 KB in
 * every bundle and its WebAssembly parser cost more CPU at start-up than skopeo spends on a whole 100 MB copy.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { Transform, type Duplex, type Readable, type TransformCallback } from 'node:stream';
import { errorMessage } from './errors';
import { connectThrough, nodeAgentFor } from './network/clients';
import { getOnSocket, type OwnConnectionOptions } from './network/ownConnection';
import { networkSettings, proxyFor, type NetworkSettings, type ProxyEndpoint } from './network/settings';
import { isDroppedConnection, isTransientStatus, parseRetryAfter, type TransientVerdict } from './retry';

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A Node stream is sent as it is read (set content-length to avoid chunked framing). */
  body?: string | Buffer | Readable;
  signal?: AbortSignal;
  /** Longest silence before the response's headers (default 60 s). */
  timeoutMs?: number;
  /** Follow redirects (default false). The authorization header never follows to another host. */
  followRedirects?: boolean;
  /**
   * A large download (GET only): read on a connection of its own without Node's HTTP parser, which copies every
   * 16 KB piece of a body once more (network/ownConnection.ts). Such connections are kept for the next download
   * from the same origin.
   */
  ownConnection?: boolean;
}

export interface HttpResponse {
  status: number;
  /** The URL that answered, after redirects. */
  url: string;
  header(name: string): string | undefined;
  /** The body as a Node stream; read it, or `discard()` it, so the connection goes back to the pool. */
  body: Readable;
  text(): Promise<string>;
  bytes(): Promise<Buffer>;
  discard(): Promise<void>;
}

/**
 * An answer that is a failure: its status, the server's Retry-After and the start of its body (for messages). The
 * one error type of every client's HTTP failures; a client adds only what is its own (the Kubernetes Status fields).
 */
export class HttpError extends Error {
  readonly retryAfterMs?: number;
  readonly body: string;
  /** Overrides the status rule of `httpRetryVerdict` (e.g. a 401 after a token expired mid-upload). */
  readonly transient?: boolean;

  constructor(readonly status: number, what: string, options: HttpErrorOptions = {}) {
    const body = (options.body ?? '').slice(0, 300).replace(/\s+/g, ' ').trim();
    super(options.message ?? `${what} answered ${status}${body ? `: ${body}` : ''}`);
    this.name = 'HttpError';
    this.retryAfterMs = options.retryAfterMs ?? parseRetryAfter(options.retryAfter);
    this.body = body;
    this.transient = options.transient;
  }
}

export interface HttpErrorOptions {
  /** The Retry-After header as sent, or already in milliseconds. */
  retryAfter?: string;
  retryAfterMs?: number;
  body?: string;
  transient?: boolean;
  /** The whole message, when the server's own words say it better (a Kubernetes Status message). */
  message?: string;
}

/** A body's JSON object, or undefined when the text is not one (an error page from a proxy, an empty answer). */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

/** Throws an HttpError for a response with a status of 400 or more (reading the start of its body). */
export async function failOnStatus(res: HttpResponse, what: string): Promise<HttpResponse> {
  if (res.status < 400) return res;
  throw new HttpError(res.status, what, { retryAfter: res.header('retry-after'), body: await res.text().catch(() => '') });
}

/** Worth another try: an HttpError for 408, 429 or 5xx (or one marked transient), or a dropped connection. */
export function httpRetryVerdict(err: unknown): TransientVerdict {
  if (err instanceof HttpError) return { transient: err.transient ?? isTransientStatus(err.status), retryAfterMs: err.retryAfterMs, reason: err.message };
  return { transient: isDroppedConnection(err), reason: isDroppedConnection(err) ? 'connection dropped' : errorMessage(err) };
}

const MAX_REDIRECTS = 5;

/** One request through the pool for its origin (directly, or through the proxy the agent's settings give for it). */
export async function send(url: string | URL, options: SendOptions = {}): Promise<HttpResponse> {
  let target = new URL(url);
  const origin = target.host;
  let method = options.method ?? 'GET';
  let headers = { ...options.headers };
  let body = options.body;
  for (let hop = 0; ; hop++) {
    const res = await sendOnce(target, method, headers, body, options);
    const location = res.header('location');
    if (!options.followRedirects || ![301, 302, 303, 307, 308].includes(res.status) || !location || hop >= MAX_REDIRECTS) return res;
    await res.discard();
    target = new URL(location, target);
    // Never send credentials to another host: blob downloads are often redirected to storage with signed URLs.
    if (target.host !== origin) headers = withoutHeaders(headers, ['authorization', 'cookie']);
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
      method = 'GET';
      body = undefined;
      headers = withoutHeaders(headers, ['content-length', 'content-type']);
    }
  }
}

function sendOnce(target: URL, method: string, headers: Record<string, string>, body: SendOptions['body'], options: SendOptions): Promise<HttpResponse> {
  const route = routeFor(target);
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (options.ownConnection && method === 'GET') return getOnOwnConnection(target, headers, route, timeoutMs, options.signal);
  return new Promise((resolve, reject) => {
    const req = (target.protocol === 'http:' ? http : process.getBuiltinModule('node:https')).request(target, { method, headers, agent: route.agent, signal: options.signal }, (res) => {
      req.setTimeout(0);
      const header = (name: string) => {
        const value = res.headers[name.toLowerCase()];
        return Array.isArray(value) ? value.join(', ') : value;
      };
      resolve(wrap(res.statusCode ?? 0, target.toString(), header, res));
    });
    // An idle timeout: a connection that hangs, or a server that says nothing, while an upload that is moving never ends.
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`), { code: 'UND_ERR_HEADERS_TIMEOUT' })));
    req.once('error', (err) => reject(new NetworkError(target, route.proxy, err)));
    // Without it Nagle's algorithm holds a streamed body's last small piece until the server acknowledges the head,
    // and servers delay that acknowledgement by 40 ms: every small blob's upload took 40 ms longer (measured).
    req.setNoDelay(true);
    if (body && typeof body !== 'string' && !Buffer.isBuffer(body)) {
      body.once('error', (err) => req.destroy(err));
      body.pipe(new WriteBatches(256 * 1024)).pipe(req);
      // The head goes out now, not with the first piece of the body: the server starts on the request (its
      // authentication, an upload's session) while the body is still on its way, as a blob's download is.
      req.flushHeaders();
    } else {
      req.end(body);
    }
  });
}

/**
 * A streamed body in writes of at least `size` bytes. Downloads arrive in 16 KB pieces (one TLS record each), and
 * passed on one by one each piece costs the upload an encryption call and a system call: for a 100 MB blob that
 * was the largest share of a copy's CPU (about 0.25 s); gathered into 256 KB writes it is about 0.1 s.
 */
class WriteBatches extends Transform {
  private parts: Buffer[] = [];
  private held = 0;

  constructor(private readonly size: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.parts.push(chunk);
    this.held += chunk.length;
    if (this.held >= this.size) this.release();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (this.held > 0) this.release();
    callback();
  }

  private release(): void {
    this.push(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.held));
    this.parts = [];
    this.held = 0;
  }
}

async function getOnOwnConnection(target: URL, headers: Record<string, string>, route: Route, timeoutMs: number, signal?: AbortSignal): Promise<HttpResponse> {
  const idle = route.ownConnections;
  const options: OwnConnectionOptions = { timeoutMs, signal, keep: (socket) => idle.keep(target.origin, socket) };
  try {
    const kept = idle.take(target.origin);
    if (kept) {
      try {
        return await getOn(kept, target, headers, options);
      } catch (err) {
        // A kept connection that the server closed meanwhile is reset before any answer: the GET goes again, once, on
        // a new connection. A timeout is not retried here: the server may be slow, not gone.
        if (!isClosedConnection(err)) throw err;
      }
    }
    return await getOn(await connectThrough(route.agent, target, timeoutMs), target, headers, options);
  } catch (err) {
    throw new NetworkError(target, route.proxy, err);
  }
}

async function getOn(socket: Duplex, target: URL, headers: Record<string, string>, options: OwnConnectionOptions): Promise<HttpResponse> {
  const res = await getOnSocket(socket, target, headers, options);
  return wrap(res.status, target.toString(), (name) => res.headers.get(name.toLowerCase()), res.body);
}

function isClosedConnection(err: unknown): boolean {
  const c = code(err);
  return c === 'ECONNRESET' || c === 'EPIPE';
}

/**
 * The connections of ownConnection downloads that can carry another GET, per origin: a few, for a few seconds
 * (servers close idle connections after about 5 s). While kept they are read, so a close is seen at once.
 */
class OwnConnections {
  private readonly idle = new Map<string, { socket: Duplex; forget: () => void }[]>();
  private closed = false;

  take(origin: string): Duplex | undefined {
    const list = this.idle.get(origin);
    while (list?.length) {
      const { socket, forget } = list.pop()!;
      forget();
      if (!socket.destroyed) return socket;
      closeQuietly(socket);
    }
    return undefined;
  }

  keep(origin: string, socket: Duplex): void {
    const list = this.idle.get(origin) ?? [];
    // A download still under way when the pools were closed ends with its connection closed, not kept.
    if (this.closed || list.length >= MAX_KEPT_PER_ORIGIN) return void socket.destroy();
    this.idle.set(origin, list);
    const tcp = socket as Partial<Socket>;
    const drop = () => {
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
      entry.forget();
      closeQuietly(socket);
    };
    const entry = {
      socket,
      forget: () => {
        for (const event of DROP_EVENTS) socket.off(event, drop);
        tcp.setTimeout?.(0);
        tcp.ref?.();
      },
    };
    // Anything the server sends now is no answer to us: the connection is dropped, as on its close or when idle.
    for (const event of DROP_EVENTS) socket.on(event, drop);
    tcp.setTimeout?.(KEPT_IDLE_MS);
    // A kept connection does not hold the process open.
    tcp.unref?.();
    socket.resume();
    list.push(entry);
  }

  destroy(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const { socket, forget } of list.splice(0)) {
      forget();
      closeQuietly(socket);
    }
  }
}

/** Closes a connection that nothing listens to any more; an error it still emits is of no use to anyone. */
function closeQuietly(socket: Duplex): void {
  socket.on('error', () => undefined).destroy();
}

const DROP_EVENTS = ['data', 'end', 'error', 'close', 'timeout'] as const;
/** More than the blob copy's concurrency (6), so that every connection of a copy is kept between its downloads. */
const MAX_KEPT_PER_ORIGIN = 8;
const KEPT_IDLE_MS = 4_000;

function wrap(status: number, url: string, header: (name: string) => string | undefined, body: Readable): HttpResponse {
  const bytes = () => new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: Buffer) => chunks.push(c));
    body.once('end', () => resolve(Buffer.concat(chunks)));
    body.once('error', reject);
    body.once('aborted', () => reject(Object.assign(new Error('the response was cut off'), { code: 'ECONNRESET' })));
  });
  return {
    status,
    url,
    header,
    body,
    text: async () => (await bytes()).toString('utf8'),
    bytes,
    // A body that has arrived whole must still be read to its end: only then does Node give the connection back
    // to the pool (otherwise every answer without a body, HEAD's above all, costs a new connection and handshake).
    discard: () => new Promise<void>((resolve) => {
      if (body.readableEnded || body.destroyed) return resolve();
      body.once('end', resolve).once('close', resolve).once('error', () => resolve());
      body.resume();
    }),
  };
}

function withoutHeaders(headers: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !names.includes(k.toLowerCase())));
}

/**
 * A request that got no answer: it keeps the cause (its code decides retries) and says in words what was met,
 * naming the proxy when the failure was the proxy's.
 */
export class NetworkError extends Error {
  readonly code?: string;

  constructor(readonly url: URL, readonly proxy: ProxyEndpoint | undefined, cause: unknown) {
    super(describeNetworkFailure(cause, url, proxy), { cause });
    this.name = 'NetworkError';
    this.code = codeOf(cause);
  }
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|SSL|EPROTO|ERR_OSSL/;

/** Says what a failed request met, in words a pipeline author or an agent's administrator can act on. */
export function describeNetworkFailure(err: unknown, url: URL, proxy?: ProxyEndpoint): string {
  if (err instanceof NetworkError) return err.message;
  const host = url.host;
  // undici, hpagent and typed-rest-client's tunnel each word a refused CONNECT their own way.
  const proxyStatus = /Proxy response \((\d+)\)|Proxy Authentication Required \((\d+)\)|Bad response: (\d+)|tunneling socket could not be established, statusCode=(\d+)/.exec(chainMessages(err));
  if (proxy && proxyStatus) {
    const status = proxyStatus.slice(1).find((g) => g !== undefined);
    if (status === '407') {
      return `the proxy ${proxy.origin} refused ${proxy.username ? `the credentials of its user '${proxy.username}'` : 'the request without credentials'} (407 Proxy Authentication Required). Check the agent's proxy user name and password (Agent.ProxyUsername, Agent.ProxyPassword)`;
    }
    return `the proxy ${proxy.origin} would not open a tunnel to ${host} (${status}). Ask the proxy's administrator to allow it, or add the host to the agent's proxy bypass list`;
  }
  const name = (err as { name?: string }).name;
  if (inChain(err, (e) => (e as { name?: string }).name === 'TimeoutError' || code(e) === 'UND_ERR_HEADERS_TIMEOUT')) return `no answer from ${host} in time${proxy ? ` (through the proxy ${proxy.origin})` : ''}`;
  if (name === 'AbortError' || code(err) === 'UND_ERR_ABORTED') return `the request to ${host} was stopped`;
  for (let cause: unknown = err, depth = 0; cause && depth < 5; depth++, cause = (cause as { cause?: unknown }).cause) {
    const c = code(cause);
    const port = (cause as { port?: number }).port;
    const atProxy = !!proxy && port !== undefined && String(port) === (new URL(proxy.origin).port || '80');
    if (c === 'ECONNREFUSED') return atProxy ? `cannot connect to the proxy ${proxy.origin}: connection refused. Check the agent's proxy URL (Agent.ProxyUrl)` : `cannot connect to ${host}: connection refused`;
    if (c === 'ENOTFOUND' || c === 'EAI_AGAIN') return `cannot resolve the host ${(cause as { hostname?: string }).hostname ?? url.hostname}`;
    if (c === 'UND_ERR_CONNECT_TIMEOUT') return `cannot connect to ${atProxy ? `the proxy ${proxy.origin}` : host}: the connection timed out`;
    if (c === 'ECONNRESET' || c === 'UND_ERR_SOCKET' || c === 'EPIPE') return `the connection to ${host} was dropped${proxy ? ` (through the proxy ${proxy.origin})` : ''}`;
    if (c && TLS_CODES.test(c)) {
      return `TLS failure with ${host}: ${(cause as Error).message} (${c}). The agent does not trust the certificate authority of ${url.hostname}: give the agent its CA (config.sh --sslcacert, which tasks read as Agent.CAInfo) or set NODE_EXTRA_CA_CERTS on the agent`;
    }
  }
  const deepest = deepestCause(err);
  return `request to ${host} failed: ${errorMessage(deepest)}`;
}

/**
 * For an SDK client's error (core-rest-pipeline's RestError, MSAL's, client-node's): the description of the network
 * failure under it, naming the proxy or the certificate setting, or undefined when it is an answer, not a failure.
 */
export function sdkNetworkFailure(err: unknown, target: string | URL): string | undefined {
  const url = new URL(target);
  const text = chainMessages(err);
  const failed = /Bad response: \d+|Proxy response \(\d+\)|Proxy Authentication Required|tunneling socket could not be established/.test(text) || !!codeOf(err) && /^(E[A-Z]+|UND_ERR_\w+|ERR_TLS\w*|ERR_SSL\w*|\w*CERT\w*|UNABLE_TO_\w+)$/.test(codeOf(err)!)
    || /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT|ECONNREFUSED/.test(text);
  if (!failed) return undefined;
  const described = describeNetworkFailure(err, url, proxyFor(url));
  if (/^request to .* failed:/.test(described)) {
    const tlsCode = /(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|ERR_TLS_CERT_ALTNAME_INVALID)/.exec(text)?.[1];
    if (tlsCode) return describeNetworkFailure(Object.assign(new Error(tlsCode), { code: tlsCode }), url, proxyFor(url));
  }
  return described;
}

/** Whether the error or one of its causes is as `test` says. */
export function inChain(err: unknown, test: (e: unknown) => boolean): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++, e = (e as { cause?: unknown }).cause) if (test(e)) return true;
  return false;
}

function code(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | undefined)?.code;
  return typeof c === 'string' ? c : undefined;
}

function codeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++, e = (e as { cause?: unknown }).cause) if (code(e)) return code(e);
  return undefined;
}

function chainMessages(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++, e = (e as { cause?: unknown }).cause) parts.push(errorMessage(e));
  return parts.join(' | ');
}

function deepestCause(err: unknown): unknown {
  let e = err;
  for (let depth = 0; depth < 5 && (e as { cause?: unknown })?.cause; depth++) e = (e as { cause?: unknown }).cause;
  return e;
}

// ---- pools

interface Route {
  agent: http.Agent;
  proxy?: ProxyEndpoint;
  ownConnections: OwnConnections;
}

const POOLS = Symbol.for('aks-secure-delivery.http-pools');
type PoolStore = { [POOLS]?: { settings: NetworkSettings; pools: Map<string, { agent: http.Agent; ownConnections: OwnConnections }> } };

/** The pool for a URL: keep-alive agents per scheme, direct or tunnelled with CONNECT through the proxy (http:// too). */
function routeFor(url: URL): Route {
  const settings = networkSettings();
  const store = globalThis as PoolStore;
  if (store[POOLS]?.settings !== settings) store[POOLS] = { settings, pools: new Map() };
  const pools = store[POOLS].pools;
  const proxy = proxyFor(url, settings);
  const key = `${url.protocol} ${proxy ? proxy.origin : 'direct'}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = { agent: nodeAgentFor(url, { keepAlive: true, maxSockets: 32 }), ownConnections: new OwnConnections() };
    pools.set(key, pool);
  }
  return { ...pool, proxy };
}

/** Closes every pool (a task that is done, or a test that changes settings). */
export function closePools(): void {
  const store = globalThis as PoolStore;
  for (const pool of store[POOLS]?.pools.values() ?? []) {
    pool.agent.destroy();
    pool.ownConnections.destroy();
  }
  store[POOLS] = undefined;
}

export { tlsOptions, type TlsOptions } from './network/settings';
