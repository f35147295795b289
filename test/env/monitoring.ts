import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { EntraEmulator, EntraIdentity } from './entra';
import { Exchange, Router, startHttpsServer, type RunningServer, type TlsMaterial } from './http';
import type { KubeCluster } from './kube/cluster';
import { PodTargets } from './podTargets';
import { ManagedProcess, freePort, requireCommand } from './processes';

/** What the sample app is like right now; tests change it while it runs. */
export interface AppState {
  /** /healthz answers 200 {"status":"healthy"} or 503 {"status":"unhealthy"}. */
  healthy: boolean;
  /** Delay before /healthz and /api answer. */
  latencyMs: number;
  /** Share of the synthetic traffic counted in http_requests_total{code="500"}. */
  errorRatio: number;
  /** /healthz alternates between healthy and unhealthy on each request. */
  flapping: boolean;
  /** The next N /healthz requests answer unhealthy, whatever `healthy` says. */
  failNextHealth: number;
}

const INITIAL: AppState = { healthy: true, latencyMs: 0, errorRatio: 0, flapping: false, failNextHealth: 0 };
/** Synthetic requests counted per scrape. */
const REQUESTS_PER_SCRAPE = 100;

/**
 * The sample app of the staging deployment: HTTP (and HTTPS with the environment's CA) on loopback, with
 * `/healthz`, `/api/status` and Prometheus `/metrics`. Its health, latency and error ratio change while it runs
 * (`set`), which is how tests make a gate pass, fail or flap. Traffic is synthetic: each scrape adds a hundred
 * requests split by the error ratio, so rate() over a few seconds shows the ratio that is set.
 */
export class SampleApp {
  state: AppState = { ...INITIAL };
  /** /healthz requests answered so far. */
  healthRequests = 0;
  private requests = { ok: 0, error: 0 };
  private flip = false;
  private servers: (http.Server | https.Server)[] = [];
  url = '';
  httpsUrl = '';

  static async start(tls: TlsMaterial): Promise<SampleApp> {
    const app = new SampleApp();
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => { void app.handle(req, res); };
    const plain = http.createServer(handler);
    const secure = https.createServer({ cert: tls.cert, key: tls.key }, handler);
    for (const s of [plain, secure]) {
      s.keepAliveTimeout = 5000;
      await new Promise<void>((resolve, reject) => { s.once('error', reject); s.listen(0, '127.0.0.1', () => resolve()); });
    }
    app.servers = [plain, secure];
    app.url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    app.httpsUrl = `https://127.0.0.1:${(secure.address() as AddressInfo).port}`;
    return app;
  }

  get host(): string {
    return new URL(this.url).host;
  }

  set(change: Partial<AppState>): void {
    this.state = { ...this.state, ...change };
  }

  reset(): void {
    this.state = { ...INITIAL };
    this.flip = false;
  }

  close(): Promise<void> {
    return Promise.all(this.servers.map((s) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); }))).then(() => undefined);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://app');
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (url.pathname === '/metrics') return send(200, this.metrics(), 'text/plain; version=0.0.4; charset=utf-8');
    if (this.state.latencyMs > 0) await new Promise((r) => setTimeout(r, this.state.latencyMs));
    if (url.pathname === '/healthz') {
      this.healthRequests++;
      let healthy = this.state.healthy;
      if (this.state.flapping) { this.flip = !this.flip; healthy = this.flip; }
      if (this.state.failNextHealth > 0) { this.state.failNextHealth--; healthy = false; }
      return send(healthy ? 200 : 503, JSON.stringify({ status: healthy ? 'healthy' : 'unhealthy', checks: { database: healthy ? 'ok' : 'down' } }));
    }
    if (url.pathname === '/api/status') {
      return send(200, JSON.stringify({ version: '1.4.2', errorRatio: this.state.errorRatio, echo: req.headers['x-echo'] ?? null }));
    }
    if (url.pathname === '/api/headers') {
      // Answers 200 only when the caller sent the expected API key (a header-from-secret test).
      const expected = url.searchParams.get('expect');
      return send(req.headers['x-api-key'] === expected ? 200 : 401, JSON.stringify({ authorized: req.headers['x-api-key'] === expected }));
    }
    send(404, JSON.stringify({ error: 'not found' }));
  }

  private metrics(): string {
    const errors = Math.round(REQUESTS_PER_SCRAPE * this.state.errorRatio);
    this.requests.ok += REQUESTS_PER_SCRAPE - errors;
    this.requests.error += errors;
    return [
      '# HELP http_requests_total Requests served, by status code.',
      '# TYPE http_requests_total counter',
      `http_requests_total{code="200",service="api"} ${this.requests.ok}`,
      `http_requests_total{code="500",service="api"} ${this.requests.error}`,
      '# HELP queue_jobs_total Jobs taken from the queue (none: the queue has no traffic).',
      '# TYPE queue_jobs_total counter',
      'queue_jobs_total 0',
      '# HELP queue_jobs_failed_total Jobs that failed.',
      '# TYPE queue_jobs_failed_total counter',
      'queue_jobs_failed_total 0',
      '# HELP app_healthy Whether the app reports itself healthy.',
      '# TYPE app_healthy gauge',
      `app_healthy ${this.state.healthy ? 1 : 0}`,
      '',
    ].join('\n');
  }
}

/**
 * Debian's `prometheus`, really running on loopback and scraping every second the synthetic sample app and the
 * clusters' pods that ask for it (prometheus.io/scrape), found through file_sd_configs the environment rewrites.
 */
export class Prometheus {
  private process?: ManagedProcess;
  url = '';

  /**
   * @param podTargets the file_sd_configs glob of the clusters' annotated pods (podTargets.ts), scraped as the job
   *   `kubernetes-pods`, every second.
   */
  static async start(dir: string, scrapeTarget: string, podTargets?: string): Promise<Prometheus> {
    requireCommand('prometheus', 'prometheus');
    const p = new Prometheus();
    fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
    const config = path.join(dir, 'prometheus.yml');
    fs.writeFileSync(config, [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: sample-app',
      '    static_configs:',
      `      - targets: ['${scrapeTarget}']`,
      ...(podTargets ? ['  - job_name: kubernetes-pods', '    file_sd_configs:', `      - files: ['${podTargets}']`, '        refresh_interval: 1s'] : []),
      '',
    ].join('\n'));
    const port = await freePort();
    p.url = `http://127.0.0.1:${port}`;
    p.process = ManagedProcess.start('prometheus', 'prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1d',
      '--log.level=warn',
    ], path.join(dir, 'prometheus.log'));
    await p.process.waitUntil(async () => (await fetch(`${p.url}/-/ready`)).ok, 30_000);
    return p;
  }

  /** An instant query straight to Prometheus (tests use it to wait for data). */
  async query(promql: string): Promise<{ resultType: string; result: unknown }> {
    const res = await fetch(`${this.url}/api/v1/query?${new URLSearchParams({ query: promql })}`);
    const body = await res.json() as { status: string; data: { resultType: string; result: unknown }; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus: ${body.error}`);
    return body.data;
  }

  /** Waits until `promql` returns one sample that `accept` takes. */
  async waitFor(promql: string, accept: (value: number) => boolean, timeoutMs = 20_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      const data = await this.query(promql).catch(() => undefined);
      const series = data?.resultType === 'vector' ? (data.result as { value: [number, string] }[]) : [];
      last = series[0]?.value?.[1];
      if (series.length === 1 && accept(Number(series[0].value[1]))) return Number(series[0].value[1]);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`prometheus: ${promql} did not reach the expected value in ${timeoutMs} ms (last: ${String(last)})`);
  }

  stop(): Promise<void> {
    return this.process?.stop() ?? Promise.resolve();
  }
}

/** The audience of Azure Monitor managed Prometheus tokens. */
export const AZURE_MONITOR_PROMETHEUS_AUDIENCE = 'https://prometheus.monitor.azure.com';

/** PromQL words that are not metric names. */
const PROMQL_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'atan2']);

/** Whether a query names a metric (Azure Monitor requires every query to be scoped to one). */
export function namesMetric(query: string): boolean {
  const stripped = query
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  if (/__name__\s*=/.test(query)) return true;
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = stripped.slice(m.index + m[0].length).trimStart();
    if (after.startsWith('(') || PROMQL_KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/^\d/.test(m[0])) continue;
    return true;
  }
  return false;
}

/**
 * The query endpoint of an Azure Monitor workspace (managed Prometheus), emulated in front of the real
 * Prometheus: HTTPS with the environment's CA; every request needs an Entra token for
 * https://prometheus.monitor.azure.com from an identity with Monitoring Data Reader on the workspace; only the
 * documented paths are served, and a query that names no metric is refused, as the service does.
 */
export class AzureMonitorPrometheus {
  /** Client ids holding Monitoring Data Reader on the workspace. */
  readonly readers = new Set<string>();
  /** Queries answered, for tests that check the path was really taken. */
  queries = 0;
  private server?: RunningServer;

  static async start(tls: TlsMaterial, entra: EntraEmulator, prometheusUrl: string): Promise<AzureMonitorPrometheus> {
    const front = new AzureMonitorPrometheus();
    const router = new Router();
    const forward = (x: Exchange) => front.forward(x, entra, prometheusUrl);
    for (const p of ['/api/v1/query', '/api/v1/query_range', '/api/v1/series', '/api/v1/labels', '/api/v1/label/__name__/values']) {
      router.add('GET', p, forward);
      router.add('POST', p, forward);
    }
    front.server = await startHttpsServer('azure monitor prometheus', tls, async (x) => {
      if (!(await router.handle(x))) x.sendJson(404, { status: 'error', errorType: 'not_found', error: `${x.path} is not supported by the Azure Monitor workspace query endpoint` });
    });
    return front;
  }

  grantReader(identity: EntraIdentity): void {
    this.readers.add(identity.clientId);
  }

  get url(): string {
    return this.server!.url;
  }
  get faults() {
    return this.server!.faults;
  }

  close(): Promise<void> {
    return this.server?.close() ?? Promise.resolve();
  }

  private async forward(x: Exchange, entra: EntraEmulator, prometheusUrl: string): Promise<void> {
    const verified = entra.verifyAccessToken(x.bearerToken(), [AZURE_MONITOR_PROMETHEUS_AUDIENCE]);
    if ('error' in verified) {
      return x.sendJson(401, { status: 'error', errorType: 'unauthorized', error: `Unauthorized: ${verified.error}` },
        { 'www-authenticate': `Bearer authorization_uri="${entra.url}/${entra.tenantId}", resource="${AZURE_MONITOR_PROMETHEUS_AUDIENCE}"` });
    }
    if (!this.readers.has(verified.claims.appid)) {
      return x.sendJson(403, { status: 'error', errorType: 'forbidden', error: `The client '${verified.claims.appid}' does not have authorization to read metrics of this Azure Monitor workspace (Monitoring Data Reader).` });
    }
    const body = x.method === 'POST' ? await x.text() : '';
    const params = new URLSearchParams(x.url.search);
    for (const [k, v] of new URLSearchParams(body)) params.append(k, v);
    const query = params.get('query');
    if (x.path.endsWith('/query') || x.path.endsWith('/query_range')) {
      if (!query) return x.sendJson(400, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": missing' });
      if (!namesMetric(query)) {
        return x.sendJson(400, { status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": the query must be scoped to a metric: it needs a __name__ matcher' });
      }
    }
    this.queries++;
    const res = await fetch(`${prometheusUrl}${x.path}${x.method === 'GET' ? x.url.search : ''}`, {
      method: x.method,
      headers: x.method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
      body: x.method === 'POST' ? body : undefined,
    });
    x.send(res.status, Buffer.from(await res.arrayBuffer()), { 'content-type': res.headers.get('content-type') ?? 'application/json' });
  }
}

export interface Monitoring {
  app: SampleApp;
  prometheus: Prometheus;
  azureMonitor: AzureMonitorPrometheus;
  stop(): Promise<void>;
}

/**
 * Starts the synthetic sample app (for the acceptance gate's own tests), Prometheus scraping it and the clusters'
 * annotated pods, and the Azure Monitor query endpoint in front of Prometheus.
 */
export async function startMonitoring(dir: string, tls: TlsMaterial, entra: EntraEmulator, readers: EntraIdentity[], clusters: { name: string; kube: KubeCluster }[] = []): Promise<Monitoring> {
  const app = await SampleApp.start(tls);
  const podTargets = new PodTargets(path.join(dir, 'pod-targets'), clusters);
  podTargets.start();
  let prometheus: Prometheus | undefined;
  try {
    prometheus = await Prometheus.start(path.join(dir, 'prometheus'), app.host, podTargets.glob);
    const azureMonitor = await AzureMonitorPrometheus.start(tls, entra, prometheus.url);
    for (const r of readers) azureMonitor.grantReader(r);
    return {
      app, prometheus, azureMonitor,
      async stop() {
        podTargets.stop();
        await azureMonitor.close();
        await prometheus!.stop();
        await app.close();
      },
    };
  } catch (err) {
    podTargets.stop();
    await prometheus?.stop();
    await app.close();
    throw err;
  }
}
