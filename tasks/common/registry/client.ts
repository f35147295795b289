import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { UserError } from '../errors';
import { HttpError, httpRetryVerdict, type HttpResponse } from '../http';
import type { TaskLog } from '../log';
import { isTransientStatus, retry } from '../retry';
import { RegistryAuth, type RegistryCredentials } from './auth';
import { parseChallenge } from './challenge';
import { registryStatusError } from './errors';
import { MANIFEST_TYPES, type Manifest } from './mediaTypes';
import { RegistryTransport } from './transport';

export type { RegistryCredentials } from './auth';

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

/**
 * A client of the OCI distribution API, verb by verb. Authentication (challenges, tokens, ACR's Entra exchange) is
 * `RegistryAuth`'s, reaching the registry (scheme, proxy, CA, pools) is `RegistryTransport`'s; 429, 5xx and dropped
 * connections are retried here for every request whose body can be sent again.
 */
export class RegistryClient {
  private readonly transport: RegistryTransport;
  private readonly auth: RegistryAuth;

  constructor(readonly registry: string, credentials: RegistryCredentials, private readonly log: TaskLog) {
    this.transport = new RegistryTransport(registry, log);
    this.auth = new RegistryAuth(registry, credentials, this.transport, log);
  }

  /** The manifest of `repository` at a tag or digest, or undefined when the registry has none. */
  async manifest(repository: string, reference: string): Promise<ManifestResponse | undefined> {
    const res = await this.request('GET', `/v2/${repository}/manifests/${reference}`, {
      scopes: [`repository:${repository}:pull`], headers: { accept: MANIFEST_TYPES.join(', ') }, expect: [404],
    });
    if (res.status === 404) {
      await res.discard();
      return undefined;
    }
    const bytes = await res.bytes();
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const claimed = res.header('docker-content-digest');
    if ((reference.startsWith('sha256:') && reference !== digest) || (claimed && claimed.startsWith('sha256:') && claimed !== digest)) {
      throw new Error(`the registry ${this.registry} returned a manifest for ${repository}@${reference} whose content does not match its digest`);
    }
    const manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
    const mediaType = manifest.mediaType ?? res.header('content-type')?.split(';')[0] ?? '';
    return { digest, mediaType, bytes, manifest };
  }

  /** Digest, media type and size of a manifest without its body, or undefined when absent. */
  async manifestHead(repository: string, reference: string): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const res = await this.request('HEAD', `/v2/${repository}/manifests/${reference}`, {
      scopes: [`repository:${repository}:pull`], headers: { accept: MANIFEST_TYPES.join(', ') }, expect: [404],
    });
    await res.discard();
    if (res.status === 404) return undefined;
    const digest = res.header('docker-content-digest');
    if (!digest) {
      // A registry that leaves the header out: fall back to reading the manifest.
      const full = await this.manifest(repository, reference);
      return full && { digest: full.digest, mediaType: full.mediaType, size: full.bytes.length };
    }
    return { digest, mediaType: res.header('content-type')?.split(';')[0] ?? '', size: Number(res.header('content-length') ?? 0) };
  }

  /** Size of a blob, or undefined when the repository does not hold it. */
  async blobHead(repository: string, digest: string): Promise<number | undefined> {
    const res = await this.request('HEAD', `/v2/${repository}/blobs/${digest}`, { scopes: [`repository:${repository}:pull`], expect: [404] });
    await res.discard();
    if (res.status === 404) return undefined;
    return Number(res.header('content-length') ?? 0);
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
    await res.discard();
    if (res.status === 201) return { mounted: true };
    const location = res.header('location');
    if (res.status !== 202 || !location) throw new Error(`POST ${this.registry}/${repository} blob upload: unexpected ${res.status}`);
    return { mounted: false, location: new URL(location, await this.baseUrl()).toString() };
  }

  /**
   * Opens a blob as a Node stream (redirects to storage followed, credentials kept to the registry's host). Node
   * streams rather than fetch's web streams: piped into an upload they hold back the download while the upload is
   * slower, so a layer is never buffered whole, and they cost a third less CPU per byte.
   */
  async blobStream(repository: string, digest: string): Promise<Readable> {
    const scopes = [`repository:${repository}:pull`];
    const path = `/v2/${repository}/blobs/${digest}`;
    const open = async () => this.transport.send('GET', path, { authorization: await this.auth.header(scopes), followRedirects: true, ownConnection: true });
    let res = await open();
    if (res.status === 401) {
      await res.discard();
      // The token for this scope is missing or has expired: a HEAD goes through the challenge and caches a new one.
      await this.blobHead(repository, digest);
      res = await open();
    }
    if (res.status === 200) return res.body;
    const text = await res.text().catch(() => '');
    if (isTransientStatus(res.status)) throw new HttpError(res.status, `GET ${this.registry}${path}`, { retryAfter: res.header('retry-after'), body: text });
    throw registryStatusError(this.registry, res.status, 'GET', path, text);
  }

  /**
   * Finishes an upload with the whole blob streamed in one PUT (monolithic upload), content-length set so the body
   * is not sent chunked. Not retried here: a stream cannot be replayed, so the caller starts the blob again.
   */
  async putBlob(repository: string, location: string, digest: string, size: number, body: Readable): Promise<void> {
    const scopes = [`repository:${repository}:pull,push`];
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const res = await this.transport.send('PUT', url.toString(), {
      authorization: await this.auth.header(scopes),
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) }, body,
    });
    const text = await res.text().catch(() => '');
    if (res.status === 201) return;
    // A 401 here means the token expired mid-copy: it is dropped, so starting the blob again gets a new one.
    if (res.status === 401) this.auth.forget(scopes);
    if (isTransientStatus(res.status) || res.status === 401) {
      throw new HttpError(res.status, `PUT ${this.registry}/${repository} blob`, { retryAfter: res.header('retry-after'), body: text, transient: true });
    }
    throw registryStatusError(this.registry, res.status, 'PUT', `/v2/${repository}/blobs/uploads/`, text);
  }

  /**
   * Puts a manifest's exact bytes under a tag or its digest, with its own media type. Returns the digest the
   * registry computed and whether it indexed a `subject` (the OCI-Subject header of registries with the referrers API).
   */
  async putManifest(repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<{ digest?: string; subjectIndexed: boolean }> {
    const res = await this.request('PUT', `/v2/${repository}/manifests/${reference}`, {
      scopes: [`repository:${repository}:pull,push`], headers: { 'content-type': mediaType }, body: bytes,
    });
    await res.discard();
    return { digest: res.header('docker-content-digest'), subjectIndexed: res.header('oci-subject') !== undefined };
  }

  /**
   * One request with authentication and retries. Statuses of 400 and above that are not in `expect` become
   * errors that name the registry, the repository and what to do.
   */
  async request(method: string, path: string, options: RequestOptions): Promise<HttpResponse> {
    return retry(async () => {
      const res = await this.authorizedSend(method, path, options);
      if (res.status < 400 || options.expect?.includes(res.status)) return res;
      const text = await res.text().catch(() => '');
      if (isTransientStatus(res.status)) throw new HttpError(res.status, `${method} ${this.registry}${path}`, { retryAfter: res.header('retry-after'), body: text });
      throw registryStatusError(this.registry, res.status, method, path, text);
    }, httpRetryVerdict, { onRetry: ({ delayMs, reason }) => this.log.debug(`${method} ${this.registry}${path}: ${reason}; retrying in ${delayMs} ms`) })
      .catch((err: unknown) => {
        if (err instanceof HttpError) throw new UserError(`The registry ${this.registry} kept answering ${err.status} to ${method} ${path}; try again later.`);
        throw err;
      });
  }

  /** Sends the request; on a 401 challenge, authenticates for the challenge's scopes and ours, and sends it again. */
  private async authorizedSend(method: string, path: string, options: RequestOptions): Promise<HttpResponse> {
    const sendWith = (authorization?: string) =>
      this.transport.send(method, path, { headers: options.headers, body: options.body, authorization, followRedirects: method === 'GET' || method === 'HEAD' });
    const presented = await this.auth.header(options.scopes);
    const res = await sendWith(presented);
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.header('www-authenticate'));
    await res.discard();
    if (!challenge) return res;
    const header = await this.auth.answer(challenge, options.scopes, challenge.scopes, presented);
    if (!header) return res;
    return sendWith(header);
  }

  /**
   * Obtains the token for these scopes now, beside other work, so the requests that need it do not wait for it
   * later; a failure is left to those requests to meet and report.
   */
  prepare(scopes: string[]): void {
    this.auth.header(scopes).catch(() => undefined);
  }

  /** `https://host`, or `http://host` for a loopback registry that does not speak TLS. */
  baseUrl(): Promise<string> {
    return this.transport.baseUrl();
  }
}
