import type { Node as YamlNode } from 'yaml';
import { errorMessage } from '../../common/errors';
import { HttpError, httpRetryVerdict, send } from '../../common/http';
import { isTransientStatus, retry } from '../../common/retry';
import type { CheckBase, Reader } from '../config';
import type { Value } from '../expression';
import { formatValue } from '../judge';
import { elapsed, type CheckContext, type CheckKind, type Reading } from './kind';
import { describeRequestFailure, hostOf, signalFor } from './request';

/** Where and how a Prometheus query goes; shared by prometheus and compare checks. */
export interface PrometheusServer {
  url: string;
  headers: Record<string, string>;
  timeoutSeconds: number;
  /** Azure Monitor managed Prometheus: queried with an Entra token of the AzureRM service connection. */
  azureMonitor: boolean;
}

export interface PrometheusCheck extends CheckBase, PrometheusServer {
  kind: 'prometheus';
  query: string;
}

export const PROMETHEUS_KEYS = ['url', 'query', 'headers', 'timeout', 'azureMonitor'] as const;
const DEFAULT_TIMEOUT_SECONDS = 30;
const AZURE_MONITOR_HOST = /\.prometheus\.monitor\.(azure\.com|chinacloudapp\.cn|usgovcloudapi\.net)$/i;

/** The token scope of Azure Monitor managed Prometheus for a query endpoint's cloud. */
export function azureMonitorScope(url: string): string {
  const host = new URL(url).hostname.toLowerCase();
  if (host.endsWith('.chinacloudapp.cn')) return 'https://prometheus.monitor.chinacloudapp.cn/.default';
  if (host.endsWith('.usgovcloudapi.net')) return 'https://prometheus.monitor.usgovcloudapi.net/.default';
  return 'https://prometheus.monitor.azure.com/.default';
}

/** Reads `url`, `headers`, `timeout` and `azureMonitor` of a mapping read with `r.map` (keys checked there). */
export function parseServer(r: Reader, p: ReturnType<Reader['map']>, body: YamlNode | null, what: string): PrometheusServer {
  if (!p.has('url')) r.fail(body, `${what} needs a 'url' (the Prometheus server, or the Azure Monitor workspace's query endpoint).`);
  const url = r.url(p.get('url')!.node, `${what} url`);
  return {
    ...r.credentialsAsHeader(url, p.has('headers') ? r.stringMap(p.get('headers')!.node, `${what} headers`) : {}),
    timeoutSeconds: p.has('timeout') ? r.seconds(p.get('timeout')!.node, `${what} timeout`, 0.001) : DEFAULT_TIMEOUT_SECONDS,
    azureMonitor: p.has('azureMonitor') ? r.bool(p.get('azureMonitor')!.node, `${what} azureMonitor`) : AZURE_MONITOR_HOST.test(new URL(url).hostname),
  };
}

export function parsePrometheus(r: Reader, base: CheckBase, body: YamlNode | null): PrometheusCheck {
  const what = `check '${base.name}': prometheus`;
  const p = r.map(body, what, PROMETHEUS_KEYS);
  const server = parseServer(r, p, body, what);
  if (!p.has('query')) r.fail(body, `${what} needs a 'query' (PromQL).`);
  return { ...base, kind: 'prometheus', ...server, query: r.string(p.get('query')!.node, `${what} query`, { resolve: true }) };
}

interface PrometheusAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

/** One series of an instant vector: its labels and its number. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** What a query gave: Prometheus' data, or why there is none, in words a pipeline author can act on. */
export type QueryResult =
  | { ok: true; resultType: 'vector'; samples: Sample[] }
  | { ok: true; resultType: 'scalar'; value: number }
  | { ok: true; resultType: 'string'; value: string }
  | { ok: false; message: string; fatal?: boolean };

function sampleValue(raw: unknown): number {
  const text = Array.isArray(raw) ? raw[1] : undefined;
  return typeof text === 'string' ? Number(text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : text) : NaN;
}


/** Runs one instant query against the server, retrying a throttled or briefly failing one within its timeout. */
export async function queryPrometheus(server: PrometheusServer, query: string, ctx: CheckContext): Promise<QueryResult> {
  const base = server.url.replace(/\/+$/, '').replace(/\/api\/v1\/query$/, '');
  const endpoint = `${base}/api/v1/query`;
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', ...server.headers };
  if (server.azureMonitor) {
    if (!ctx.azureToken) {
      return { ok: false, fatal: true, message: "queries Azure Monitor managed Prometheus, which needs an Entra token: set the task's 'azureSubscription' input to a service connection with Monitoring Data Reader on the workspace" };
    }
    try {
      headers.authorization = `Bearer ${await ctx.azureToken(server.url)}`;
    } catch (err) {
      return { ok: false, fatal: true, message: errorMessage(err) };
    }
  }
  let res: { status: number; ok: boolean };
  let text: string;
  const signal = signalFor(server.timeoutSeconds, ctx.signal);
  let retries = 0;
  try {
    // A throttled or briefly failing query service is retried within the check's timeout, so a blip is not
    // counted as an error of the evaluation; the last answer is judged when retries run out.
    ({ res, text } = await retry(async (attempt) => {
      retries = attempt - 1;
      const r = await send(endpoint, {
        method: 'POST',
        headers,
        // Plain seconds: Prometheus reads a float there, but its unit form takes whole numbers only ('2.5s' is bad_data).
        body: new URLSearchParams({ query, timeout: String(server.timeoutSeconds) }).toString(),
        signal,
      });
      const t = await r.text();
      if (isTransientStatus(r.status)) throw new HttpError(r.status, `Prometheus at ${hostOf(endpoint)}`, { retryAfter: r.header('retry-after'), body: t });
      return { res: { status: r.status, ok: r.status < 300 }, text: t };
    }, (err) => ({ ...httpRetryVerdict(err), transient: !signal.aborted && httpRetryVerdict(err).transient }), { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000, signal }));
  } catch (err) {
    // The last answer of a service that kept failing is judged as it came (its body's start is kept).
    if (err instanceof HttpError) ({ res, text } = { res: { status: err.status, ok: false }, text: err.body });
    else return { ok: false, message: describeRequestFailure(err, endpoint, server.timeoutSeconds, ctx.signal) };
  }
  let answer: PrometheusAnswer = {};
  try {
    answer = JSON.parse(text) as PrometheusAnswer;
  } catch {
    answer = {};
  }
  if (res.status === 400 && answer.errorType === 'bad_data') {
    return { ok: false, fatal: true, message: `Prometheus rejected the query (bad_data): ${answer.error ?? text.slice(0, 200)}. Correct the query in the gate` };
  }
  if (res.status === 401 || res.status === 403) {
    const who = server.azureMonitor ? "the service connection of 'azureSubscription' needs the Monitoring Data Reader role on the Azure Monitor workspace" : 'give the check the headers (credentials) this Prometheus requires';
    return { ok: false, fatal: true, message: `${hostOf(endpoint)} refused the query with ${res.status}${answer.error ? ` (${answer.error})` : ''}: ${who}` };
  }
  if (res.status === 404) return { ok: false, fatal: true, message: `${endpoint} does not exist (404): the url must be the Prometheus server's base URL` };
  if (!res.ok || answer.status !== 'success') {
    const detail = answer.errorType ? `${answer.errorType}: ${answer.error}` : text.slice(0, 200).replace(/\s+/g, ' ');
    return { ok: false, message: `Prometheus answered ${res.status} (${detail})${retries ? ` after ${retries + 1} attempts` : ''}` };
  }
  const data = answer.data ?? {};
  switch (data.resultType) {
    case 'vector': {
      const series = Array.isArray(data.result) ? (data.result as { metric?: Record<string, string>; value?: unknown }[]) : [];
      return { ok: true, resultType: 'vector', samples: series.map((s) => ({ labels: s.metric ?? {}, value: sampleValue(s.value) })) };
    }
    case 'scalar':
      return { ok: true, resultType: 'scalar', value: sampleValue(data.result) };
    case 'string':
      return { ok: true, resultType: 'string', value: Array.isArray(data.result) ? String(data.result[1]) : '' };
    default:
      return { ok: false, fatal: true, message: `the query returns a ${data.resultType ?? 'unknown'} result; give an instant query (e.g. wrap a range selector in rate() or avg_over_time())` };
  }
}

export async function measurePrometheus(check: PrometheusCheck, ctx: CheckContext): Promise<Reading> {
  const started = process.hrtime.bigint();
  const answer = await queryPrometheus(check, check.query, ctx);
  const durationMs = elapsed(started);
  if (!answer.ok) return { kind: 'error', message: answer.message, fatal: answer.fatal, durationMs };
  let result: Value;
  switch (answer.resultType) {
    case 'vector': {
      const numeric = answer.samples.map((s) => s.value).filter((v) => !Number.isNaN(v));
      if (answer.samples.length === 0) return { kind: 'noData', reason: 'the query returned no series', durationMs };
      if (numeric.length === 0) return { kind: 'noData', reason: 'the query returned NaN', durationMs };
      result = numeric.length === 1 ? numeric[0] : numeric;
      break;
    }
    case 'scalar':
      if (Number.isNaN(answer.value)) return { kind: 'noData', reason: 'the query returned NaN', durationMs };
      result = answer.value;
      break;
    case 'string':
      result = answer.value;
      break;
  }
  return { kind: 'value', value: result, shown: formatValue(result), durationMs };
}

export const prometheusCheck: CheckKind<PrometheusCheck> = { keys: PROMETHEUS_KEYS, checkKeys: ['onNoData'], parse: parsePrometheus, measure: measurePrometheus };
