import { strict as assert } from 'node:assert';
import { classify } from '../../../tasks/acceptance-gate/compare/classify';
import { COMPARE_DEFAULTS, smallestJudgeableSample, type CompareSettings } from '../../../tasks/acceptance-gate/compare/settings';

const settings = (over: Partial<CompareSettings> = {}): CompareSettings => ({ ...COMPARE_DEFAULTS, minSamples: 10, ...over });
// Deterministic "noise": a fixed spread of ±5 % around a level.
const around = (level: number, n: number) => Array.from({ length: n }, (_, i) => level * (1 + (((i * 7) % 11) - 5) / 100));

describe('acceptance-gate canary classifier', () => {
  it('passes a canary whose values are as the baseline\'s', () => {
    const c = classify(around(0.01, 20), around(0.0101, 20), settings({ direction: 'increase' }));
    assert.equal(c.classification, 'Pass');
    assert.match(c.reason, /canary median 0\.01, baseline median 0\.0101: shift -?[\d.e-]+ \(98 % interval -[\d.e-]+ to [\d.e-]+\) includes no significant change/);
  });

  it('calls a tenfold error ratio High, with the medians, the interval and the mean ratio', () => {
    const c = classify(around(0.1, 20), around(0.01, 20), settings({ direction: 'increase' }));
    assert.equal(c.classification, 'High');
    assert.ok(c.lower! > 0.08 && c.upper! < 0.1, `interval ${c.lower} to ${c.upper}`);
    assert.match(c.reason, /canary median 0\.1, baseline median 0\.01: shift 0\.090\d* \(98 % interval .* lies above zero, mean ratio 10/);
    assert.ok(c.pValue! < 1e-6);
  });

  it('calls a drop Low only when the direction counts a decrease as bad', () => {
    assert.equal(classify(around(50, 20), around(100, 20), settings({ direction: 'either' })).classification, 'Low');
    assert.equal(classify(around(50, 20), around(100, 20), settings({ direction: 'decrease' })).classification, 'Low');
    const up = classify(around(50, 20), around(100, 20), settings({ direction: 'increase' }));
    assert.equal(up.classification, 'Pass');
    assert.match(up.reason, /direction increase accepts this change/);
  });

  it('tolerates a significant increase within allowedIncrease, and not beyond it', () => {
    assert.equal(classify(around(110, 20), around(100, 20), settings({ direction: 'increase', allowedIncrease: 1.2 })).classification, 'Pass');
    assert.equal(classify(around(130, 20), around(100, 20), settings({ direction: 'increase', allowedIncrease: 1.2 })).classification, 'High');
    assert.equal(classify(around(85, 20), around(100, 20), settings({ direction: 'decrease', allowedDecrease: 0.8 })).classification, 'Pass');
  });

  it('waits for minSamples on each side, and says how many came so far', () => {
    const c = classify(around(0.1, 20), around(0.01, 7), settings());
    assert.deepEqual([c.classification, c.collecting], ['NoData', true]);
    assert.match(c.reason, /20 canary and 7 baseline values so far, minSamples 10 on each side/);
  });

  it('has no data when a side has no finite value (NaN is removed, as Kayenta\'s nanStrategy remove)', () => {
    const c = classify([NaN, NaN], around(1, 20), settings());
    assert.deepEqual([c.classification, c.collecting, c.reason], ['NoData', undefined, 'no canary values']);
    assert.equal(classify([...around(1, 10), NaN, Infinity], around(1, 10), settings()).canaryCount, 10);
  });

  it('passes identical samples and all-zero error ratios without a test', () => {
    assert.match(classify(Array(12).fill(0), Array(10).fill(0), settings()).reason, /the samples are identical/);
  });

  it('judges two constant sides by their difference (Kayenta would jitter them)', () => {
    const c = classify(Array(10).fill(0.2), Array(10).fill(0), settings({ direction: 'increase' }));
    assert.deepEqual([c.classification, c.estimate, c.lower, c.upper], ['High', 0.2, 0.2, 0.2]);
    assert.ok(Number.isNaN(c.meanRatio!));
  });

  it('knows the fewest values per side the test can judge: 5 at 98 %, 6 at 99 %, 4 at 95 %', () => {
    assert.equal(smallestJudgeableSample(2.3263478740408408), 5);
    assert.equal(smallestJudgeableSample(2.5758293035489004), 6);
    assert.equal(smallestJudgeableSample(1.959963984540054), 4);
  });
});
