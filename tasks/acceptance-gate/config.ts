import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import { UserError } from '../common/errors';
import { ExpressionError, parseExpression, type Node as Expression, type Value } from './expression';

export type NoDataPolicy = 'fail' | 'pass' | 'inconclusive';
export type InconclusivePolicy = 'fail' | 'pass' | 'warn';

export interface Condition {
  source: string;
  tree: Expression;
}

interface CheckBase {
  name: string;
  successCondition?: Condition;
  failureCondition?: Condition;
  onNoData: NoDataPolicy;
  /** Line of the check in the gate YAML, for messages. */
  line: number;
}

export interface HttpExpectations {
  status?: number[];
  bodyContains?: string;
  json?: { path: string; equals?: Value };
  maxLatencyMs?: number;
}

export interface HttpCheck extends CheckBase {
  kind: 'http';
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutSeconds: number;
  expect: HttpExpectations;
}

export interface PrometheusCheck extends CheckBase {
  kind: 'prometheus';
  url: string;
  query: string;
  headers: Record<string, string>;
  timeoutSeconds: number;
  /** Azure Monitor managed Prometheus: queried with an Entra token of the AzureRM service connection. */
  azureMonitor: boolean;
}

export interface CommandCheck extends CheckBase {
  kind: 'command';
  run: string;
  workingDirectory?: string;
  junit?: string;
  timeoutSeconds: number;
  env: Record<string, string>;
}

export type CheckConfig = HttpCheck | PrometheusCheck | CommandCheck;

export interface GateConfig {
  timeoutSeconds: number;
  initialDelaySeconds: number;
  intervalSeconds: number;
  requiredSuccesses: number;
  failureLimit: number;
  /** Inconclusive evaluations tolerated before the gate ends Inconclusive; undefined: wait for the timeout. */
  inconclusiveLimit?: number;
  consecutiveErrorLimit: number;
  onInconclusive: InconclusivePolicy;
  checks: CheckConfig[];
}

/** Resolves `$(name)` references of a gate file; says whether the value is a secret. */
export type VariableLookup = (name: string) => { value: string; secret: boolean } | undefined;

const TOP_KEYS = ['timeout', 'initialDelay', 'interval', 'requiredSuccesses', 'failureLimit', 'inconclusiveLimit', 'consecutiveErrorLimit', 'onInconclusive', 'checks'];
const CHECK_KEYS = ['name', 'http', 'prometheus', 'command', 'expect', 'successCondition', 'failureCondition', 'onNoData'];
const HTTP_KEYS = ['url', 'method', 'headers', 'body', 'timeout'];
const PROMETHEUS_KEYS = ['url', 'query', 'headers', 'timeout', 'azureMonitor'];
const COMMAND_KEYS = ['run', 'workingDirectory', 'junit', 'timeout', 'env'];
const EXPECT_KEYS = ['status', 'bodyContains', 'json', 'maxLatencyMs'];
const JSON_KEYS = ['path', 'equals'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const AZURE_MONITOR_HOST = /\.prometheus\.monitor\.(azure\.com|chinacloudapp\.cn|usgovcloudapi\.net)$/i;

/** The token scope of Azure Monitor managed Prometheus for a query endpoint's cloud. */
export function azureMonitorScope(url: string): string {
  const host = new URL(url).hostname.toLowerCase();
  if (host.endsWith('.chinacloudapp.cn')) return 'https://prometheus.monitor.chinacloudapp.cn/.default';
  if (host.endsWith('.usgovcloudapi.net')) return 'https://prometheus.monitor.usgovcloudapi.net/.default';
  return 'https://prometheus.monitor.azure.com/.default';
}

class Reader {
  readonly lines = new LineCounter();
  /** Secret values met while parsing: `$(…)` references to secret variables, passwords in URLs. */
  readonly secrets: string[] = [];

  constructor(private readonly source: string, private readonly variables?: VariableLookup) {}

  line(node: YamlNode | Pair | null | undefined): number {
    const offset = (node && 'range' in node && node.range ? node.range[0] : undefined)
      ?? (node && 'key' in node ? (node.key as YamlNode | null)?.range?.[0] : undefined) ?? 0;
    return this.lines.linePos(offset).line;
  }

  fail(node: YamlNode | Pair | null | undefined, message: string): never {
    throw new UserError(`The gate (${this.source}) line ${this.line(node)}: ${message}`);
  }

  map(node: YamlNode | null | undefined, what: string, allowed: string[]): Map<string, { node: YamlNode | null; pair: Pair }> {
    if (!isMap(node)) this.fail(node, `${what} must be a mapping of keys (${allowed.join(', ')}).`);
    const out = new Map<string, { node: YamlNode | null; pair: Pair }>();
    for (const pair of (node as YAMLMap).items as Pair<YamlNode, YamlNode | null>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!allowed.includes(key)) {
        const hint = closest(key, allowed);
        this.fail(pair.key, `unknown key '${key}' in ${what}.${hint ? ` Did you mean '${hint}'?` : ''} Allowed keys: ${allowed.join(', ')}.`);
      }
      if (out.has(key)) this.fail(pair.key, `'${key}' is given twice in ${what}: keep one.`);
      out.set(key, { node: pair.value, pair });
    }
    return out;
  }

  string(node: YamlNode | null, what: string, { resolve = false } = {}): string {
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number') || String(node.value).trim() === '') {
      this.fail(node, `${what} must be non-empty text.`);
    }
    const text = String(node.value);
    return resolve ? this.resolve(text, node) : text;
  }

  /** Replaces `$(name)` with pipeline variables, as the agent does for inline inputs. */
  resolve(text: string, node: YamlNode | null): string {
    if (!this.variables) return text;
    return text.replace(/\$\(([A-Za-z0-9_.-]+)\)/g, (whole, name: string) => {
      const found = this.variables!(name);
      if (!found) this.fail(node, `the variable '${name}' in '${whole}' is not set in this job: define it in the pipeline, or give the value directly.`);
      if (found.secret) this.secrets.push(found.value);
      return found.value;
    });
  }

  number(node: YamlNode | null, what: string, min: number, { integer = false, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      this.fail(node, `${what} must be ${integer ? 'a whole number' : 'a number'} from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}, not ${describe(node)}.`);
    }
    return value;
  }

  /** Seconds as a number, or text with a unit: 500ms, 30s, 5m, 1h. */
  seconds(node: YamlNode | null, what: string, min = 0): number {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value === 'string') {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
      if (!m) this.fail(node, `${what} must be seconds (a number) or a duration such as 30s, 5m or 500ms, not '${value}'.`);
      const seconds = Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
      if (seconds < min) this.fail(node, `${what} must be at least ${min} seconds.`);
      return seconds;
    }
    return this.number(node, `${what} (seconds)`, min);
  }

  choice<T extends string>(node: YamlNode | null, what: string, choices: readonly T[]): T {
    const value = isScalar(node) ? String(node.value) : undefined;
    const match = choices.find((c) => c === value);
    if (!match) this.fail(node, `${what} must be one of ${choices.join(', ')}, not ${describe(node)}.`);
    return match;
  }

  bool(node: YamlNode | null, what: string): boolean {
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== 'boolean') this.fail(node, `${what} must be true or false, not ${describe(node)}.`);
    return value;
  }

  stringMap(node: YamlNode | null, what: string): Record<string, string> {
    if (!isMap(node)) this.fail(node, `${what} must be a mapping of names to text.`);
    const out: Record<string, string> = {};
    for (const pair of (node as YAMLMap).items as Pair<YamlNode, YamlNode | null>[]) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!key) this.fail(pair.key, `${what} has an empty name.`);
      const value = pair.value;
      if (!isScalar(value) || value.value === null || typeof value.value === 'object') this.fail(value ?? pair.key, `${what}: '${key}' must be text.`);
      out[key] = this.resolve(String(value.value), value);
    }
    return out;
  }

  condition(node: YamlNode | null, what: string): Condition {
    const source = this.string(node, what);
    try {
      return { source, tree: parseExpression(source) };
    } catch (err) {
      if (err instanceof ExpressionError) {
        this.fail(node, `${what} '${source}' is not a valid condition: ${err.message}. Write comparisons over 'result' with < <= > >= == !=, joined by && || ! and parentheses, e.g. 'result < 0.01'.`);
      }
      throw err;
    }
  }
}

function describe(node: YamlNode | null): string {
  if (isScalar(node)) return typeof node.value === 'string' ? `'${node.value}'` : String(node.value);
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  return 'nothing';
}

function closest(word: string, candidates: string[]): string | undefined {
  const distance = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      }
    }
    return d[a.length][b.length];
  };
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const dist = distance(word, c);
    if (dist < bestDistance) { best = c; bestDistance = dist; }
  }
  return best;
}

function plainValue(node: YamlNode | null): Value {
  if (node === null) return null;
  return (node as { toJSON(): Value }).toJSON();
}

export interface ParsedGate {
  config: GateConfig;
  /** Secret values the gate brought in: `$(…)` references to secret variables, passwords in URLs. */
  secrets: string[];
}

/**
 * Parses and validates the gate YAML before anything runs. Every problem is a UserError naming the line and
 * saying what to write instead.
 */
export function parseGate(text: string, source: string, variables?: VariableLookup): ParsedGate {
  const r = new Reader(source, variables);
  const doc = parseDocument(text, { lineCounter: r.lines, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? r.lines.linePos(e.pos[0]).line;
    throw new UserError(`The gate (${source}) line ${line}: it is not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const top = r.map(doc.contents as YamlNode | null, 'the gate', TOP_KEYS);
  const get = <T>(m: Map<string, { node: YamlNode | null }>, key: string, read: (n: YamlNode | null) => T, fallback: T): T =>
    (m.has(key) ? read(m.get(key)!.node) : fallback);

  const config: GateConfig = {
    timeoutSeconds: get(top, 'timeout', (n) => r.seconds(n, "'timeout'", 0.001), 600),
    initialDelaySeconds: get(top, 'initialDelay', (n) => r.seconds(n, "'initialDelay'"), 0),
    intervalSeconds: get(top, 'interval', (n) => r.seconds(n, "'interval'", 0), 15),
    requiredSuccesses: get(top, 'requiredSuccesses', (n) => r.number(n, "'requiredSuccesses'", 1, { integer: true }), 3),
    failureLimit: get(top, 'failureLimit', (n) => r.number(n, "'failureLimit'", 0, { integer: true }), 0),
    inconclusiveLimit: get<number | undefined>(top, 'inconclusiveLimit', (n) => r.number(n, "'inconclusiveLimit'", 0, { integer: true }), undefined),
    consecutiveErrorLimit: get(top, 'consecutiveErrorLimit', (n) => r.number(n, "'consecutiveErrorLimit'", 0, { integer: true }), 4),
    onInconclusive: get(top, 'onInconclusive', (n) => r.choice(n, "'onInconclusive'", ['fail', 'pass', 'warn'] as const), 'fail'),
    checks: [],
  };
  if (!top.has('checks')) r.fail(doc.contents as YamlNode, "the gate has no 'checks': add a list of checks, each with a name and one of http, prometheus or command.");
  const checksNode = top.get('checks')!.node;
  if (!isSeq(checksNode) || checksNode.items.length === 0) {
    r.fail(checksNode ?? top.get('checks')!.pair, "'checks' must be a list with at least one check (each with a name and one of http, prometheus or command).");
  }
  const names = new Set<string>();
  for (const item of (checksNode as { items: (YamlNode | null)[] }).items) {
    const check = parseCheck(r, item);
    if (names.has(check.name)) r.fail(item, `two checks are named '${check.name}': give each check its own name.`);
    names.add(check.name);
    config.checks.push(check);
  }
  return { config, secrets: r.secrets };
}

function parseCheck(r: Reader, node: YamlNode | null): CheckConfig {
  const m = r.map(node, 'a check', CHECK_KEYS);
  if (!m.has('name')) r.fail(node, "a check has no 'name': give each check a name, which its results and the reason use.");
  const name = r.string(m.get('name')!.node, "a check's 'name'");
  const what = `check '${name}'`;
  const kinds = (['http', 'prometheus', 'command'] as const).filter((k) => m.has(k));
  if (kinds.length !== 1) {
    r.fail(node, `${what} must have exactly one of http, prometheus or command${kinds.length ? `, not ${kinds.join(' and ')}` : ''}.`);
  }
  const kind = kinds[0];
  const line = r.line(node);
  const base = {
    name,
    line,
    successCondition: m.has('successCondition') ? r.condition(m.get('successCondition')!.node, `${what}: successCondition`) : undefined,
    failureCondition: m.has('failureCondition') ? r.condition(m.get('failureCondition')!.node, `${what}: failureCondition`) : undefined,
    onNoData: m.has('onNoData') ? r.choice(m.get('onNoData')!.node, `${what}: 'onNoData'`, ['fail', 'pass', 'inconclusive'] as const) : 'inconclusive' as NoDataPolicy,
  };
  if (m.has('expect') && kind !== 'http') r.fail(m.get('expect')!.pair, `${what}: 'expect' applies to http checks only; use successCondition for ${kind} checks.`);
  if (m.has('onNoData') && kind !== 'prometheus') r.fail(m.get('onNoData')!.pair, `${what}: 'onNoData' applies to prometheus checks only.`);
  const body = m.get(kind)!.node;

  switch (kind) {
    case 'http': {
      const h = r.map(body, `${what}: http`, HTTP_KEYS);
      if (!h.has('url')) r.fail(body, `${what}: http needs a 'url'.`);
      const url = parseUrl(r, h.get('url')!.node, `${what}: http url`);
      const method = h.has('method') ? r.string(h.get('method')!.node, `${what}: http method`).toUpperCase() : 'GET';
      if (!METHODS.includes(method)) r.fail(h.get('method')!.node, `${what}: http method must be one of ${METHODS.join(', ')}, not '${method}'.`);
      let requestBody: string | undefined;
      if (h.has('body')) {
        const b = h.get('body')!.node;
        requestBody = isScalar(b) ? r.resolve(String(b.value), b) : JSON.stringify(plainValue(b));
        if (method === 'GET' || method === 'HEAD') r.fail(b, `${what}: a ${method} request cannot have a body: use POST or PUT, or remove 'body'.`);
      }
      const expect: HttpExpectations = {};
      if (m.has('expect')) {
        const e = r.map(m.get('expect')!.node, `${what}: expect`, EXPECT_KEYS);
        if (e.has('status')) {
          const s = e.get('status')!.node;
          const items = isSeq(s) ? (s.items as (YamlNode | null)[]) : [s];
          expect.status = items.map((i) => r.number(i, `${what}: expect.status`, 100, { integer: true, max: 599 }));
        }
        if (e.has('bodyContains')) expect.bodyContains = r.string(e.get('bodyContains')!.node, `${what}: expect.bodyContains`);
        if (e.has('maxLatencyMs')) expect.maxLatencyMs = r.number(e.get('maxLatencyMs')!.node, `${what}: expect.maxLatencyMs`, 0);
        if (e.has('json')) {
          const j = r.map(e.get('json')!.node, `${what}: expect.json`, JSON_KEYS);
          if (!j.has('path')) r.fail(e.get('json')!.node, `${what}: expect.json needs a 'path' such as $.status.`);
          const path = r.string(j.get('path')!.node, `${what}: expect.json.path`);
          if (!/^\$(\.[A-Za-z_][\w-]*|\[\d+\]|\['[^']*'\]|\["[^"]*"\])*$/.test(path)) {
            r.fail(j.get('path')!.node, `${what}: expect.json.path '${path}' is not a JSON path this task reads: write $ followed by .name, [index] or ['name'], e.g. $.status or $.items[0].state.`);
          }
          expect.json = { path, equals: j.has('equals') ? plainValue(j.get('equals')!.node) : undefined };
        }
      }
      const headers = h.has('headers') ? r.stringMap(h.get('headers')!.node, `${what}: http headers`) : {};
      if (h.has('body') && !isScalar(h.get('body')!.node) && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json';
      }
      return {
        ...base, kind, method, body: requestBody, expect, ...credentialsAsHeader(r, url, headers),
        timeoutSeconds: h.has('timeout') ? r.seconds(h.get('timeout')!.node, `${what}: http timeout`, 0.001) : 10,
      };
    }
    case 'prometheus': {
      const p = r.map(body, `${what}: prometheus`, PROMETHEUS_KEYS);
      if (!p.has('url')) r.fail(body, `${what}: prometheus needs a 'url' (the Prometheus server, or the Azure Monitor workspace's query endpoint).`);
      if (!p.has('query')) r.fail(body, `${what}: prometheus needs a 'query' (PromQL).`);
      const url = parseUrl(r, p.get('url')!.node, `${what}: prometheus url`);
      return {
        ...base, kind,
        ...credentialsAsHeader(r, url, p.has('headers') ? r.stringMap(p.get('headers')!.node, `${what}: prometheus headers`) : {}),
        query: r.string(p.get('query')!.node, `${what}: prometheus query`, { resolve: true }),
        timeoutSeconds: p.has('timeout') ? r.seconds(p.get('timeout')!.node, `${what}: prometheus timeout`, 0.001) : 30,
        azureMonitor: p.has('azureMonitor') ? r.bool(p.get('azureMonitor')!.node, `${what}: prometheus azureMonitor`) : AZURE_MONITOR_HOST.test(new URL(url).hostname),
      };
    }
    case 'command': {
      const c = r.map(body, `${what}: command`, COMMAND_KEYS);
      if (!c.has('run')) r.fail(body, `${what}: command needs 'run', the command line to run.`);
      return {
        ...base, kind,
        run: r.string(c.get('run')!.node, `${what}: command run`),
        workingDirectory: c.has('workingDirectory') ? r.string(c.get('workingDirectory')!.node, `${what}: command workingDirectory`) : undefined,
        junit: c.has('junit') ? r.string(c.get('junit')!.node, `${what}: command junit`) : undefined,
        timeoutSeconds: c.has('timeout') ? r.seconds(c.get('timeout')!.node, `${what}: command timeout`, 0.001) : 300,
        env: c.has('env') ? r.stringMap(c.get('env')!.node, `${what}: command env`) : {},
      };
    }
  }
}

/**
 * `https://user:password@host/…` as the URL without them and a Basic authorization header (unless the check gives
 * one): fetch refuses URLs that carry credentials, and the bare URL is what logs and summaries show.
 */
function credentialsAsHeader(r: Reader, url: string, headers: Record<string, string>): { url: string; headers: Record<string, string> } {
  const parsed = new URL(url);
  if (!parsed.username && !parsed.password) return { url, headers };
  const password = decodeURIComponent(parsed.password);
  if (password) r.secrets.push(password);
  const basic = Buffer.from(`${decodeURIComponent(parsed.username)}:${password}`).toString('base64');
  parsed.username = '';
  parsed.password = '';
  const given = Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
  return { url: parsed.toString(), headers: given ? headers : { ...headers, authorization: `Basic ${basic}` } };
}

function parseUrl(r: Reader, node: YamlNode | null, what: string): string {
  const text = r.string(node, what, { resolve: true });
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    r.fail(node, `${what} '${text}' is not a URL: write it in full, e.g. https://staging.example.com/healthz.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') r.fail(node, `${what} must use https or http, not '${url.protocol}'.`);
  return text;
}
