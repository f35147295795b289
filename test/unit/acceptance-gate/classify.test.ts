import { strict as assert } from 'node:assert';
import { classify, median, short } from '../../../tasks/acceptance-gate/compare/classify';
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
  describe('in its words, at its edges', () => {
    const five = (over: Partial<CompareSettings> = {}) => settings({ minSamples: 5, ...over });
    const r = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
    const doubled = r(10, (i) => 20 + 2 * i);
    const base = r(10, (i) => 10 + i);
    const verdict = (c: ReturnType<typeof classify>) => [c.classification, c.reason];

    it('says which side has no values', () => {
      assert.deepEqual(classify([], [], five()), { classification: 'NoData', reason: 'no canary and baseline values', canaryCount: 0, baselineCount: 0 });
      assert.deepEqual(verdict(classify([1], [NaN], five())), ['NoData', 'no baseline values']);
      assert.deepEqual(verdict(classify([], [1], five())), ['NoData', 'no canary values']);
    });

    it('collects until both sides have minSamples', () => {
      assert.deepEqual(classify([1, 2, 3], r(5, (i) => i), five()), {
        classification: 'NoData', collecting: true, canaryCount: 3, baselineCount: 5, canaryMedian: 2, baselineMedian: 2, reason: '3 canary and 5 baseline values so far, minSamples 5 on each side',
      });
      assert.deepEqual(verdict(classify(r(5, (i) => i), [1, 2], five())), ['NoData', '5 canary and 2 baseline values so far, minSamples 5 on each side']);
    });

    it('passes the same values in any order, or one value throughout, and tests samples that differ in one value', () => {
      assert.deepEqual(classify([3, 1, 2, 5, 4], [2, 3, 1, 4, 5], five()),
        { classification: 'Pass', reason: 'canary median 3, baseline median 3: the samples are identical', canaryCount: 5, baselineCount: 5, canaryMedian: 3, baselineMedian: 3 });
      assert.deepEqual(verdict(classify([1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1], five())), ['Pass', 'canary median 1, baseline median 1: the samples are identical']);
      const near = classify([1, 2, 3, 4, 5], [1, 2, 3, 4, 6], five());
      assert.deepEqual([near.classification, near.reason, near.meanRatio], ['Pass', 'canary median 3, baseline median 3: shift -0.000009974 (98 % interval -5 to 4) includes no significant change', 0.9375]);
      assert.deepEqual(verdict(classify([1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6], five())), ['Pass', 'canary median 3, baseline median 3.5: shift -0.5 (98 % interval -4 to 3) includes no significant change']);
    });

    it('takes the difference of two constant sides as the shift, and tests a constant side against a varying one', () => {
      const constant = classify([3, 3, 3, 3, 3], [1, 1, 1, 1, 1], five({ direction: 'increase' }));
      assert.deepEqual([...verdict(constant), constant.estimate, constant.lower, constant.upper, constant.meanRatio],
        ['High', 'canary median 3, baseline median 1: shift 2 (98 % interval 2 to 2) lies above zero, mean ratio 3', 2, 2, 2, 3]);
      const down = classify([1, 1, 1, 1, 1], [3, 3, 3, 3, 3], five());
      assert.deepEqual([...verdict(down), down.estimate, down.lower, down.upper], ['Low', 'canary median 1, baseline median 3: shift -2 (98 % interval -2 to -2) lies below zero, mean ratio 0.3333', -2, -2, -2]);
      assert.deepEqual(verdict(classify([3, 3, 3, 3, 3], [1, 1.1, 0.9, 1, 1], five({ direction: 'increase' }))),
        ['High', 'canary median 3, baseline median 1: shift 2 (98 % interval 1.9 to 2.1) lies above zero, mean ratio 3']);
      assert.deepEqual(verdict(classify([1, 1.1, 0.9, 1, 1], [3, 3, 3, 3, 3], five())),
        ['Low', 'canary median 1, baseline median 3: shift -2 (98 % interval -2.1 to -1.9) lies below zero, mean ratio 0.3333']);
    });

    it('counts a change at exactly allowedIncrease or allowedDecrease, and names the tolerance only when there is one', () => {
      assert.deepEqual(verdict(classify(doubled, base, five({ allowedIncrease: 2 }))),
        ['High', 'canary median 29, baseline median 14.5: shift 14.5 (98 % interval 8 to 21) lies above zero, mean ratio 2 ≥ allowedIncrease 2']);
      assert.deepEqual(verdict(classify(doubled, base, five({ allowedIncrease: 2.5 }))),
        ['Pass', 'canary median 29, baseline median 14.5: shift 14.5 (98 % interval 8 to 21), mean ratio 2 within allowedIncrease 2.5']);
      assert.deepEqual(verdict(classify(base, doubled, five({ allowedDecrease: 0.5 }))),
        ['Low', 'canary median 14.5, baseline median 29: shift -14.5 (98 % interval -21 to -8) lies below zero, mean ratio 0.5 ≤ allowedDecrease 0.5']);
      assert.deepEqual(verdict(classify(base, doubled, five({ allowedDecrease: 1 }))),
        ['Low', 'canary median 14.5, baseline median 29: shift -14.5 (98 % interval -21 to -8) lies below zero, mean ratio 0.5']);
      assert.deepEqual(verdict(classify(base, doubled, five({ allowedDecrease: 0.4 }))),
        ['Pass', 'canary median 14.5, baseline median 29: shift -14.5 (98 % interval -21 to -8), mean ratio 0.5 within allowedDecrease 0.4']);
    });

    it('calls a shift significant only when its interval clears zero by a quarter of the estimate, on either side', () => {
      const lower = (by: number) => r(10, (i) => 10 + i - by);
      assert.deepEqual(verdict(classify(lower(5), base, five())), ['Pass', 'canary median 9.5, baseline median 14.5: shift -5 (98 % interval -9 to -1) includes no significant change']);
      assert.deepEqual(verdict(classify(lower(5), base, five({ direction: 'increase' }))), ['Pass', 'canary median 9.5, baseline median 14.5: shift -5 (98 % interval -9 to -1) includes no significant change']);
      assert.deepEqual(verdict(classify(lower(6), base, five())), ['Low', 'canary median 8.5, baseline median 14.5: shift -6 (98 % interval -10 to -2) lies below zero, mean ratio 0.5862']);
      assert.deepEqual(verdict(classify(base, lower(5), five())), ['Pass', 'canary median 14.5, baseline median 9.5: shift 5 (98 % interval 1 to 9) includes no significant change']);
      assert.deepEqual(verdict(classify(r(5, (i) => 20 + 2 * i), base, five())), ['High', 'canary median 24, baseline median 14.5: shift 9.5 (98 % interval 4 to 15) lies above zero, mean ratio 1.655'], 'means of samples of different sizes');
    });

    it('lets the direction accept a change, and judges a change against a zero mean by its interval alone', () => {
      assert.deepEqual(verdict(classify(base, doubled, five({ direction: 'increase' }))),
        ['Pass', 'canary median 14.5, baseline median 29: shift -14.5 (98 % interval -21 to -8) (direction increase accepts this change)']);
      assert.deepEqual(verdict(classify(doubled, base, five({ direction: 'decrease' }))),
        ['Pass', 'canary median 29, baseline median 14.5: shift 14.5 (98 % interval 8 to 21) (direction decrease accepts this change)']);
      const zero = classify(r(10, (i) => 1 + i), r(10, (i) => i - 4.5), five({ allowedIncrease: 5 }));
      assert.deepEqual(verdict(zero), ['High', 'canary median 5.5, baseline median 0: shift 5.5 (98 % interval 1.5 to 9.5) lies above zero, mean ratio undefined (a mean is 0) ≥ allowedIncrease 5']);
      const zeroCanary = classify(r(10, (i) => i - 4.5), r(10, (i) => 1 + i), five({ allowedDecrease: 0.2 }));
      assert.deepEqual(verdict(zeroCanary), ['Low', 'canary median 0, baseline median 5.5: shift -5.5 (98 % interval -9.5 to -1.5) lies below zero, mean ratio undefined (a mean is 0) ≤ allowedDecrease 0.2']);
    });

    it('shows numbers to four significant digits, and what is not a number as it is', () => {
      assert.deepEqual([short(1234.5678), short(0.000123456), short(-2), short(NaN), short(Infinity), short(-Infinity)], ['1235', '0.0001235', '-2', 'NaN', 'Infinity', '-Infinity']);
      assert.deepEqual([median([3, 1, 2]), median([4, 1, 3, 2]), median([10, 9])], [2, 2.5, 9.5]);
    });
  });
});
