// Every setting of the canary comparison with its default and its range, in one place. The defaults are Kayenta's
// (progressive-delivery.md §3), except minSamples, which Kayenta does not enforce.

export const DIRECTIONS = ['increase', 'decrease', 'either'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export interface CompareSettings {
  /** Which change is bad: `increase` (e.g. errors, latency), `decrease` (e.g. throughput) or `either`. */
  direction: Direction;
  /** Ratio of the means the canary may exceed the baseline by before a significant increase counts (≥ 1). */
  allowedIncrease: number;
  /** Ratio of the means the canary may fall to before a significant decrease counts (≤ 1). */
  allowedDecrease: number;
  /** Confidence level of the Hodges-Lehmann interval. */
  confidence: number;
  /** Values needed on each side before the metric is judged. */
  minSamples: number;
}

export const COMPARE_DEFAULTS: CompareSettings = {
  direction: 'either',
  allowedIncrease: 1,
  allowedDecrease: 1,
  // MannWhitneyClassifier's confLevel in NetflixACAJudge.scala.
  confidence: 0.98,
  // 20 per side catch a 20 % shift (at 10 % noise) every time and a 10 % one about half the time; 50 catch a 10 %
  // shift 95 % of the time (progressive-delivery.md §3.6).
  minSamples: 20,
};

/** Kayenta's `tolerance`: a shift counts only when its interval clears zero by a quarter of the estimate. */
export const EFFECT_TOLERANCE = 0.25;

export const CONFIDENCE_RANGE = { min: 0.5, max: 0.9999 };
export const ALLOWED_INCREASE_RANGE = { min: 1, max: 1000 };
export const ALLOWED_DECREASE_RANGE = { min: 0.001, max: 1 };

export interface ScoreThresholds {
  /** Score (0–100) at or above which the canary passes. */
  pass: number;
  /** Score at or above which, short of pass, the canary is marginal (the gate's Inconclusive). */
  marginal: number;
}

/** The defaults of Spinnaker's canary configuration (`scoreThresholds`). */
export const SCORE_DEFAULTS: ScoreThresholds = { pass: 95, marginal: 75 };

/**
 * The fewest values per side with which the test can call any difference significant at this confidence: with
 * the samples fully apart, U's normal approximation gives z = (n²/2 − ½) / √(n²(2n+1)/12), which must exceed
 * Φ⁻¹(1 − α/2). At 0.98 that is 5 (z = 2.51 against 2.33); 4 gives only 2.17, so the interval always spans the
 * whole range and a verdict would come from its clamping, not from the data.
 */
export function smallestJudgeableSample(criticalZ: number): number {
  // Stryker disable next-line EqualityOperator: at n = 1000 both ways answer 1000.
  for (let n = 2; n < 1000; n++) {
    const z = ((n * n) / 2 - 0.5) / Math.sqrt((n * n * (2 * n + 1)) / 12);
    // Stryker disable next-line EqualityOperator: z is irrational for every n, never exactly a quantile.
    if (z > criticalZ) return n;
  }
  return 1000;
}
