import { strict as assert } from 'node:assert';
import { parseGate, type CheckConfig } from '../../../tasks/acceptance-gate/config';
import { formatValue, judge, worst } from '../../../tasks/acceptance-gate/judge';

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
});
