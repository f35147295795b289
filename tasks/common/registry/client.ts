import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import type { TokenCredential } from '@azure/identity';
import { UserError, errorMessage } from '../errors';
import { isLoopbackRegistry, registryApiHost } from '../imageReference';
import type { TaskLog } from '../log';
import { isDroppedConnection, isTransientStatus, parseRetryAfter, retry, type TransientVerdict } from '../retry';
import { parseChallenge, type Challenge } from './challenge';
import { MANIFEST_TYPES, type Manifest } from './mediaTypes';

/** How to authenticate to a registry. */
export type RegistryCredentials =
  | { kind: 'anonymous' }
  | { kind: 'basic'; username: string; password: string; source: string }
  /** ACR with Microsoft Entra ID: an Entra token exchanged at the registry for an ACR refresh token. */
  | { kind: 'entra'; credential: TokenCredential; tenantId: string; scope: string; source: string };

export interface ManifestResponse {
  digest: string;
  mediaType: string;
  /** The exact bytes, which the digest is computed over. */
  bytes: Buffer;
  manifest: Manifest;
}

export interface RequestOptions {
  /** Scopes the request needs, e.g. `repository:shop/web:pull`. */
  scopes: string[];
  headers?: Record<string, string>;
  /** A replayable body; streams are the caller's to retry. */
  body?: Buffer | string;
  /** Statuses the caller handles itself (never turned into errors here). */
  expect?: number[];
}

export class HttpStatusError extends Error {
  constructor(readonly status: number, readonly retryAfterMs?: number) {
    super(`HTTP ${status}`);
  }
}

/**
 * Whether a failed registry call is worth another try: an HttpStatusError (thrown only for 429 and 5xx, and for a
 * streamed upload whose token expired) or a dropped connection; nothing else.
 */
export function registryRetryVerdict(err: unknown): TransientVerdict {
  return {
    transient: err instanceof HttpStatusError || isDroppedConnection(err),
    retryAfterMs: err instanceof HttpStatusError ? err.retryAfterMs : undefined,
    reason: err instanceof HttpStatusError ? err.message : 'connection dropped',
  };
}

/**
 * A client of the OCI distribution API: bearer-token and basic challenges (tokens cached per scope set), ACR's
 * Entra token exchange, retries of 429, 5xx and dropped connections, and HTTPS with the agent's trusted CAs
 * (plain HTTP only for a loopback registry that does not answer HTTPS, as Docker does).
 */
export class RegistryClient {
  private base?: Promise<string>;
  private readonly tokens = new Map<string, string>();
  private readonly pendingTokens = new Map<string, Promise<string>>();
  private basicAuth?: string;
  /** The registry's last bearer challenge: a streamed upload gets its token from it before it starts. */
  private bearerChallenge?: Challenge;
  private acrRefreshToken?: string;

  constructor(readonly registry: string, private readonly credentials: RegistryCredentials, private readonly log: TaskLog) {
    if (credentials.kind === 'basic') log.secret(credentials.password);
  }

  /** The manifest of `repository` at a tag or digest, or undefined when the registry has none. */
  async manifest(repository: string, reference: string): Promise<ManifestResponse | undefined> {
    const res = await this.request('GET', `/v2/${repository}/manifests/${reference}`, {
      scopes: [`repository:${repository}:pull`], headers: { accept: MANIFEST_TYPES.join(', ') }, expect: [404],
    });
    if (res.status === 404) {
      await res.arrayBuffer();
      return undefined;
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const claimed = res.headers.get('docker-content-digest');
    if ((reference.startsWith('sha256:') && reference !== digest) || (claimed && claimed.startsWith('sha256:') && claimed !== digest)) {
      throw new Error(`the registry ${this.registry} returned a manifest for ${repository}@${reference} whose content does not match its digest`);
    }
    const manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
    const mediaType = manifest.mediaType ?? res.headers.get('content-type')?.split(';')[0] ?? '';
    return { digest, mediaType, bytes, manifest };
  }

  /** Digest, media type and size of a manifest without its body, or undefined when absent. */
  async manifestHead(repository: string, reference: string): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const res = await this.request('HEAD', `/v2/${repository}/manifests/${reference}`, {
      scopes: [`repository:${repository}:pull`], headers: { accept: MANIFEST_TYPES.join(', ') }, expect: [404],
    });
    if (res.status === 404) return undefined;
    const digest = res.headers.get('docker-content-digest');
    if (!digest) {
      // A registry that leaves the header out: fall back to reading the manifest.
      const full = await this.manifest(repository, reference);
      return full && { digest: full.digest, mediaType: full.mediaType, size: full.bytes.length };
    }
    return { digest, mediaType: res.headers.get('content-type')?.split(';')[0] ?? '', size: Number(res.headers.get('content-length') ?? 0) };
  }

  /** Size of a blob, or undefined when the repository does not hold it. */
  async blobHead(repository: string, digest: string): Promise<number | undefined> {
    const res = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, { scopes: [`repository:${repository}:pull`], expect: [404] });
    if (res.status === 404) return undefined;
    return Number(res.headers.get('content-length') ?? 0);
  }

  /** Opens a blob for reading; the caller consumes or cancels the body (redirects to storage are followed). */
  async blobGet(repository: string, digest: string): Promise<Response> {
    return this.request('GET', `/v2/${repository}/blobs/${digest}`, { scopes: [`repository:${repository}:pull`] });
  }

  /**
   * Starts a blob upload. With `mountFrom` (another repository of this registry), asks for a cross-repository mount
   * first: `{ mounted: true }` when the registry linked the blob, otherwise an upload location (the registry opens
   * one when it refuses the mount).
   */
  async startUpload(repository: string, options: { mountFrom?: string; digest?: string } = {}): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const scopes = [`repository:${repository}:pull,push`];
    let query = '';
    if (options.mountFrom && options.digest) {
      scopes.push(`repository:${options.mountFrom}:pull`);
      query = `?mount=${encodeURIComponent(options.digest)}&from=${encodeURIComponent(options.mountFrom)}`;
    }
    const res = await this.request('POST', `/v2/${repository}/blobs/uploads/${query}`, { scopes, headers: { 'content-length': '0' } });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 201) return { mounted: true };
    const location = res.headers.get('location');
    if (res.status !== 202 || !location) throw new Error(`POST ${this.registry}/${repository} blob upload: unexpected ${res.status}`);
    return { mounted: false, location: new URL(location, await this.baseUrl()).toString() };
  }

  /**
   * Opens a blob as a Node stream (redirects to storage followed, credentials kept to the registry's host). Node
   * streams rather than fetch: piped into an upload they hold back the download while the upload is slower, so a
   * layer is never buffered whole.
   */
  async blobStream(repository: string, digest: string): Promise<http.IncomingMessage> {
    const scopes = [`repository:${repository}:pull`];
    let url = `${await this.baseUrl()}/v2/${repository}/blobs/${digest}`;
    for (let hop = 0; hop < 5; hop++) {
      let res = await this.nodeRequest('GET', url, scopes, {});
      if (res.statusCode === 401 && hop === 0) {
        res.resume();
        // The token for this scope is missing or has expired: a HEAD goes through the challenge and caches a new one.
        await this.blobHead(repository, digest);
        res = await this.nodeRequest('GET', url, scopes, {});
      }
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        url = new URL(res.headers.location, url).toString();
        continue;
      }
      if (status === 200) return res;
      const text = await readAll(res);
      if (isTransientStatus(status)) throw new HttpStatusError(status, parseRetryAfter(String(res.headers['retry-after'] ?? '')));
      throw this.statusError(status, 'GET', `/v2/${repository}/blobs/${digest}`, text);
    }
    throw new Error(`GET ${this.registry}/${repository} blob ${digest}: too many redirects`);
  }

  /**
   * Finishes an upload with the whole blob piped in one PUT (monolithic upload). Not retried here: a stream
   * cannot be replayed, so the caller starts the blob again.
   */
  async putBlob(repository: string, location: string, digest: string, size: number, body: Readable, onBytes?: (count: number) => void): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const res = await this.nodeRequest('PUT', url.toString(), [`repository:${repository}:pull,push`],
      { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body, onBytes);
    const text = await readAll(res);
    const status = res.statusCode ?? 0;
    if (status === 201) return;
    // A 401 here means the token expired mid-copy: it is dropped, so starting the blob again gets a new one.
    if (status === 401) this.tokens.delete(scopeKeyOf([`repository:${repository}:pull,push`]));
    if (isTransientStatus(status) || status === 401) throw new HttpStatusError(status, parseRetryAfter(String(res.headers['retry-after'] ?? '')));
    throw this.statusError(status, 'PUT', `/v2/${repository}/blobs/uploads/`, text);
  }

  private async nodeRequest(method: string, url: string, scopes: string[], headers: Record<string, string>, body?: Readable, onBytes?: (count: number) => void): Promise<http.IncomingMessage> {
    const target = new URL(url);
    const all: Record<string, string> = { ...headers };
    // Never send credentials to another host (blob downloads are often redirected to storage).
    if (target.host === new URL(await this.baseUrl()).host) {
      const scopeKey = scopeKeyOf(scopes);
      // A streamed body cannot be sent again after a challenge, so the token for exactly these scopes is obtained
      // first (an upload's scopes differ from those of the mount request that opened it).
      if (!this.tokens.has(scopeKey) && this.bearerChallenge) await this.authenticate(this.bearerChallenge, scopes, scopeKey);
      const authorization = this.authHeader(scopeKey);
      if (authorization) all.authorization = authorization;
    }
    return new Promise((resolve, reject) => {
      const req = (target.protocol === 'http:' ? http : https).request(target, { method, headers: all }, resolve);
      req.once('error', (err) => {
        body?.destroy();
        reject(err);
      });
      if (body) {
        body.once('error', (err) => req.destroy(err));
        body.pipe(req);
        // Observed only once piped: a 'data' listener added earlier would let chunks flow past the upload.
        if (onBytes) body.on('data', (chunk: Buffer) => onBytes(chunk.length));
      } else {
        req.end();
      }
    });
  }

  /**
   * Puts a manifest's exact bytes under a tag or its digest, with its own media type. Returns the digest the
   * registry computed and whether it indexed a `subject` (the OCI-Subject header of registries with the referrers API).
   */
  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<{ digest?: string; subjectIndexed: boolean }> {
    const res = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      scopes: [`repository:${repository}:pull,push`], headers: { 'content-type': mediaType }, body: bytes,
    });
    await res.arrayBuffer().catch(() => undefined);
    return { digest: res.headers.get('docker-content-digest') ?? undefined, subjectIndexed: res.headers.has('oci-subject') };
  }

  /**
   * One request with authentication and retries. Statuses of 400 and above that are not in `expect` become
   * errors that name the registry, the repository and what to do.
   */
  async request(method: string, path: string, options: RequestOptions): Promise<Response> {
    return retry(async () => {
      const res = await this.authorizedFetch(method, path, options);
      if (res.status < 400 || options.expect?.includes(res.status)) return res;
      const text = await res.text().catch(() => '');
      if (isTransientStatus(res.status)) throw new HttpStatusError(res.status, parseRetryAfter(res.headers.get('retry-after')));
      throw this.statusError(res.status, method, path, text);
    }, registryRetryVerdict, { onRetry: ({ delayMs, reason }) => this.log.debug(`${method} ${this.registry}${path}: ${reason}; retrying in ${delayMs} ms`) })
      .catch((err: unknown) => {
        if (err instanceof HttpStatusError) throw new UserError(`The registry ${this.registry} kept answering ${err.status} to ${method} ${path}; try again later.`);
        throw err;
      });
  }

  /** Sends the request; on a 401 challenge, authenticates for the challenge's scopes and ours, and sends it again. */
  async authorizedFetch(method: string, path: string, options: RequestOptions & { bodyStream?: ReadableStream | NodeJS.ReadableStream }): Promise<Response> {
    const scopeKey = scopeKeyOf(options.scopes);
    // Concurrent requests for one scope set share one token request instead of each meeting the challenge.
    await this.pendingTokens.get(scopeKey)?.catch(() => undefined);
    let res = await this.send(method, path, options, this.authHeader(scopeKey));
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get('www-authenticate'));
    await res.arrayBuffer().catch(() => undefined);
    if (!challenge) return res;
    if (challenge.scheme === 'bearer') this.bearerChallenge = challenge;
    const header = await this.authenticate(challenge, [...new Set([...options.scopes, ...challenge.scopes])], scopeKey);
    if (!header) return res;
    res = await this.send(method, path, options, header);
    return res;
  }

  private authHeader(scopeKey: string): string | undefined {
    const token = this.tokens.get(scopeKey);
    if (token) return `Bearer ${token}`;
    return this.basicAuth;
  }

  private async send(method: string, path: string, options: RequestOptions & { bodyStream?: ReadableStream | NodeJS.ReadableStream }, authorization?: string): Promise<Response> {
    const url = /^https?:\/\//.test(path) ? path : `${await this.baseUrl()}${path}`;
    const headers: Record<string, string> = { ...options.headers };
    // Never send credentials to another host (blob downloads are often redirected to storage).
    if (authorization && new URL(url).host === new URL(await this.baseUrl()).host) headers.authorization = authorization;
    const body = options.bodyStream ?? options.body;
    try {
      return await fetch(url, { method, headers, body: body as RequestInit['body'], redirect: 'follow', ...(options.bodyStream ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (err) {
      if (isDroppedConnection(err)) throw err;
      throw new UserError(`Cannot reach the registry ${this.registry} (${describeNetworkError(err)}). Check the registry name and that the agent can reach it.`, { cause: err });
    }
  }

  /**
   * `https://host`, or `http://host` for a loopback registry that does not speak TLS. Found out once, and shared:
   * requests that start together all wait for the one answer instead of taking HTTPS while it is not known yet.
   */
  baseUrl(): Promise<string> {
    return (this.base ??= this.findBaseUrl());
  }

  private async findBaseUrl(): Promise<string> {
    const host = registryApiHost(this.registry);
    if (isLoopbackRegistry(host)) {
      try {
        await fetch(`https://${host}/v2/`, { method: 'GET' }).then((r) => r.arrayBuffer());
      } catch (err) {
        if (/EPROTO|wrong version number|WRONG_VERSION_NUMBER|packet length too long/i.test(`${errorMessage(err)} ${String((err as { cause?: unknown }).cause)}`)) {
          this.log.debug(`${this.registry} does not answer HTTPS; using plain HTTP on loopback`);
          return `http://${host}`;
        }
      }
    }
    return `https://${host}`;
  }

  /** Obtains a token (or basic credentials) for a challenge; undefined when there is nothing to present. */
  private async authenticate(challenge: Challenge, scopes: string[], scopeKey: string): Promise<string | undefined> {
    const creds = this.credentials;
    if (challenge.scheme === 'basic') {
      if (creds.kind !== 'basic') return undefined;
      this.basicAuth = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      return this.basicAuth;
    }
    if (!challenge.realm) throw new Error(`the registry ${this.registry} sent a bearer challenge without a realm`);
    let pending = this.pendingTokens.get(scopeKey);
    if (!pending) {
      pending = this.fetchToken(challenge.realm, challenge.service ?? this.registry, scopes).then((token) => {
        this.log.secret(token);
        this.tokens.set(scopeKey, token);
        return token;
      }).finally(() => this.pendingTokens.delete(scopeKey));
      this.pendingTokens.set(scopeKey, pending);
    }
    return `Bearer ${await pending}`;
  }

  private async fetchToken(realm: string, service: string, scopes: string[]): Promise<string> {
    const creds = this.credentials;
    let res: Response;
    if (creds.kind === 'entra') {
      const refreshToken = await this.acrRefresh(realm, service, creds);
      const form = new URLSearchParams({ grant_type: 'refresh_token', service, refresh_token: refreshToken });
      for (const s of scopes) form.append('scope', s);
      res = await tokenFetch(realm, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    } else {
      const url = new URL(realm);
      url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds.kind === 'basic') headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      res = await tokenFetch(url.toString(), { headers });
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      const who = creds.kind === 'anonymous' ? 'anonymous access' : `the credentials of ${creds.source}`;
      throw new UserError(`The registry ${this.registry} refused ${who} (${res.status}). ${creds.kind === 'anonymous' ? 'Give a registry service connection or an Azure subscription with access to it.' : 'Check the user name and password or the identity\'s role on the registry.'}`);
    }
    if (!res.ok) throw new Error(`token request to ${realm} answered ${res.status}`);
    const body = JSON.parse(text) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`token request to ${realm} returned no token`);
    return token;
  }

  /** Entra access token → ACR refresh token, once per client (ACR's /oauth2/exchange). */
  private async acrRefresh(realm: string, service: string, creds: Extract<RegistryCredentials, { kind: 'entra' }>): Promise<string> {
    if (this.acrRefreshToken) return this.acrRefreshToken;
    const entraToken = await creds.credential.getToken(creds.scope);
    if (!entraToken) throw new Error('no Entra token');
    this.log.secret(entraToken.token);
    const res = await tokenFetch(`${new URL(realm).origin}/oauth2/exchange`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'access_token', service, tenant: creds.tenantId, access_token: entraToken.token }).toString(),
    });
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      throw new UserError(`The registry ${this.registry} refused the Entra token of ${creds.source} (${res.status}). Give the identity the AcrPull role (AcrPush to write) on the registry.`);
    }
    if (!res.ok) throw new Error(`ACR token exchange at ${this.registry} answered ${res.status}`);
    const refresh = (JSON.parse(text) as { refresh_token?: string }).refresh_token;
    if (!refresh) throw new Error(`ACR token exchange at ${this.registry} returned no refresh token`);
    this.log.secret(refresh);
    this.acrRefreshToken = refresh;
    return refresh;
  }

  private statusError(status: number, method: string, path: string, body: string): Error {
    const repository = /^\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)\//.exec(path)?.[1];
    const where = repository ? `${this.registry}/${repository}` : this.registry;
    const codes = registryErrorCodes(body);
    if (status === 401) return new UserError(`The registry ${this.registry} requires authentication for ${where} and the given credentials were not accepted. Check the registry service connection or the identity's access.`);
    if (status === 405) {
      return new UserError(`The registry ${this.registry} does not allow ${method} on ${where} (405${codes.length ? ` ${codes.join(', ')}` : ''}). On Azure Container Registry a locked tag or manifest (write disabled) cannot be changed: unlock it, or promote under another tag.`);
    }
    if (status === 403 || codes.includes('DENIED')) return new UserError(`The registry ${this.registry} denied ${method} on ${where}: the credentials lack permission (pull to read, push to write).`);
    if (codes.includes('NAME_INVALID')) return new UserError(`The registry ${this.registry} refuses the repository name '${repository}'. Use lower-case letters, digits and separators.`);
    if (codes.includes('NAME_UNKNOWN')) return new UserError(`The repository ${where} does not exist.`);
    return new Error(`${method} ${where}: HTTP ${status}${codes.length ? ` (${codes.join(', ')})` : ''}`);
  }
}

/** The key of a token in the cache: the set of scopes it was asked for. */
function scopeKeyOf(scopes: string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function tokenFetch(url: string, init: RequestInit): Promise<Response> {
  return retry(async () => {
    const res = await fetch(url, init);
    if (isTransientStatus(res.status)) {
      await res.arrayBuffer().catch(() => undefined);
      throw new HttpStatusError(res.status, parseRetryAfter(res.headers.get('retry-after')));
    }
    return res;
  }, registryRetryVerdict);
}

function registryErrorCodes(body: string): string[] {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: string }[] };
    return (parsed.errors ?? []).map((e) => e.code ?? '').filter(Boolean);
  } catch {
    return [];
  }
}

function describeNetworkError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? errorMessage(err);
}
