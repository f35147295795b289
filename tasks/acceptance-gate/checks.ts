import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorMessage } from '../common/errors';
import { isDroppedConnection, isTransientStatus, parseRetryAfter, retry } from '../common/retry';
import type { CommandCheck, HttpCheck, PrometheusCheck } from './config';
import type { Value } from './expression';
import { formatValue, judge, type Measurement, type Outcome } from './judge';
import { findFiles } from '../common/glob';
import { readJUnit, type TestCase } from './junit';

/** What a check needs from the task around it. */
export interface CheckContext {
  /** Ends every measurement in flight (the gate's timeout). */
  signal: AbortSignal;
  /** An Entra token for Azure Monitor managed Prometheus (scope from the query endpoint). */
  azureToken?: (url: string) => Promise<string>;
  /** Working directory of the job (relative paths of commands and JUnit globs start here). */
  workingDirectory: string;
}

function elapsed(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}

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

function hostOf(url: string): string {
  return new URL(url).host;
}

function signalFor(timeoutSeconds: number, gate: AbortSignal): AbortSignal {
  return AbortSignal.any([gate, AbortSignal.timeout(Math.max(1, Math.round(timeoutSeconds * 1000)))]);
}

/** Reads a JSON path of the forms `$`, `.name`, `[index]`, `['name']`. */
export function readJsonPath(value: unknown, jsonPath: string): { found: boolean; value?: Value } {
  let current: unknown = value;
  for (const m of jsonPath.slice(1).matchAll(/\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/g)) {
    const key = m[1] ?? m[3] ?? m[4];
    if (key !== undefined) {
      if (current === null || typeof current !== 'object' || Array.isArray(current) || !(key in current)) return { found: false };
      current = (current as Record<string, unknown>)[key];
    } else {
      const index = Number(m[2]);
      if (!Array.isArray(current) || index >= current.length) return { found: false };
      current = current[index];
    }
  }
  return { found: true, value: current as Value };
}

export async function measureHttp(check: HttpCheck, ctx: CheckContext): Promise<Measurement> {
  const started = process.hrtime.bigint();
  let status: number;
  let text: string;
  try {
    const res = await fetch(check.url, {
      method: check.method,
      headers: check.headers,
      body: check.body,
      redirect: 'manual',
      signal: signalFor(check.timeoutSeconds, ctx.signal),
    });
    status = res.status;
    text = check.method === 'HEAD' ? '' : await res.text();
  } catch (err) {
    return { check: check.name, outcome: 'error', message: describeRequestFailure(err, check.url, check.timeoutSeconds, ctx.signal), durationMs: elapsed(started) };
  }
  const latencyMs = elapsed(started);
  const e = check.expect;
  const problems: string[] = [];
  const statusOk = e.status ? e.status.includes(status) : status >= 200 && status < 300;
  if (!statusOk) problems.push(`status ${status}, expected ${e.status ? e.status.join(' or ') : '2xx'}`);
  if (e.bodyContains !== undefined && !text.includes(e.bodyContains)) problems.push(`the body does not contain '${e.bodyContains}'`);
  if (e.maxLatencyMs !== undefined && latencyMs > e.maxLatencyMs) problems.push(`latency ${Math.round(latencyMs)} ms > ${e.maxLatencyMs} ms`);
  let result: Value = status;
  if (e.json) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
      problems.push(`the body is not JSON, so ${e.json.path} cannot be read`);
    }
    if (body !== undefined) {
      const found = readJsonPath(body, e.json.path);
      if (!found.found) problems.push(`the body has no ${e.json.path}`);
      else {
        result = found.value ?? null;
        if (e.json.equals !== undefined && JSON.stringify(found.value) !== JSON.stringify(e.json.equals)) {
          problems.push(`${e.json.path} is ${formatValue(found.value ?? null)}, expected ${formatValue(e.json.equals)}`);
        }
      }
    }
  }
  const value = `${status} in ${Math.round(latencyMs)} ms`;
  if (problems.length) return { check: check.name, outcome: 'failed', value, message: problems.join('; '), durationMs: latencyMs };
  if (check.successCondition || check.failureCondition) {
    const j = judge(check, result);
    return { check: check.name, outcome: j.outcome, value, message: j.message, durationMs: latencyMs };
  }
  return { check: check.name, outcome: 'passed', value, message: `status ${status}`, durationMs: latencyMs };
}

interface PrometheusAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

function sample(raw: unknown): number {
  const text = Array.isArray(raw) ? raw[1] : undefined;
  return typeof text === 'string' ? Number(text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : text) : NaN;
}

export async function measurePrometheus(check: PrometheusCheck, ctx: CheckContext): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const base = check.url.replace(/\/+$/, '').replace(/\/api\/v1\/query$/, '');
  const endpoint = `${base}/api/v1/query`;
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', ...check.headers };
  const fail = (outcome: Outcome, message: string, fatal = false): Measurement =>
    ({ check: check.name, outcome, message, durationMs: elapsed(started), fatal: fatal || undefined });
  if (check.azureMonitor) {
    if (!ctx.azureToken) {
      return fail('error', "queries Azure Monitor managed Prometheus, which needs an Entra token: set the task's 'azureSubscription' input to a service connection with Monitoring Data Reader on the workspace", true);
    }
    try {
      headers.authorization = `Bearer ${await ctx.azureToken(check.url)}`;
    } catch (err) {
      return fail('error', errorMessage(err), true);
    }
  }
  let res: Response;
  let text: string;
  const signal = signalFor(check.timeoutSeconds, ctx.signal);
  let retries = 0;
  try {
    // A throttled or briefly failing query service is retried within the check's timeout, so a blip is not
    // counted as an error of the evaluation; the last answer is judged when retries run out.
    ({ res, text } = await retry(async (attempt) => {
      retries = attempt - 1;
      const r = await fetch(endpoint, {
        method: 'POST',
        headers,
        // Plain seconds: Prometheus reads a float there, but its unit form takes whole numbers only ('2.5s' is bad_data).
        body: new URLSearchParams({ query: check.query, timeout: String(check.timeoutSeconds) }).toString(),
        signal,
      });
      const t = await r.text();
      if (isTransientStatus(r.status)) throw new TransientAnswer(r, t);
      return { res: r, text: t };
    }, (err) => ({
      transient: !signal.aborted && (err instanceof TransientAnswer || isDroppedConnection(err)),
      retryAfterMs: err instanceof TransientAnswer ? parseRetryAfter(err.res.headers.get('retry-after')) : undefined,
    }), { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000, signal }));
  } catch (err) {
    if (err instanceof TransientAnswer) ({ res, text } = err);
    else return fail('error', describeRequestFailure(err, endpoint, check.timeoutSeconds, ctx.signal));
  }
  let answer: PrometheusAnswer = {};
  try {
    answer = JSON.parse(text) as PrometheusAnswer;
  } catch {
    answer = {};
  }
  if (res.status === 400 && answer.errorType === 'bad_data') {
    return fail('error', `Prometheus rejected the query (bad_data): ${answer.error ?? text.slice(0, 200)}. Correct the query in the gate`, true);
  }
  if (res.status === 401 || res.status === 403) {
    const who = check.azureMonitor ? "the service connection of 'azureSubscription' needs the Monitoring Data Reader role on the Azure Monitor workspace" : 'give the check the headers (credentials) this Prometheus requires';
    return fail('error', `${hostOf(endpoint)} refused the query with ${res.status}${answer.error ? ` (${answer.error})` : ''}: ${who}`, true);
  }
  if (res.status === 404) return fail('error', `${endpoint} does not exist (404): the url must be the Prometheus server's base URL`, true);
  if (!res.ok || answer.status !== 'success') {
    const detail = answer.errorType ? `${answer.errorType}: ${answer.error}` : text.slice(0, 200).replace(/\s+/g, ' ');
    return fail('error', `Prometheus answered ${res.status} (${detail})${retries ? ` after ${retries + 1} attempts` : ''}`);
  }
  const data = answer.data ?? {};
  let result: Value;
  let noData: string | undefined;
  switch (data.resultType) {
    case 'vector': {
      const series = Array.isArray(data.result) ? (data.result as { value?: unknown }[]) : [];
      const values = series.map((s) => sample(s.value));
      const numeric = values.filter((v) => !Number.isNaN(v));
      if (series.length === 0) noData = 'the query returned no series';
      else if (numeric.length === 0) noData = 'the query returned NaN';
      result = numeric.length === 1 ? numeric[0] : numeric;
      break;
    }
    case 'scalar':
      result = sample(data.result);
      if (Number.isNaN(result)) noData = 'the query returned NaN';
      break;
    case 'string':
      result = Array.isArray(data.result) ? String(data.result[1]) : '';
      break;
    default:
      return fail('error', `the query returns a ${data.resultType ?? 'unknown'} result; give an instant query (e.g. wrap a range selector in rate() or avg_over_time())`, true);
  }
  if (noData !== undefined) {
    const outcome: Outcome = check.onNoData === 'pass' ? 'passed' : check.onNoData === 'fail' ? 'failed' : 'inconclusive';
    return { check: check.name, outcome, value: 'no data', message: `no data: ${noData} (onNoData: ${check.onNoData})`, durationMs: elapsed(started) };
  }
  const j = judge(check, result);
  return { check: check.name, outcome: j.outcome, value: formatValue(result), message: j.message, durationMs: elapsed(started) };
}

class TransientAnswer extends Error {
  constructor(readonly res: Response, readonly text: string) {
    super(`answered ${res.status}`);
  }
}

const KILL_GRACE_MS = 2000;

/** Process groups of the commands running now, so a cancelled job can stop them. */
const running = new Set<number>();

/** Stops every command still running (the job was cancelled): their whole process groups. */
export function stopRunningCommands(): void {
  for (const pid of running) {
    try {
      process.kill(process.platform === 'win32' ? pid : -pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  running.clear();
}

export async function measureCommand(check: CommandCheck, ctx: CheckContext): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const startedAt = Date.now();
  const cwd = path.resolve(ctx.workingDirectory, check.workingDirectory ?? '.');
  if (!fs.existsSync(cwd)) {
    return { check: check.name, outcome: 'error', message: `the working directory ${cwd} does not exist`, durationMs: 0, fatal: true };
  }
  const windows = process.platform === 'win32';
  const child = spawn(windows ? 'cmd.exe' : 'bash', windows ? ['/d', '/s', '/c', check.run] : ['-c', check.run], {
    cwd, env: { ...process.env, ...check.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: !windows, windowsHide: true,
  });
  if (child.pid) running.add(child.pid);
  let output = '';
  const keep = (d: Buffer) => { output = (output + d.toString('utf8')).slice(-4000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let stopped: 'timeout' | 'gate' | undefined;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (windows) child.kill(signal);
      else if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const stop = (why: 'timeout' | 'gate') => {
    if (stopped) return;
    stopped = why;
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
  };
  const timer = setTimeout(() => stop('timeout'), check.timeoutSeconds * 1000);
  const onAbort = () => stop('gate');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  ctx.signal.removeEventListener('abort', onAbort);
  if (child.pid) running.delete(child.pid);
  // A test runner may leave children behind; they belong to this check.
  if (!stopped) killGroup('SIGKILL');
  const durationMs = elapsed(started);
  const tail = output.trim().split('\n').slice(-5).join(' | ').slice(-500);
  const base = { check: check.name, durationMs };
  if (exit.error) return { ...base, outcome: 'error', message: `cannot start the shell: ${exit.error.message}` };
  if (stopped === 'timeout') return { ...base, outcome: 'error', value: 'timed out', message: `the command did not finish within ${check.timeoutSeconds} s and was stopped${tail ? `; last output: ${tail}` : ''}` };
  if (stopped === 'gate') return { ...base, outcome: 'error', value: 'stopped', message: 'stopped: the gate timed out' };
  if (exit.code === 127 || exit.code === 126) {
    return { ...base, outcome: 'error', value: `exit ${exit.code}`, message: `the command could not be run (exit ${exit.code}${exit.code === 127 ? ', command not found' : ', not executable'})${tail ? `: ${tail}` : ''}` };
  }
  if (exit.code === null) return { ...base, outcome: 'error', value: `signal ${exit.signal}`, message: `the command was killed by ${exit.signal}` };

  let testCases: TestCase[] | undefined;
  let junitNote = '';
  if (check.junit) {
    const files = findFiles(check.junit, cwd).filter((f) => fs.statSync(f).mtimeMs >= startedAt - 5);
    testCases = files.flatMap((f) => {
      try {
        return readJUnit(fs.readFileSync(f, 'utf8'));
      } catch {
        return [];
      }
    });
    if (files.length === 0) junitNote = `; no JUnit file matching ${check.junit} was written`;
  }
  const failedCases = (testCases ?? []).filter((t) => t.outcome === 'failed' || t.outcome === 'error');
  const skippedCount = (testCases ?? []).filter((t) => t.outcome === 'skipped').length;
  const counts = testCases?.length
    ? ` (${testCases.length - failedCases.length - skippedCount} of ${testCases.length} tests passed${skippedCount ? `, ${skippedCount} skipped` : ''})`
    : '';
  const value = `exit ${exit.code}${counts}`;
  if (exit.code !== 0 || failedCases.length) {
    const named = failedCases.slice(0, 5).map((t) => `${t.classname ? `${t.classname}.` : ''}${t.name}${t.message ? ` (${t.message})` : ''}`);
    const message = failedCases.length
      ? `${failedCases.length} test${failedCases.length > 1 ? 's' : ''} failed: ${named.join(', ')}${failedCases.length > 5 ? ', …' : ''}`
      : `the command exited with ${exit.code}${tail ? `: ${tail}` : ''}${junitNote}`;
    return { ...base, outcome: 'failed', value, message, testCases };
  }
  if (check.successCondition || check.failureCondition) {
    const j = judge(check, exit.code);
    return { ...base, outcome: j.outcome, value, message: j.message, testCases };
  }
  return { ...base, outcome: 'passed', value, message: `exit 0${counts}${junitNote}`, testCases };
}
