import { strict as assert } from 'node:assert';
import { parseGate, type CheckConfig } from '../../../tasks/acceptance-gate/config';
import { assess, formatValue, judge, worst } from '../../../tasks/acceptance-gate/judge';
import type { TestCase } from '../../../tasks/acceptance-gate/junit';

const check = (conditions: string): CheckConfig =>
  parseGate(`checks:\n  - name: c\n    prometheus: { url: "http://127.0.0.1:9090", query: up }\n${conditions}`, 'test').config.checks[0];

describe('acceptance-gate judge: the outcome of one measurement and the words for it', () => {
  it('takes the worst outcome: failed over error over inconclusive over passed', () => {
    assert.equal(worst([]), 'passed');
    assert.equal(worst(['passed', 'inconclusive', 'passed']), 'inconclusive');
    assert.equal(worst(['inconclusive', 'error']), 'error');
    assert.equal(worst(['error', 'failed', 'error']), 'failed');
    assert.equal(worst(['failed', 'passed']), 'failed');
  });

  it('shows numbers to four significant digits, strings quoted and cut at 60 characters', () => {
    assert.equal(formatValue(3), '3');
    assert.equal(formatValue(0.0123456), '0.01235');
    assert.equal(formatValue('healthy'), "'healthy'");
    assert.equal(formatValue('x'.repeat(60)), `'${'x'.repeat(60)}'`, 'sixty characters are shown whole');
    assert.equal(formatValue('y'.repeat(61)), `'${'y'.repeat(57)}…'`);
  });

  it('shows three series of a vector and how many there are in all', () => {
    assert.equal(formatValue([1, 2, 3]), '[1, 2, 3]');
    assert.equal(formatValue([1, 2, 3, 4]), '[1, 2, 3, … 4 in all]');
    assert.equal(formatValue(['a']), "['a']");
    assert.equal(formatValue([]), '[]');
  });

  it('shows other values as JSON, cut at 60 characters', () => {
    assert.equal(formatValue(null), 'null');
    assert.equal(formatValue(true), 'true');
    const long = { message: 'z'.repeat(70) };
    assert.equal(formatValue(long), `${JSON.stringify(long).slice(0, 57)}…`);
    const sixty = { m: 'w'.repeat(52) };
    assert.equal(JSON.stringify(sixty).length, 60);
    assert.equal(formatValue(sixty), JSON.stringify(sixty));
  });

  it('says which condition decided, in each of the rules', () => {
    const both = check('    successCondition: result < 1\n    failureCondition: result > 5');
    assert.deepEqual(judge(both, 6), { outcome: 'failed', message: '6 meets failureCondition result > 5' });
    assert.deepEqual(judge(both, 0.5), { outcome: 'passed', message: '0.5 meets result < 1' });
    assert.deepEqual(judge(both, 3), { outcome: 'inconclusive', message: '3 meets neither result < 1 nor failureCondition result > 5' });
    assert.deepEqual(judge(check('    successCondition: result < 1'), 2), { outcome: 'failed', message: '2 does not meet result < 1' });
    assert.deepEqual(judge(check('    failureCondition: result > 5'), 4), { outcome: 'passed', message: '4 does not meet failureCondition result > 5' });
    assert.deepEqual(judge(check(''), 7), { outcome: 'passed', message: '7' });
  });

  it('reports a failure condition that cannot be evaluated as an error, not as a pass', () => {
    assert.deepEqual(judge(check('    failureCondition: result[0] > 1'), []), {
      outcome: 'error', message: "could not evaluate failureCondition 'result[0] > 1' on []: result has no element 0 (it holds 0)",
    });
  });
  it('reports a success condition that cannot be evaluated as an error, and a vector that fails no series as passing', () => {
    assert.deepEqual(judge(check('    successCondition: result > 1'), 'up'), {
      outcome: 'error', message: "could not evaluate successCondition 'result > 1' on 'up': cannot compare the text 'up' > 1",
    });
    const both = check('    successCondition: result < 1\n    failureCondition: result > 5');
    assert.deepEqual(judge(both, [0.5, 3]), { outcome: 'inconclusive', message: '[0.5, 3] meets neither result < 1 nor failureCondition result > 5' });
    assert.deepEqual(judge(check('    failureCondition: result > 5'), [1, 2]), { outcome: 'passed', message: '[1, 2] does not meet failureCondition result > 5' });
    assert.deepEqual(judge(check('    successCondition: result < 1'), [0.5, 0.2]), { outcome: 'passed', message: '[0.5, 0.2] meets result < 1' });
  });

  it('assesses a reading: an error stays one, no data follows onNoData, an unmet expectation fails, conditions decide the rest', () => {
    const plain = check('');
    assert.deepEqual(assess(plain, { kind: 'error', message: 'connection refused', shown: 'refused', durationMs: 4 }),
      { check: 'c', durationMs: 4, outcome: 'error', value: 'refused', message: 'connection refused', fatal: undefined });
    assert.deepEqual(assess(plain, { kind: 'error', message: 'query rejected', fatal: true, durationMs: 4 }),
      { check: 'c', durationMs: 4, outcome: 'error', value: undefined, message: 'query rejected', fatal: true });
    assert.deepEqual(assess(plain, { kind: 'samples', canary: [1], baseline: [1], durationMs: 2 }),
      { check: 'c', durationMs: 2, outcome: 'error', message: 'samples of a canary and its baseline are judged by the canary comparison, not by conditions' });
    for (const [onNoData, outcome] of [['pass', 'passed'], ['fail', 'failed'], ['inconclusive', 'inconclusive']]) {
      assert.deepEqual(assess(check(`    onNoData: ${onNoData}`), { kind: 'noData', reason: 'the query returned no series', durationMs: 3 }),
        { check: 'c', durationMs: 3, outcome, value: 'no data', message: `no data: the query returned no series (onNoData: ${onNoData})` });
    }
    assert.equal(assess(plain, { kind: 'noData', reason: 'x', durationMs: 3 }).outcome, 'inconclusive', 'onNoData is inconclusive unless set');
    const cases: TestCase[] = [{ suite: 'api', name: 'orders', outcome: 'failed', message: 'expected 200' }];
    assert.deepEqual(assess(check('    successCondition: result < 1'), { kind: 'value', value: 0, shown: '0', unmet: 'status 500 is not 200', durationMs: 5, testCases: cases }),
      { check: 'c', durationMs: 5, value: '0', testCases: cases, outcome: 'failed', message: 'status 500 is not 200' });
    assert.deepEqual(assess(check('    successCondition: result < 1'), { kind: 'value', value: 2, shown: '2', durationMs: 5 }),
      { check: 'c', durationMs: 5, value: '2', testCases: undefined, outcome: 'failed', message: '2 does not meet result < 1' });
    assert.deepEqual(assess(check('    failureCondition: result > 1'), { kind: 'value', value: 2, shown: '2', durationMs: 5 }),
      { check: 'c', durationMs: 5, value: '2', testCases: undefined, outcome: 'failed', message: '2 meets failureCondition result > 1' });
    assert.deepEqual(assess(plain, { kind: 'value', value: 200, shown: '200 in 12 ms', note: 'healthy', durationMs: 12 }),
      { check: 'c', durationMs: 12, value: '200 in 12 ms', testCases: undefined, outcome: 'passed', message: 'healthy' });
    assert.deepEqual(assess(plain, { kind: 'value', value: 200, shown: '200 in 12 ms', durationMs: 12 }),
      { check: 'c', durationMs: 12, value: '200 in 12 ms', testCases: undefined, outcome: 'passed', message: '200 in 12 ms' });
  });
});
