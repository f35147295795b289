import { mannWhitneyU, shiftEstimate } from '../statistics/mannWhitney';
import { EFFECT_TOLERANCE, type CompareSettings } from './settings';

export type Classification = 'Pass' | 'High' | 'Low' | 'NoData';

/** How a canary's values compare with the baseline's, and why. */
export interface Comparison {
  classification: Classification;
  /** Why, as a phrase a person can check against the numbers. */
  reason: string;
  canaryCount: number;
  baselineCount: number;
  canaryMedian?: number;
  baselineMedian?: number;
  /** Hodges-Lehmann shift canary − baseline and its interval at the configured confidence. */
  estimate?: number;
  lower?: number;
  upper?: number;
  /** Two-sided p-value of the Mann-Whitney U test. */
  pValue?: number;
  /** mean(canary) / mean(baseline); NaN when a mean is zero. */
  meanRatio?: number;
  /** NoData only because fewer than minSamples values came so far: more evaluations bring more. */
  collecting?: boolean;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function mean(values: readonly number[]): number {
  // Stryker disable next-line ArithmeticOperator: only the ratio of two means and whether one is 0 are read, and a sum negated on both sides keeps both.
  const sum = values.reduce((s, v) => s + v, 0);
  return sum / values.length;
}

/** A number short enough for a log line: four significant digits. */
export function short(value: number): string {
  // NaN and ±Infinity come back from toPrecision as themselves.
  return String(Number(value.toPrecision(4)));
}

/**
 * Kayenta's MannWhitneyClassifier over plain arrays (canary = experiment, baseline = control): no data when a side
 * is empty or short of minSamples; Pass for identical samples or a single value overall; otherwise High when the
 * interval's lower bound clears a quarter of the estimate and the mean ratio reaches allowedIncrease (Low likewise
 * downwards), if the direction counts that change as bad. Values that are not finite numbers are left out, as
 * Kayenta's nanStrategy `remove` does.
 */
export function classify(canaryValues: readonly number[], baselineValues: readonly number[], settings: CompareSettings): Comparison {
  const canary = canaryValues.filter(Number.isFinite);
  const baseline = baselineValues.filter(Number.isFinite);
  const counts = { canaryCount: canary.length, baselineCount: baseline.length };
  if (canary.length === 0 || baseline.length === 0) {
    const missing = canary.length === 0 && baseline.length === 0 ? 'canary and baseline' : canary.length === 0 ? 'canary' : 'baseline';
    return { classification: 'NoData', reason: `no ${missing} values`, ...counts };
  }
  const medians = { canaryMedian: median(canary), baselineMedian: median(baseline) };
  const shown = `canary median ${short(medians.canaryMedian)}, baseline median ${short(medians.baselineMedian)}`;
  if (canary.length < settings.minSamples || baseline.length < settings.minSamples) {
    return {
      classification: 'NoData', collecting: true, ...counts, ...medians,
      reason: `${canary.length} canary and ${baseline.length} baseline values so far, minSamples ${settings.minSamples} on each side`,
    };
  }
  const sortedCanary = [...canary].sort((a, b) => a - b);
  const sortedBaseline = [...baseline].sort((a, b) => a - b);
  const identical = sortedCanary.length === sortedBaseline.length && sortedCanary.every((v, i) => v === sortedBaseline[i]);
  if (identical || new Set([...canary, ...baseline]).size === 1) {
    return { classification: 'Pass', reason: `${shown}: the samples are identical`, ...counts, ...medians };
  }
  const meanRatio = mean(baseline) === 0 || mean(canary) === 0 ? NaN : mean(canary) / mean(baseline);
  // One value on each side, different: Kayenta jitters them to get an interval; the shift is simply the difference.
  const constant = new Set(canary).size === 1 && new Set(baseline).size === 1;
  const shift = constant
    ? { estimate: canary[0] - baseline[0], lower: canary[0] - baseline[0], upper: canary[0] - baseline[0] }
    : shiftEstimate(canary, baseline, settings.confidence);
  const { pValue } = mannWhitneyU(canary, baseline);
  const bound = EFFECT_TOLERANCE * Math.abs(shift.estimate);
  const percent = Math.round(settings.confidence * 1000) / 10;
  const interval = `shift ${short(shift.estimate)} (${percent} % interval ${short(shift.lower)} to ${short(shift.upper)})`;
  const ratio = Number.isNaN(meanRatio) ? 'mean ratio undefined (a mean is 0)' : `mean ratio ${short(meanRatio)}`;
  const result = { ...counts, ...medians, ...shift, pValue, meanRatio };
  const increaseBad = settings.direction !== 'decrease';
  const decreaseBad = settings.direction !== 'increase';
  // Stryker disable next-line EqualityOperator: an interval bound of pairwise differences exactly at a quarter of their median is not met in practice.
  const above = shift.lower > bound;
  // Stryker disable next-line EqualityOperator: as above, below zero.
  const below = shift.upper < -bound;
  if (increaseBad && above && (Number.isNaN(meanRatio) || meanRatio >= settings.allowedIncrease)) {
    return { classification: 'High', reason: `${shown}: ${interval} lies above zero, ${ratio}${settings.allowedIncrease > 1 ? ` ≥ allowedIncrease ${settings.allowedIncrease}` : ''}`, ...result };
  }
  if (decreaseBad && below && (Number.isNaN(meanRatio) || meanRatio <= settings.allowedDecrease)) {
    return { classification: 'Low', reason: `${shown}: ${interval} lies below zero, ${ratio}${settings.allowedDecrease < 1 ? ` ≤ allowedDecrease ${settings.allowedDecrease}` : ''}`, ...result };
  }
  const why = increaseBad && above ? `, ${ratio} within allowedIncrease ${settings.allowedIncrease}`
    : decreaseBad && below ? `, ${ratio} within allowedDecrease ${settings.allowedDecrease}`
      : above || below ? ` (direction ${settings.direction} accepts this change)` : ' includes no significant change';
  return { classification: 'Pass', reason: `${shown}: ${interval}${why}`, ...result };
}
