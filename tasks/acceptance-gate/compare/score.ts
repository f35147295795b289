import type { Classification } from './classify';
import type { ScoreThresholds } from './settings';

export interface ScoredMetric {
  name: string;
  classification: Classification;
  /** Share of the score in percent; metrics without one share what the others leave. */
  weight?: number;
  critical: boolean;
}

export type ScoreVerdict = 'Pass' | 'Marginal' | 'Fail' | 'NoData';

export interface Score {
  /** 0–100, two decimals; undefined when no metric had data. */
  score?: number;
  verdict: ScoreVerdict;
  /** A critical metric that is High or Low: the canary fails whatever the score. */
  criticalFailure?: string;
  reason: string;
}

/**
 * Kayenta's WeightedSumScorer and ThresholdScoreClassifier with one metric per group: a Pass scores 100, High or Low
 * 0, weighted; a critical metric that is not Pass scores the whole canary 0. A metric without data is left out and
 * the others' weights count in full (Kayenta counts it 100 and zeroes the score at half the metrics without data;
 * here no data follows each check's onNoData instead).
 */
export function scoreMetrics(metrics: readonly ScoredMetric[], thresholds: ScoreThresholds): Score {
  const critical = metrics.find((m) => m.critical && (m.classification === 'High' || m.classification === 'Low'));
  if (critical) {
    return { score: 0, verdict: 'Fail', criticalFailure: critical.name, reason: `score 0: '${critical.name}' is critical and ${critical.classification}` };
  }
  const given = metrics.reduce((s, m) => s + (m.weight ?? 0), 0);
  const unweighted = metrics.filter((m) => m.weight === undefined).length;
  const share = unweighted ? Math.max(0, 100 - given) / unweighted : 0;
  const counted = metrics.filter((m) => m.classification !== 'NoData').map((m) => ({ ...m, w: m.weight ?? share }));
  const total = counted.reduce((s, m) => s + m.w, 0);
  // No metric with data weighs anything, or there is none.
  if (total === 0) return { verdict: 'NoData', reason: 'no metric had data to score' };
  const score = Math.round((counted.reduce((s, m) => s + (m.classification === 'Pass' ? m.w * 100 : 0), 0) / total) * 100) / 100;
  const verdict: ScoreVerdict = score >= thresholds.pass ? 'Pass' : score >= thresholds.marginal ? 'Marginal' : 'Fail';
  const failing = counted.filter((m) => m.classification !== 'Pass').map((m) => `'${m.name}' ${m.classification}`);
  const detail = failing.length ? ` (${failing.join(', ')})` : '';
  return { score, verdict, reason: `score ${score} of 100${detail}: ${verdict} (pass ${thresholds.pass}, marginal ${thresholds.marginal})` };
}
