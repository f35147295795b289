import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { pipeline } from 'node:stream';
import type { IssuedCertificate } from './ca';
import { Exchange, Router, startHttpsServer, type RunningServer, type TlsMaterial } from './http';
import { decodeJwt, isWithinLifetime, signJwt, verifyJwtSignature } from './jwt';
import { ManagedProcess, freePort, isListening, requireCommand } from './processes';

export interface RegistryUser {
  username: string;
  password: string;
  /** Actions granted on every repository. */
  actions: string[];
}

/** One `type:name:actions` item of a token request's scope. */
export interface ScopeItem {
  type: string;
  name: string;
  actions: string[];
}

/** One request the front passed on, with the moments it started and finished on one counter shared by all. */
export interface RecordedRequest {
  method: string;
  path: string;
  started: number;
  finished?: number;
  status?: number;
}

/** One blob download that reached the storage behind a registry's redirect. */
export interface StorageRequest {
  path: string;
  /** The Authorization header it carried: a SAS-style URL needs none, and must not get the registry's. */
  authorization?: string;
}

/** The storage that blob downloads are redirected to (`Registry.redirectBlobDownloads`). */
export interface BlobStorage {
  readonly host: string;
  readonly requests: StorageRequest[];
  /** TLS connections it has accepted so far. */
  readonly connections: number;
}

/**
 * A real OCI registry (Debian's `docker-registry`, the CNCF distribution registry) on loopback behind an HTTPS
 * front. The registry itself uses token authentication; the front is its token server (`/oauth2/token`, with basic
 * credentials, as Docker Hub and ACR serve it) and forwards the distribution API to it, with fault injection. Task
 * issues add registry-specific routes (ACR's `/oauth2/exchange`, `/acr/v1/…`) to `router`.
 */
export class Registry {
  readonly router = new Router();
  readonly users: RegistryUser[] = [];
  /** Every token served to a client (registry tokens, ACR refresh tokens), in order, for secret-registration tests. */
  readonly servedTokens: string[] = [];
  /** Called for each token request with credentials that are not a registry user (e.g. ACR refresh tokens). */
  extraGrant?: (x: Exchange, scopes: ScopeItem[]) => Promise<{ subject: string; granted: ScopeItem[] } | undefined>;
  private front?: RunningServer;
  private process?: ManagedProcess;
  private backendPort = 0;
  private readonly issuer = 'registry-token-issuer';
  private recording?: RecordedRequest[];
  private clock = 0;
  private storage?: { server: RunningServer; key: Buffer; requests: StorageRequest[]; on: boolean };

  private constructor(readonly name: string, private readonly dir: string, private readonly tokenCert: IssuedCertificate, private readonly tls: TlsMaterial) {}

  /** Starts `docker-registry` with its data in `dir` and the HTTPS front on its own port. */
  static async start(name: string, dir: string, tls: TlsMaterial, tokenCert: IssuedCertificate): Promise<Registry> {
    requireCommand('docker-registry', 'docker-registry');
    const registry = new Registry(name, dir, tokenCert, tls);
    registry.addTokenRoutes();
    registry.front = await startHttpsServer(`registry ${name}`, tls, (x) => registry.handle(x));
    await registry.startBackend();
    return registry;
  }

  /** `127.0.0.1:<port>`, the registry's login server. */
  get loginServer(): string {
    return this.front!.host;
  }
  get url(): string {
    return this.front!.url;
  }
  get faults() {
    return this.front!.faults;
  }
  /** TLS connections the front has accepted so far. */
  get connections(): number {
    return this.front!.connections;
  }

  addUser(username: string, actions = ['pull', 'push', 'delete']): RegistryUser {
    const user = { username, password: randomBytes(18).toString('base64url'), actions };
    this.users.push(user);
    return user;
  }

  /** A registry token for `scopes`, as the token endpoint issues it (tests use it to read the registry directly). */
  issueToken(subject: string, scopes: ScopeItem[], lifetimeSeconds = 300): string {
    const now = Math.floor(Date.now() / 1000);
    return signJwt({
      iss: this.issuer, sub: subject, aud: this.loginServer, exp: now + lifetimeSeconds,
      access: scopes.map((s) => ({ type: s.type, name: s.name, actions: s.actions })),
    }, this.tokenCert.keyPem, { x5c: [this.tokenCert.derBase64] });
  }

  async stop(): Promise<void> {
    await this.process?.stop();
    await this.front?.close();
    await this.storage?.server.close();
  }

  /**
   * Answers an authorized blob GET with a 307 to a storage server of its own (another origin), under a signed URL
   * that expires, as ACR redirects blob downloads to Azure Storage; HEADs and every other request are unchanged.
   * The storage streams the blob from docker-registry and records each request with its Authorization header.
   */
  async redirectBlobDownloads(on: boolean): Promise<BlobStorage> {
    if (!this.storage) {
      const server = await startHttpsServer(`storage of registry ${this.name}`, this.tls, (x) => this.serveFromStorage(x));
      this.storage = { server, key: randomBytes(32), requests: [], on };
    }
    this.storage.on = on;
    const { server, requests } = this.storage;
    return { host: server.host, requests, get connections() { return server.connections; } };
  }

  /** The 307 for an authorized blob GET when downloads are redirected; false when the request goes on as it is. */
  private async redirectToStorage(x: Exchange): Promise<boolean> {
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(x.path);
    if (!this.storage?.on || x.method !== 'GET' || !blob) return false;
    const [, repository, digest] = blob;
    const access = this.verifyToken(x.bearerToken());
    if (!access?.some((a) => a.type === 'repository' && a.name === repository && a.actions.includes('pull'))) return false;
    // Only a blob the registry holds is redirected; anything else gets the registry's own answer.
    const head = await fetch(`${this.backendUrl}/v2/${repository}/blobs/${digest}`, { method: 'HEAD', headers: this.storagePullHeaders(repository) });
    if (head.status !== 200) return false;
    const expires = Date.now() + 10 * 60_000;
    const sig = this.storageSignature(repository, digest, expires);
    x.send(307, '', { location: `${this.storage.server.url}/${repository}/blobs/${digest}?se=${expires}&sig=${sig}` });
    return true;
  }

  /** The storage's own access to docker-registry: pull on one repository. */
  private storagePullHeaders(repository: string): Record<string, string> {
    return { authorization: `Bearer ${this.issueToken('storage', [{ type: 'repository', name: repository, actions: ['pull'] }])}` };
  }

  private storageSignature(repository: string, digest: string, expires: number): string {
    return createHmac('sha256', this.storage!.key).update(`${repository}\n${digest}\n${expires}`).digest('hex');
  }

  private async serveFromStorage(x: Exchange): Promise<void> {
    this.storage!.requests.push({ path: x.path, authorization: x.header('authorization') });
    const blob = /^\/(.+)\/blobs\/(sha256:[0-9a-f]{64})$/.exec(x.path);
    const expires = Number(x.query('se'));
    const sig = Buffer.from(x.query('sig') ?? '', 'hex');
    const expected = blob ? Buffer.from(this.storageSignature(blob[1], blob[2], expires), 'hex') : Buffer.alloc(0);
    if (x.method !== 'GET' || !blob || !(expires > Date.now()) || sig.length !== expected.length || !timingSafeEqual(sig, expected)) {
      return x.send(403, 'AuthenticationFailed: the signature or its expiry does not match', { 'content-type': 'text/plain' });
    }
    await new Promise<void>((resolve) => {
      const upstream = http.get(`${this.backendUrl}/v2/${blob[1]}/blobs/${blob[2]}`, { headers: this.storagePullHeaders(blob[1]) }, (res) => {
        const headers = Object.fromEntries(['content-type', 'content-length'].filter((h) => res.headers[h]).map((h) => [h, res.headers[h] as string]));
        x.res.writeHead(res.statusCode ?? 502, res.statusCode === 200 ? { ...headers, 'content-type': 'application/octet-stream' } : headers);
        // A client that goes away mid-blob ends the download from docker-registry too.
        pipeline(res, x.res, () => resolve());
      });
      upstream.once('error', () => { x.res.destroy(); resolve(); });
    });
  }

  private async startBackend(): Promise<void> {
    this.backendPort = await freePort();
    fs.mkdirSync(path.join(this.dir, 'data'), { recursive: true });
    const config = path.join(this.dir, 'config.yml');
    fs.writeFileSync(config, [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(this.dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${this.backendPort}`,
      `  secret: ${randomUUID()}`,
      'auth:',
      '  token:',
      `    realm: ${this.url}/oauth2/token`,
      `    service: ${this.loginServer}`,
      `    issuer: ${this.issuer}`,
      `    rootcertbundle: ${this.tokenCert.certPath}`,
      '',
    ].join('\n'));
    this.process = ManagedProcess.start(`docker-registry ${this.name}`, 'docker-registry', ['serve', config], path.join(this.dir, 'registry.log'));
    await this.process.waitUntil(() => isListening(this.backendPort));
  }

  private addTokenRoutes(): void {
    const token = async (x: Exchange) => {
      const form = x.method === 'POST' ? await x.form() : undefined;
      const scopes = parseScopes([...x.url.searchParams.getAll('scope'), ...(form?.getAll('scope') ?? [])]);
      const basic = x.basicCredentials() ?? (form?.get('grant_type') === 'password'
        ? { username: form.get('username') ?? '', password: form.get('password') ?? '' } : undefined);
      const user = basic && this.users.find((u) => u.username === basic.username && u.password === basic.password);
      let grant: { subject: string; granted: ScopeItem[] } | undefined;
      if (user) {
        grant = { subject: user.username, granted: scopes.map((s) => ({ ...s, actions: s.actions.filter((a) => user.actions.includes(a) || (a === '*' && user.actions.includes('delete'))) })) };
      } else if (this.extraGrant) {
        grant = await this.extraGrant(x, scopes);
      }
      if (!grant) {
        return x.sendJson(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] },
          { 'www-authenticate': `Basic realm="${this.url}/oauth2/token"` });
      }
      const issued = this.issueToken(grant.subject, grant.granted.filter((s) => s.actions.length > 0));
      this.servedTokens.push(issued);
      x.sendJson(200, { token: issued, access_token: issued, expires_in: 300, issued_at: new Date().toISOString() });
    };
    this.router.add('GET', '/oauth2/token', token);
    this.router.add('POST', '/oauth2/token', token);
  }

  /**
   * Records the requests the front passes on (after injected faults) until `stop`, which returns them in the order
   * they started: tests assert the order in which a client wrote to the registry.
   */
  recordRequests(): { stop(): RecordedRequest[] } {
    const requests: RecordedRequest[] = [];
    this.recording = requests;
    return {
      stop: () => {
        if (this.recording === requests) this.recording = undefined;
        return requests;
      },
    };
  }

  private async handle(x: Exchange): Promise<void> {
    if (this.recording) {
      const request: RecordedRequest = { method: x.method, path: x.path, started: ++this.clock };
      this.recording.push(request);
      x.res.once('finish', () => Object.assign(request, { finished: ++this.clock, status: x.res.statusCode }));
    }
    if (await this.router.handle(x)) return;
    if (!x.path.startsWith('/v2')) return x.sendJson(404, { errors: [{ code: 'NOT_FOUND', message: `no route for ${x.path}` }] });
    if (await this.redirectToStorage(x)) return;
    await this.forward(x);
  }

  /** The docker-registry behind the front, for emulator parts that read it directly (no authentication there). */
  get backendUrl(): string {
    return `http://127.0.0.1:${this.backendPort}`;
  }

  /** The access a registry token grants, or undefined when it is not a valid token of this registry. */
  verifyToken(token: string | undefined): ScopeItem[] | undefined {
    const jwt = token ? decodeJwt(token) : undefined;
    if (!jwt || !verifyJwtSignature(jwt, this.tokenCert.certPem) || !isWithinLifetime(jwt.claims)) return undefined;
    if (jwt.claims.iss !== this.issuer || jwt.claims.aud !== this.loginServer) return undefined;
    return (jwt.claims.access as ScopeItem[] | undefined) ?? [];
  }

  /**
   * Streams the request to docker-registry and its answer back; Host is kept so its URLs name the front. Routes
   * that read the request body first pass it as `body`; `extraHeaders` adds headers to the answer by status.
   */
  forward(x: Exchange, options: { body?: Buffer; extraHeaders?: (status: number) => Record<string, string> } = {}): Promise<void> {
    return new Promise((resolve) => {
      const upstream = http.request({
        host: '127.0.0.1', port: this.backendPort, method: x.method, path: x.req.url,
        headers: { ...x.req.headers, 'x-forwarded-proto': 'https' },
      }, (res) => {
        x.res.writeHead(res.statusCode ?? 502, { ...res.headers, ...options.extraHeaders?.(res.statusCode ?? 502) });
        res.pipe(x.res);
        res.once('end', resolve);
        res.once('error', () => { x.res.destroy(); resolve(); });
      });
      upstream.once('error', () => {
        if (!x.res.headersSent) x.sendJson(502, { errors: [{ code: 'UNAVAILABLE', message: 'registry backend unavailable' }] });
        else x.res.destroy();
        resolve();
      });
      if (options.body) upstream.end(options.body);
      else x.req.pipe(upstream);
    });
  }
}

/** Parses `scope` parameters: each holds space-separated `type:name:actions`, and a name may hold a port colon. */
export function parseScopes(values: string[]): ScopeItem[] {
  const items: ScopeItem[] = [];
  for (const value of values) {
    for (const part of value.split(' ').filter(Boolean)) {
      const first = part.indexOf(':');
      const last = part.lastIndexOf(':');
      if (first < 0 || last === first) continue;
      items.push({ type: part.slice(0, first), name: part.slice(first + 1, last), actions: part.slice(last + 1).split(',').filter(Boolean) });
    }
  }
  return items;
}
