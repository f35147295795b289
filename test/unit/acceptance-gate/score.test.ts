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
});
