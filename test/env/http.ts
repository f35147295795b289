import * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Faults } from './faults';

/** One request as a handler sees it. */
export class Exchange {
  readonly url: URL;
  params: Record<string, string> = {};
  private bodyPromise?: Promise<Buffer>;

  constructor(readonly req: IncomingMessage, readonly res: ServerResponse) {
    this.url = new URL(req.url ?? '/', `https://${req.headers.host ?? '127.0.0.1'}`);
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }
  get path(): string {
    return this.url.pathname;
  }
  /** `https://` plus the Host header: what a client used to reach this server. */
  get baseUrl(): string {
    return `https://${this.req.headers.host}`;
  }
  query(name: string): string | undefined {
    return this.url.searchParams.get(name) ?? undefined;
  }
  header(name: string): string | undefined {
    const v = this.req.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }
  bearerToken(): string | undefined {
    const m = /^Bearer\s+(.+)$/i.exec(this.header('authorization') ?? '');
    return m?.[1];
  }
  basicCredentials(): { username: string; password: string } | undefined {
    const m = /^Basic\s+(.+)$/i.exec(this.header('authorization') ?? '');
    if (!m) return undefined;
    const text = Buffer.from(m[1], 'base64').toString('utf8');
    const i = text.indexOf(':');
    return i < 0 ? undefined : { username: text.slice(0, i), password: text.slice(i + 1) };
  }

  body(): Promise<Buffer> {
    this.bodyPromise ??= new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      this.req.on('data', (c: Buffer) => chunks.push(c));
      this.req.on('end', () => resolve(Buffer.concat(chunks)));
      this.req.on('error', reject);
    });
    return this.bodyPromise;
  }
  async text(): Promise<string> {
    return (await this.body()).toString('utf8');
  }
  async json<T = unknown>(): Promise<T> {
    const text = await this.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
  async form(): Promise<URLSearchParams> {
    return new URLSearchParams(await this.text());
  }

  send(status: number, body?: string | Buffer, headers: Record<string, string | number> = {}): void {
    if (this.res.headersSent) return;
    this.res.writeHead(status, { 'content-length': body === undefined ? 0 : Buffer.byteLength(body), ...headers });
    this.res.end(body);
  }
  sendJson(status: number, value: unknown, headers: Record<string, string | number> = {}): void {
    this.send(status, value === undefined ? '' : JSON.stringify(value), { 'content-type': 'application/json; charset=utf-8', ...headers });
  }
}

export type Handler = (x: Exchange) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/**
 * Routes by method and path pattern. Patterns use `:name` for one segment and `*name` for the rest of the path;
 * matching ignores case, as Azure's routing does.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path.split('/').map((seg) => {
      if (seg.startsWith(':')) { names.push(seg.slice(1)); return '([^/]+)'; }
      if (seg.startsWith('*')) { names.push(seg.slice(1)); return '(.+)'; }
      return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }).join('/');
    this.routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${source}/?$`, 'i'), names, handler });
    return this;
  }

  /** Runs the first matching route; false when none matched (the path exists with another method counts as none). */
  async handle(x: Exchange): Promise<boolean> {
    for (const route of this.routes) {
      if (route.method !== '*' && route.method !== x.method) continue;
      const m = route.pattern.exec(x.path);
      if (!m) continue;
      x.params = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(m[i + 1])]));
      await route.handler(x);
      return true;
    }
    return false;
  }
}

export interface TlsMaterial {
  cert: string;
  key: string;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly faults: Faults;
  /** TLS connections accepted so far: a client that opens one per request shows here. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * An HTTPS server on loopback with fault injection in front of `handler`. A handler that throws answers 500 with
 * the message, so a bug in an emulator shows up in the test that met it.
 */
export async function startHttpsServer(name: string, tls: TlsMaterial, handler: Handler, port = 0): Promise<RunningServer> {
  const faults = new Faults();
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (request, response) => {
    const x = new Exchange(request, response);
    void (async () => {
      try {
        if (await faults.apply(request, response)) return;
        await handler(x);
      } catch (err) {
        if (!response.headersSent) x.sendJson(500, { error: { code: 'EmulatorError', message: `${name}: ${(err as Error).message}` } });
        else response.destroy();
      }
    })();
  });
  server.keepAliveTimeout = 5000;
  let connections = 0;
  server.on('secureConnection', () => { connections++; });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${actual}`,
    port: actual,
    host: `127.0.0.1:${actual}`,
    faults,
    get connections() {
      return connections;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
