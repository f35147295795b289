import type { Node as YamlNode } from 'yaml';
import type { CheckBase, Reader } from '../config';
import {
  ALLOWED_DECREASE_RANGE, ALLOWED_INCREASE_RANGE, COMPARE_DEFAULTS, CONFIDENCE_RANGE, DIRECTIONS, smallestJudgeableSample, type CompareSettings,
} from '../compare/settings';
import { normalQuantile } from '../statistics/normal';
import { elapsed, type CheckContext, type CheckFields, type CheckKind, type Reading } from './kind';
import { parseServer, queryPrometheus, type PrometheusServer } from './prometheus';

export interface CompareCheck extends CheckBase, PrometheusServer {
  kind: 'compare';
  canaryQuery: string;
  baselineQuery: string;
  settings: CompareSettings;
  /** Share of the canary score in percent; undefined: an equal share of what the weighted checks leave. */
  weight?: number;
  /** A High or Low of this check fails the gate at once. */
  critical: boolean;
}

export const COMPARE_KEYS = [
  'url', 'headers', 'timeout', 'azureMonitor', 'canary', 'baseline', 'query',
  'direction', 'allowedIncrease', 'allowedDecrease', 'confidence', 'minSamples', 'weight', 'critical',
] as const;
const VERSION = '{{version}}';

export function parseCompare(r: Reader, base: CheckBase, body: YamlNode | null, fields: CheckFields): CompareCheck {
  const what = `check '${base.name}': compare`;
  for (const key of ['successCondition', 'failureCondition']) {
    if (fields.has(key)) r.fail(fields.get(key)!.pair, `${what} is judged by comparing the canary with its baseline (Mann-Whitney), not by '${key}': remove it, and set direction, allowedIncrease or allowedDecrease instead.`);
  }
  const c = r.map(body, what, COMPARE_KEYS);
  const server = parseServer(r, c, body, what);
  const query = (key: string) => r.string(c.get(key)!.node, `${what} ${key}`, { resolve: true });
  let canaryQuery: string;
  let baselineQuery: string;
  if (c.has('query')) {
    if (c.has('canary') || c.has('baseline')) r.fail(c.get('query')!.pair, `${what}: give either 'query' (with ${VERSION}) or both 'canary' and 'baseline', not both forms.`);
    const q = query('query');
    if (!q.includes(VERSION)) {
      r.fail(c.get('query')!.node, `${what} query has no ${VERSION}: write it once with ${VERSION} where the version label goes (e.g. rate(http_requests_total{version="${VERSION}"}[1m])), or give 'canary' and 'baseline' queries.`);
    }
    canaryQuery = q.split(VERSION).join('canary');
    baselineQuery = q.split(VERSION).join('baseline');
  } else {
    if (!c.has('canary') || !c.has('baseline')) {
      const missing = c.has('canary') ? "'baseline'" : c.has('baseline') ? "'canary'" : "'canary' and 'baseline'";
      r.fail(body, `${what} needs ${missing}: a PromQL query for each side (e.g. the same expression with version="canary" and version="baseline"), or one 'query' with ${VERSION}.`);
    }
    canaryQuery = query('canary');
    baselineQuery = query('baseline');
  }
  const get = <T>(key: string, read: (n: YamlNode | null) => T, fallback: T): T => (c.has(key) ? read(c.get(key)!.node) : fallback);
  const confidence = get('confidence', (n) => r.number(n, `${what} confidence`, CONFIDENCE_RANGE.min, { max: CONFIDENCE_RANGE.max }), COMPARE_DEFAULTS.confidence);
  const smallest = smallestJudgeableSample(-normalQuantile((1 - confidence) / 2));
  const minSamples = get('minSamples', (n) => r.number(n, `${what} minSamples`, 1, { integer: true }), COMPARE_DEFAULTS.minSamples);
  if (minSamples < smallest) {
    r.fail(c.get('minSamples')!.node, `${what} minSamples ${minSamples} is too few for the test at confidence ${confidence}: below ${smallest} values on each side even completely separate samples are not significant. Use at least ${smallest} (20 find a 20 % shift reliably, 50 a 10 % one).`);
  }
  return {
    ...base, kind: 'compare', ...server, canaryQuery, baselineQuery,
    settings: {
      direction: get('direction', (n) => r.choice(n, `${what} direction`, DIRECTIONS), COMPARE_DEFAULTS.direction),
      allowedIncrease: get('allowedIncrease', (n) => r.number(n, `${what} allowedIncrease (a ratio of means, e.g. 1.1 tolerates 10 % more)`, ALLOWED_INCREASE_RANGE.min, { max: ALLOWED_INCREASE_RANGE.max }), COMPARE_DEFAULTS.allowedIncrease),
      allowedDecrease: get('allowedDecrease', (n) => r.number(n, `${what} allowedDecrease (a ratio of means, e.g. 0.9 tolerates 10 % less)`, ALLOWED_DECREASE_RANGE.min, { max: ALLOWED_DECREASE_RANGE.max }), COMPARE_DEFAULTS.allowedDecrease),
      confidence,
      minSamples,
    },
    weight: get<number | undefined>('weight', (n) => r.number(n, `${what} weight (percent of the score)`, 0.01, { max: 100 }), undefined),
    critical: get('critical', (n) => r.bool(n, `${what} critical`), false),
  };
}

/** The finite numbers of a query's answer: every series of a vector, or the scalar. */
function numbersOf(answer: Awaited<ReturnType<typeof queryPrometheus>>): number[] | undefined {
  if (!answer.ok || answer.resultType === 'string') return undefined;
  const values = answer.resultType === 'vector' ? answer.samples.map((s) => s.value) : [answer.value];
  return values.filter(Number.isFinite);
}

/** Queries the canary and the baseline at once; each series of a vector (e.g. one per pod) is one value. */
export async function measureCompare(check: CompareCheck, ctx: CheckContext): Promise<Reading> {
  const started = process.hrtime.bigint();
  const [canary, baseline] = await Promise.all([queryPrometheus(check, check.canaryQuery, ctx), queryPrometheus(check, check.baselineQuery, ctx)]);
  const durationMs = elapsed(started);
  for (const [side, answer] of [['canary', canary], ['baseline', baseline]] as const) {
    if (!answer.ok) return { kind: 'error', message: `the ${side} query: ${answer.message}`, fatal: answer.fatal, durationMs };
    if (answer.resultType === 'string') return { kind: 'error', message: `the ${side} query returns a string; give a query that returns numbers`, fatal: true, durationMs };
  }
  const canaryValues = numbersOf(canary)!;
  const baselineValues = numbersOf(baseline)!;
  const empty = [canaryValues.length ? '' : 'canary', baselineValues.length ? '' : 'baseline'].filter(Boolean);
  if (empty.length) return { kind: 'noData', reason: `the ${empty.join(' and ')} quer${empty.length > 1 ? 'ies' : 'y'} returned no numbers`, durationMs };
  return { kind: 'samples', canary: canaryValues, baseline: baselineValues, durationMs };
}

export const compareCheck: CheckKind<CompareCheck> = { keys: COMPARE_KEYS, checkKeys: ['onNoData'], parse: parseCompare, measure: measureCompare };
