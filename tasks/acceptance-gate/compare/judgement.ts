import type { Reading } from '../checks/kind';
import type { CompareCheck } from '../config';
import { assess, type Measurement, type Outcome } from '../judge';
import { classify, type Comparison } from './classify';
import { scoreMetrics } from './score';
import type { ScoreThresholds } from './settings';

const OUTCOME_OF_VERDICT = { Pass: 'passed', Marginal: 'inconclusive', Fail: 'failed' } as const;

/**
 * The gate's judgement of its compare checks across evaluations: each evaluation's values join the earlier ones
 * (the samples grow with the gate, as Kayenta's growing lookback does), each check is classified on all of them, and
 * the checks of one evaluation are scored together.
 */
export class CanaryJudgement {
  private readonly samples = new Map<string, { canary: number[]; baseline: number[] }>();

  constructor(private readonly thresholds: ScoreThresholds) {}

  /** One evaluation's reading of a compare check, classified with everything measured before. */
  record(check: CompareCheck, reading: Reading): Measurement {
    if (reading.kind !== 'samples') return assess(check, reading);
    // Stryker disable next-line ArrayDeclaration: classify leaves out whatever is not a finite number, so what the lists start with cannot show.
    const samples = this.samples.get(check.name) ?? { canary: [], baseline: [] };
    samples.canary.push(...reading.canary);
    samples.baseline.push(...reading.baseline);
    this.samples.set(check.name, samples);
    const comparison = classify(samples.canary, samples.baseline, check.settings);
    const outcome: Outcome = comparison.classification === 'Pass' ? 'passed' : comparison.classification === 'NoData' ? 'inconclusive' : 'failed';
    return {
      check: check.name, outcome, durationMs: reading.durationMs, comparison,
      value: `${comparison.collecting ? 'collecting' : comparison.classification} (${comparison.canaryCount} canary, ${comparison.baselineCount} baseline values)`,
      message: describe(comparison),
    };
  }

  /**
   * Scores the compare checks of one evaluation together and gives each the score's outcome: Pass passes, Marginal
   * is inconclusive, Fail fails; a critical check that is High or Low fails the gate at once. Until every check has
   * its minSamples, the compare checks are inconclusive.
   */
  settle(compares: readonly CompareCheck[], measurements: Measurement[]): Measurement[] {
    const judged = measurements.filter((m) => m.comparison);
    const byName = new Map(compares.map((c) => [c.name, c]));
    const critical = judged.find((m) => byName.get(m.check)?.critical && ['High', 'Low'].includes(m.comparison!.classification));
    const collecting = judged.filter((m) => m.comparison!.collecting).map((m) => `'${m.check}'`);
    // Read only when no critical check is High or Low (that ends the canary below) and none is collecting.
    const score = scoreMetrics(judged.map((m) => ({
      name: m.check, classification: m.comparison!.classification, weight: byName.get(m.check)?.weight, critical: false,
    })), this.thresholds);
    return measurements.map((m): Measurement => {
      if (!m.comparison) return m;
      if (critical) {
        return m === critical
          ? { ...m, outcome: 'failed', decisive: true, message: `${m.message}; the check is critical, so the canary fails` }
          : { ...m, outcome: 'inconclusive', message: `${m.message}; critical check '${critical.check}' failed the canary` };
      }
      if (collecting.length) {
        return m.comparison.collecting ? m : { ...m, outcome: 'inconclusive', message: `${m.message}; the score waits for ${collecting.join(', ')} to reach minSamples` };
      }
      if (score.verdict === 'NoData') return m;
      return { ...m, outcome: OUTCOME_OF_VERDICT[score.verdict], message: `${m.message}; ${score.reason}` };
    });
  }
}

/** "High: canary median 0.1, baseline median 0.01: shift 0.09 (98 % interval 0.08 to 0.1) lies above zero, …". */
function describe(c: Comparison): string {
  // Only a NoData comparison is ever collecting.
  if (c.collecting) return `collecting: ${c.reason}`;
  return `${c.classification}: ${c.reason}`;
}
