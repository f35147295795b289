import type { Reading } from './checks/kind';
import type { Comparison } from './compare/classify';
import type { CheckConfig, Condition, NoDataPolicy } from './config';
import { evaluate, type Value } from './expression';
import type { TestCase } from './junit';

export type Outcome = 'passed' | 'failed' | 'inconclusive' | 'error';

/** One measurement of one check in one evaluation. */
export interface Measurement {
  check: string;
  outcome: Outcome;
  /** The measured value, short, for logs and tables (e.g. `0.034`, `200 in 12 ms`). */
  value?: string;
  /** Why it has this outcome, as a phrase (e.g. `0.034 does not meet result < 0.01`). */
  message: string;
  durationMs: number;
  /** A problem of the gate's configuration found while measuring (a rejected query, a refused permission): it will not go away, so the gate ends. */
  fatal?: boolean;
  /** Test cases a command's JUnit files reported. */
  testCases?: TestCase[];
  /** A compare check's classification on all values so far: the medians, the interval, the class. */
  comparison?: Comparison;
  /** A critical compare check failed: the gate fails at once, whatever failureLimit allows. */
  decisive?: boolean;
}

/** Worst first: the order in which outcomes decide an evaluation and a gate. */
export const SEVERITY: Record<Outcome, number> = { failed: 3, error: 2, inconclusive: 1, passed: 0 };

export function worst(outcomes: Outcome[]): Outcome {
  // Stryker disable next-line EqualityOperator: outcomes of equal severity are the same outcome, so >= picks the same one.
  return outcomes.reduce<Outcome>((w, o) => (SEVERITY[o] > SEVERITY[w] ? o : w), 'passed');
}

export function formatValue(value: Value): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  if (typeof value === 'string') return value.length > 60 ? `'${value.slice(0, 57)}…'` : `'${value}'`;
  if (Array.isArray(value)) {
    const shown = value.slice(0, 3).map(formatValue).join(', ');
    return `[${shown}${value.length > 3 ? `, … ${value.length} in all` : ''}]`;
  }
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 57)}…` : json;
}

function test(condition: Condition, result: Value, all: boolean): boolean | Error {
  try {
    const r = evaluate(condition.tree, result);
    return all ? r.every : r.some;
  } catch (err) {
    return err as Error;
  }
}

/**
 * Classifies a measured value as Argo Rollouts does: a failure condition that holds fails; a success condition
 * that holds passes; with both set and neither holding the measurement is inconclusive; with only one set, its
 * opposite decides. A vector passes only when every series passes (and fails when any series fails).
 */
export function judge(check: CheckConfig, result: Value): { outcome: Outcome; message: string } {
  const shown = formatValue(result);
  const { successCondition: success, failureCondition: failure } = check;
  if (failure) {
    const f = test(failure, result, false);
    if (f instanceof Error) return { outcome: 'error', message: `could not evaluate failureCondition '${failure.source}' on ${shown}: ${f.message}` };
    if (f) return { outcome: 'failed', message: `${shown} meets failureCondition ${failure.source}` };
  }
  if (success) {
    const s = test(success, result, true);
    if (s instanceof Error) return { outcome: 'error', message: `could not evaluate successCondition '${success.source}' on ${shown}: ${s.message}` };
    if (s) return { outcome: 'passed', message: `${shown} meets ${success.source}` };
    if (failure) return { outcome: 'inconclusive', message: `${shown} meets neither ${success.source} nor failureCondition ${failure.source}` };
    return { outcome: 'failed', message: `${shown} does not meet ${success.source}` };
  }
  if (failure) return { outcome: 'passed', message: `${shown} does not meet failureCondition ${failure.source}` };
  return { outcome: 'passed', message: shown };
}

const NO_DATA_OUTCOME: Record<NoDataPolicy, Outcome> = { pass: 'passed', fail: 'failed', inconclusive: 'inconclusive' };

/**
 * The gate's judgement of one reading: an error stays an error, no data follows `onNoData`, an expectation of the
 * check's kind that is not met fails, and otherwise the check's conditions decide (`judge`).
 */
export function assess(check: CheckConfig, reading: Reading): Measurement {
  const base = { check: check.name, durationMs: reading.durationMs };
  switch (reading.kind) {
    case 'error':
      return { ...base, outcome: 'error', value: reading.shown, message: reading.message, fatal: reading.fatal || undefined };
    case 'samples':
      return { ...base, outcome: 'error', message: 'samples of a canary and its baseline are judged by the canary comparison, not by conditions' };
    case 'noData':
      return { ...base, outcome: NO_DATA_OUTCOME[check.onNoData], value: 'no data', message: `no data: ${reading.reason} (onNoData: ${check.onNoData})` };
    case 'value': {
      const measured = { ...base, value: reading.shown, testCases: reading.testCases };
      if (reading.unmet !== undefined) return { ...measured, outcome: 'failed', message: reading.unmet };
      if (check.successCondition || check.failureCondition) return { ...measured, ...judge(check, reading.value) };
      return { ...measured, outcome: 'passed', message: reading.note ?? reading.shown };
    }
  }
}
