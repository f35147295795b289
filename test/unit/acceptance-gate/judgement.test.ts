import { strict as assert } from 'node:assert';
import { parseGate, type CompareCheck } from '../../../tasks/acceptance-gate/config';
import { CanaryJudgement } from '../../../tasks/acceptance-gate/compare/judgement';
import type { Measurement } from '../../../tasks/acceptance-gate/judge';

const compare = (name: string, fields: string) => `  - name: ${name}\n    compare: { url: "http://127.0.0.1:1", canary: a, baseline: b, minSamples: 5${fields} }\n`;
const gate = (checks: string, top = '') => {
  const { config } = parseGate(`${top}checks:\n${checks}`, 'gate.yml');
  return { checks: config.checks as CompareCheck[], judgement: new CanaryJudgement(config.score) };
};
const same = [1, 2, 3, 4, 5];
const up = [11, 12, 13, 14, 15];
const samples = (canary: number[], baseline: number[]) => ({ kind: 'samples' as const, canary, baseline, durationMs: 2 });
const brief = (ms: Measurement[]) => ms.map((m) => [m.check, m.outcome, m.message, m.decisive]);

describe('acceptance-gate canary judgement over evaluations', () => {
  it('classifies each reading with all values so far, saying how many came and while it collects', () => {
    const { checks: [errors], judgement } = gate(compare('errors', ''));
    const first = judgement.record(errors, samples([1, 2], [1, 2]));
    assert.deepEqual([first.outcome, first.value, first.message, first.durationMs],
      ['inconclusive', 'collecting (2 canary, 2 baseline values)', 'collecting: 2 canary and 2 baseline values so far, minSamples 5 on each side', 2]);
    const second = judgement.record(errors, samples([13, 14, 15], [3, 4, 5]));
    assert.deepEqual([second.outcome, second.value, second.message],
      ['passed', 'Pass (5 canary, 5 baseline values)', 'Pass: canary median 13, baseline median 3: shift 9.014 (98 % interval -4 to 14) includes no significant change'], 'the first values count too');
    const high = new CanaryJudgement({ pass: 95, marginal: 75 }).record(errors, samples(up, same));
    assert.deepEqual([high.outcome, high.value], ['failed', 'High (5 canary, 5 baseline values)']);
    const { checks: [quiet], judgement: fresh } = gate(compare('quiet', ''));
    const none = fresh.record(quiet, samples([], same));
    assert.deepEqual([none.outcome, none.value, none.message], ['inconclusive', 'NoData (0 canary, 5 baseline values)', 'NoData: no canary values']);
    const pass = fresh.record(quiet, samples(same, same));
    assert.deepEqual([pass.outcome, pass.value, pass.message], ['passed', 'Pass (5 canary, 10 baseline values)', 'Pass: canary median 3, baseline median 3: shift 0 (98 % interval -3 to 3) includes no significant change']);
    assert.deepEqual(fresh.record(quiet, { kind: 'error', message: 'refused', durationMs: 1 }), { check: 'quiet', durationMs: 1, outcome: 'error', value: undefined, message: 'refused', fatal: undefined });
  });

  it('scores the compare checks of an evaluation together, weights included, and leaves other checks alone', () => {
    const { checks, judgement } = gate(compare('errors', ', weight: 60') + compare('latency', ''));
    const health: Measurement = { check: 'health', outcome: 'passed', message: '200', durationMs: 1 };
    const ms = [judgement.record(checks[0], samples(same, same)), health, judgement.record(checks[1], samples(up, same))];
    assert.deepEqual(brief(judgement.settle(checks, ms)), [
      ['errors', 'failed', 'Pass: canary median 3, baseline median 3: the samples are identical; score 60 of 100 (\'latency\' High): Fail (pass 95, marginal 75)', undefined],
      ['health', 'passed', '200', undefined],
      ['latency', 'failed', 'High: canary median 13, baseline median 3: shift 10 (98 % interval 6 to 14) lies above zero, mean ratio 4.333; score 60 of 100 (\'latency\' High): Fail (pass 95, marginal 75)', undefined],
    ]);
    const marginal = gate(compare('errors', ', weight: 80') + compare('latency', ''), 'score: { pass: 90, marginal: 80 }\n');
    const mm = [marginal.judgement.record(marginal.checks[0], samples(same, same)), marginal.judgement.record(marginal.checks[1], samples(up, same))];
    assert.deepEqual(marginal.judgement.settle(marginal.checks, mm).map((m) => m.outcome), ['inconclusive', 'inconclusive']);
    const passing = gate(compare('errors', ''));
    const pm = [passing.judgement.record(passing.checks[0], samples(same, same))];
    assert.deepEqual(brief(passing.judgement.settle(passing.checks, pm)), [['errors', 'passed', 'Pass: canary median 3, baseline median 3: the samples are identical; score 100 of 100: Pass (pass 95, marginal 75)', undefined]]);
    assert.deepEqual(judgement.settle(checks, [health]), [health], 'no compare check measured: nothing to score');
  });

  it('waits for every compare check to have its minSamples before it scores', () => {
    const { checks, judgement } = gate(compare('errors', '') + compare('latency', '') + compare('cpu', ''));
    const ms = [judgement.record(checks[0], samples(up, same)), judgement.record(checks[1], samples([1, 2], [1, 2])), judgement.record(checks[2], samples([1], [1]))];
    const settled = judgement.settle(checks, ms);
    assert.deepEqual(brief(settled), [
      ['errors', 'inconclusive', 'High: canary median 13, baseline median 3: shift 10 (98 % interval 6 to 14) lies above zero, mean ratio 4.333; the score waits for \'latency\', \'cpu\' to reach minSamples', undefined],
      ['latency', 'inconclusive', 'collecting: 2 canary and 2 baseline values so far, minSamples 5 on each side', undefined],
      ['cpu', 'inconclusive', 'collecting: 1 canary and 1 baseline values so far, minSamples 5 on each side', undefined],
    ]);
    assert.equal(settled[1], ms[1], 'a collecting check stays as recorded');
  });

  it('fails the canary at once on a critical check that is High or Low, whatever the score', () => {
    for (const [canary, baseline, classification] of [[up, same, 'High'], [same, up, 'Low']] as const) {
      const { checks, judgement } = gate(compare('errors', ', critical: true') + compare('latency', '') + compare('cpu', ''));
      const ms = [judgement.record(checks[0], samples([...canary], [...baseline])), judgement.record(checks[1], samples(same, same)), judgement.record(checks[2], samples([1], [1]))];
      const settled = judgement.settle(checks, ms);
      assert.deepEqual(settled.map((m) => [m.check, m.outcome, m.decisive]), [['errors', 'failed', true], ['latency', 'inconclusive', undefined], ['cpu', 'inconclusive', undefined]], classification);
      assert.match(settled[0].message, new RegExp(`^${classification}: .*; the check is critical, so the canary fails$`));
      assert.equal(settled[1].message, "Pass: canary median 3, baseline median 3: the samples are identical; critical check 'errors' failed the canary");
    }
    const { checks, judgement } = gate(compare('errors', ', critical: true') + compare('latency', ''));
    const calm = [judgement.record(checks[0], samples(same, same)), judgement.record(checks[1], samples(up, same))];
    assert.deepEqual(judgement.settle(checks, calm).map((m) => [m.outcome, m.decisive]), [['failed', undefined], ['failed', undefined]], 'a critical check that passes decides nothing alone');
  });

  it('scores a check it was not told about as unweighted and not critical, and passes no data through as it is', () => {
    const { checks, judgement } = gate(compare('errors', ', weight: 100, critical: true') + compare('latency', ''));
    const ms = [judgement.record(checks[0], samples(same, same)), judgement.record(checks[1], samples(up, same))];
    assert.deepEqual(judgement.settle([], ms).map((m) => m.outcome), ['failed', 'failed'], 'neither weighted nor critical: one High of two fails the score');
    const empty = gate(compare('errors', ''));
    const nothing = [empty.judgement.record(empty.checks[0], samples([], []))];
    assert.deepEqual(empty.judgement.settle(empty.checks, nothing), nothing);
  });
});
