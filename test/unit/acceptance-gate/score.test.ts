import { strict as assert } from 'node:assert';
import { scoreMetrics } from '../../../tasks/acceptance-gate/compare/score';
import { SCORE_DEFAULTS } from '../../../tasks/acceptance-gate/compare/settings';

describe('acceptance-gate canary score', () => {
  it('passes at 100 and fails one High of two equal metrics at 50', () => {
    assert.deepEqual(scoreMetrics([{ name: 'a', classification: 'Pass', critical: false }], SCORE_DEFAULTS).verdict, 'Pass');
    const s = scoreMetrics([{ name: 'a', classification: 'Pass', critical: false }, { name: 'b', classification: 'High', critical: false }], SCORE_DEFAULTS);
    assert.deepEqual([s.score, s.verdict], [50, 'Fail']);
    assert.match(s.reason, /score 50 of 100 \('b' High\): Fail \(pass 95, marginal 75\)/);
  });

  it('weighs metrics by their weights; unweighted ones share the rest equally', () => {
    const s = scoreMetrics([
      { name: 'errors', classification: 'Pass', weight: 80, critical: false },
      { name: 'latency', classification: 'Low', critical: false },
    ], SCORE_DEFAULTS);
    assert.deepEqual([s.score, s.verdict], [80, 'Marginal']);
    const thirds = scoreMetrics(['a', 'b', 'c'].map((name, i) => ({ name, classification: i ? 'Pass' as const : 'High' as const, critical: false })), { pass: 60, marginal: 50 });
    assert.deepEqual([thirds.score, thirds.verdict], [66.67, 'Pass']);
  });

  it('fails at once on a critical metric that is not Pass, whatever the others score', () => {
    const s = scoreMetrics([
      { name: 'errors', classification: 'High', weight: 1, critical: true },
      { name: 'latency', classification: 'Pass', weight: 99, critical: false },
    ], SCORE_DEFAULTS);
    assert.deepEqual([s.score, s.verdict, s.criticalFailure], [0, 'Fail', 'errors']);
  });

  it('leaves metrics without data out of the score', () => {
    const s = scoreMetrics([{ name: 'a', classification: 'NoData', critical: false }, { name: 'b', classification: 'Pass', critical: false }], SCORE_DEFAULTS);
    assert.deepEqual([s.score, s.verdict], [100, 'Pass']);
    assert.equal(scoreMetrics([{ name: 'a', classification: 'NoData', critical: false }], SCORE_DEFAULTS).verdict, 'NoData');
  });
  it('words the score, names the metrics that lost points, and passes or marks at exactly the thresholds', () => {
    const metric = (name: string, classification: 'Pass' | 'High' | 'Low' | 'NoData', extra: { weight?: number; critical?: boolean } = {}) => ({ name, classification, critical: false, ...extra });
    assert.deepEqual(scoreMetrics([metric('a', 'Pass'), metric('b', 'Pass')], SCORE_DEFAULTS), { score: 100, verdict: 'Pass', reason: 'score 100 of 100: Pass (pass 95, marginal 75)' });
    const half = [metric('a', 'Pass'), metric('b', 'Low')];
    assert.deepEqual(scoreMetrics(half, { pass: 50, marginal: 40 }), { score: 50, verdict: 'Pass', reason: "score 50 of 100 ('b' Low): Pass (pass 50, marginal 40)" });
    assert.deepEqual(scoreMetrics(half, { pass: 60, marginal: 50 }).verdict, 'Marginal');
    assert.deepEqual(scoreMetrics(half, { pass: 60, marginal: 51 }).verdict, 'Fail');
    assert.equal(scoreMetrics([metric('a', 'High'), metric('b', 'Low'), metric('c', 'Pass')], SCORE_DEFAULTS).reason, "score 33.33 of 100 ('a' High, 'b' Low): Fail (pass 95, marginal 75)");
    const shared = scoreMetrics([metric('a', 'Pass', { weight: 50 }), metric('b', 'Pass'), metric('c', 'High')], SCORE_DEFAULTS);
    assert.deepEqual([shared.score, shared.reason], [75, "score 75 of 100 ('c' High): Marginal (pass 95, marginal 75)"], 'b and c share the other 50');
  });

  it('fails a critical metric that is High or Low with score 0, and lets a critical Pass count as any other', () => {
    assert.deepEqual(scoreMetrics([{ name: 'errors', classification: 'Low', critical: true }, { name: 'cpu', classification: 'Pass', critical: false }], SCORE_DEFAULTS),
      { score: 0, verdict: 'Fail', criticalFailure: 'errors', reason: "score 0: 'errors' is critical and Low" });
    assert.deepEqual(scoreMetrics([{ name: 'errors', classification: 'High', critical: true }], SCORE_DEFAULTS).reason, "score 0: 'errors' is critical and High");
    const calm = scoreMetrics([{ name: 'errors', classification: 'Pass', critical: true }, { name: 'cpu', classification: 'High', critical: false }], SCORE_DEFAULTS);
    assert.deepEqual([calm.score, calm.verdict, calm.criticalFailure], [50, 'Fail', undefined]);
  });

  it('has no score when no metric has data or the ones with data weigh nothing', () => {
    assert.deepEqual(scoreMetrics([{ name: 'a', classification: 'NoData', critical: false }], SCORE_DEFAULTS), { verdict: 'NoData', reason: 'no metric had data to score' });
    assert.deepEqual(scoreMetrics([], SCORE_DEFAULTS), { verdict: 'NoData', reason: 'no metric had data to score' });
    assert.deepEqual(scoreMetrics([{ name: 'a', classification: 'NoData', weight: 100, critical: false }, { name: 'b', classification: 'High', critical: false }], SCORE_DEFAULTS),
      { verdict: 'NoData', reason: 'no metric had data to score' }, 'b shares what a leaves: nothing');
  });
});
