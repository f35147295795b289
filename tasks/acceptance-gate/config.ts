import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import { UserError } from '../common/errors';
import { CHECK_KINDS, KIND_NAMES } from './checks';
import type { CommandCheck } from './checks/command';
import type { CompareCheck } from './checks/compare';
import type { HttpCheck } from './checks/http';
import type { CheckKind } from './checks/kind';
import type { PrometheusCheck } from './checks/prometheus';
import { SCORE_DEFAULTS, type ScoreThresholds } from './compare/settings';
import { ExpressionError, parseExpression, type Node as Expression } from './expression';

export type NoDataPolicy = 'fail' | 'pass' | 'inconclusive';
export type InconclusivePolicy = 'fail' | 'pass' | 'warn';

export interface Condition {
  source: string;
  tree: Expression;
}

export interface CheckBase {
  name: string;
  successCondition?: Condition;
  failureCondition?: Condition;
  onNoData: NoDataPolicy;
  /** Line of the check in the gate YAML, for messages. */
  line: number;
}

export type { HttpCheck, HttpExpectations } from './checks/http';
export type { PrometheusCheck } from './checks/prometheus';
export type { CommandCheck } from './checks/command';
export type { CompareCheck } from './checks/compare';

export type CheckConfig = HttpCheck | PrometheusCheck | CommandCheck | CompareCheck;

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
  /** Thresholds of the canary score that compare checks add up to. */
  score: ScoreThresholds;
  checks: CheckConfig[];
}

/** Resolves `$(name)` references of a gate file; says whether the value is a secret. */
export type VariableLookup = (name: string) => { value: string; secret: boolean } | undefined;

const TOP_KEYS = ['timeout', 'initialDelay', 'interval', 'requiredSuccesses', 'failureLimit', 'inconclusiveLimit', 'consecutiveErrorLimit', 'onInconclusive', 'score', 'checks'];
const SCORE_KEYS = ['pass', 'marginal'];
const COMMON_CHECK_KEYS = ['name', 'successCondition', 'failureCondition'];
const NO_DATA_POLICIES = ['fail', 'pass', 'inconclusive'] as const;

/** Reads the gate YAML: every error names the line and says what to write. */
export class Reader {
  readonly lines = new LineCounter();
  /** Secret values met while parsing: `$(…)` references to secret variables, passwords in URLs. */
  readonly secrets: string[] = [];

  constructor(private readonly source: string, private readonly variables?: VariableLookup) {}

  line(node: YamlNode | Pair | null | undefined): number {
    // A pair is placed by its key; the parser gives every node its range.
    const at = (node && 'key' in node ? node.key : node) as YamlNode | null | undefined;
    return this.lines.linePos(at ? at.range![0] : 0).line;
  }

  fail(node: YamlNode | Pair | null | undefined, message: string): never {
    throw new UserError(`The gate (${this.source}) line ${this.line(node)}: ${message}`);
  }

  map(node: YamlNode | null | undefined, what: string, allowed: readonly string[]): Map<string, { node: YamlNode | null; pair: Pair }> {
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
    // Stryker disable next-line ConditionalExpression,LogicalOperator: Number.isFinite refuses what is not a number as well; the typeof is for the compiler.
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
      // An empty value is a scalar holding null, whose typeof is 'object' too.
      if (!isScalar(value) || typeof value.value === 'object') this.fail(value, `${what}: '${key}' must be text.`);
      out[key] = this.resolve(String(value.value), value);
    }
    return out;
  }

  condition(node: YamlNode | null, what: string): Condition {
    const source = this.string(node, what);
    try {
      return { source, tree: parseExpression(source) };
    } catch (err) {
      // Stryker disable next-line ConditionalExpression: parseExpression throws nothing else; anything else would be a fault of it, not of the gate file.
      if (err instanceof ExpressionError) {
        this.fail(node, `${what} '${source}' is not a valid condition: ${err.message}. Write comparisons over 'result' with < <= > >= == !=, joined by && || ! and parentheses, e.g. 'result < 0.01'.`);
      }
      throw err;
    }
  }

  /** An http or https URL, `$(…)` references resolved. */
  url(node: YamlNode | null, what: string): string {
    const text = this.string(node, what, { resolve: true });
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      this.fail(node, `${what} '${text}' is not a URL: write it in full, e.g. https://staging.example.com/healthz.`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') this.fail(node, `${what} must use https or http, not '${url.protocol}'.`);
    return text;
  }

  /**
   * `https://user:password@host/…` as the URL without them and a Basic authorization header (unless the check gives
   * one): fetch refuses URLs that carry credentials, and the bare URL is what logs and summaries show.
   */
  credentialsAsHeader(url: string, headers: Record<string, string>): { url: string; headers: Record<string, string> } {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return { url, headers };
    const password = decodeURIComponent(parsed.password);
    if (password) this.secrets.push(password);
    const basic = Buffer.from(`${decodeURIComponent(parsed.username)}:${password}`).toString('base64');
    parsed.username = '';
    parsed.password = '';
    const given = Object.keys(headers).some((k) => k.toLowerCase() === 'authorization');
    return { url: parsed.toString(), headers: given ? headers : { ...headers, authorization: `Basic ${basic}` } };
  }
}

function describe(node: YamlNode | null): string {
  if (isScalar(node)) return typeof node.value === 'string' ? `'${node.value}'` : String(node.value);
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  return 'nothing';
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  const distance = (a: string, b: string) => {
    // Row i starts at i; the loops fill each row left to right from the row above.
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i]);
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
    const line = r.lines.linePos(e.pos[0]).line;
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
    score: get(top, 'score', (n) => parseScore(r, n), SCORE_DEFAULTS),
    checks: [],
  };
  if (!top.has('checks')) r.fail(doc.contents as YamlNode, "the gate has no 'checks': add a list of checks, each with a name and one of http, prometheus, command or compare.");
  const checksNode = top.get('checks')!.node;
  if (!isSeq(checksNode) || checksNode.items.length === 0) {
    r.fail(checksNode, "'checks' must be a list with at least one check (each with a name and one of http, prometheus, command or compare).");
  }
  const names = new Set<string>();
  for (const item of (checksNode as { items: (YamlNode | null)[] }).items) {
    const check = parseCheck(r, item);
    if (names.has(check.name)) r.fail(item, `two checks are named '${check.name}': give each check its own name.`);
    names.add(check.name);
    config.checks.push(check);
  }
  checkWeights(r, config.checks, checksNode as YamlNode);
  return { config, secrets: r.secrets };
}

function parseScore(r: Reader, node: YamlNode | null): ScoreThresholds {
  const m = r.map(node, "'score'", SCORE_KEYS);
  const pass = m.has('pass') ? r.number(m.get('pass')!.node, "'score' pass", 0, { max: 100 }) : SCORE_DEFAULTS.pass;
  const marginal = m.has('marginal') ? r.number(m.get('marginal')!.node, "'score' marginal", 0, { max: 100 }) : SCORE_DEFAULTS.marginal;
  if (marginal > pass) r.fail(node, `'score' marginal ${marginal} is above pass ${pass}: marginal must be at most pass (Spinnaker's defaults are pass ${SCORE_DEFAULTS.pass}, marginal ${SCORE_DEFAULTS.marginal}).`);
  return { pass, marginal };
}

/** Weights of compare checks are percentages of the canary score, so together they cannot exceed 100. */
function checkWeights(r: Reader, checks: CheckConfig[], node: YamlNode): void {
  const compares = checks.filter((c) => c.kind === 'compare');
  const weighted = compares.filter((c) => c.weight !== undefined);
  const total = weighted.reduce((s, c) => s + c.weight!, 0);
  const listed = weighted.map((c) => `'${c.name}' ${c.weight}`).join(', ');
  // Stryker disable next-line EqualityOperator: a sum of weights exactly 1e-9 from 100 is no gate anyone writes; the same below.
  if (total > 100 + 1e-9) r.fail(node, `the weights of the compare checks add up to ${total} (${listed}): they are percentages of the score, so make them total 100 at most.`);
  // Stryker disable next-line EqualityOperator: as above
  if (weighted.length && weighted.length === compares.length && Math.abs(total - 100) > 1e-9) {
    r.fail(node, `the weights of the compare checks add up to ${total} (${listed}): when every compare check has a weight they must total 100.`);
  }
}

function parseCheck(r: Reader, node: YamlNode | null): CheckConfig {
  const kindKeys = KIND_NAMES.flatMap((k) => [k, ...CHECK_KINDS[k].checkKeys]);
  const m = r.map(node, 'a check', [...new Set(['name', ...kindKeys, ...COMMON_CHECK_KEYS])]);
  if (!m.has('name')) r.fail(node, "a check has no 'name': give each check a name, which its results and the reason use.");
  const name = r.string(m.get('name')!.node, "a check's 'name'");
  const what = `check '${name}'`;
  const kinds = KIND_NAMES.filter((k) => m.has(k));
  if (kinds.length !== 1) {
    r.fail(node, `${what} must have exactly one of ${KIND_NAMES.join(', ').replace(/, (\w+)$/, ' or $1')}${kinds.length ? `, not ${kinds.join(' and ')}` : ''}.`);
  }
  const kind = kinds[0];
  const base: CheckBase = {
    name,
    line: r.line(node),
    successCondition: m.has('successCondition') ? r.condition(m.get('successCondition')!.node, `${what}: successCondition`) : undefined,
    failureCondition: m.has('failureCondition') ? r.condition(m.get('failureCondition')!.node, `${what}: failureCondition`) : undefined,
    onNoData: m.has('onNoData') ? r.choice(m.get('onNoData')!.node, `${what}: 'onNoData'`, NO_DATA_POLICIES) : 'inconclusive',
  };
  for (const key of m.keys()) {
    if (COMMON_CHECK_KEYS.includes(key) || KIND_NAMES.includes(key as CheckConfig['kind']) || CHECK_KINDS[kind].checkKeys.includes(key)) continue;
    const owners = KIND_NAMES.filter((k) => CHECK_KINDS[k].checkKeys.includes(key));
    const instead = key === 'expect' ? `; use successCondition for ${kind} checks` : '';
    r.fail(m.get(key)!.pair, `${what}: '${key}' applies to ${owners.join(' and ')} checks only${instead}.`);
  }
  return (CHECK_KINDS[kind] as CheckKind<CheckConfig>).parse(r, base, m.get(kind)!.node, m);
}
