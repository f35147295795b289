import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseGate } from '../../../tasks/acceptance-gate/config';
import { run } from '../../../tasks/acceptance-gate/run';
import { silentLog, type TaskLog } from '../../../tasks/common/log';

const fails = (yaml: string, pattern: RegExp) => assert.throws(() => parseGate(yaml, 'test'), pattern);
const compareGate = (body: string, extra = '') => `checks:\n  - name: errors\n    compare: { url: "http://127.0.0.1:1", ${body} }\n${extra}`;

describe('acceptance-gate compare check: configuration', () => {
  it('reads the settings with Kayenta\'s defaults, and {{version}} as canary and baseline', () => {
    const { config } = parseGate(compareGate(`query: 'rate(errors{version="{{version}}"}[1m])'`), 'test');
    const check = config.checks[0];
    assert.equal(check.kind, 'compare');
    if (check.kind !== 'compare') return;
    assert.equal(check.canaryQuery, 'rate(errors{version="canary"}[1m])');
    assert.equal(check.baselineQuery, 'rate(errors{version="baseline"}[1m])');
    assert.deepEqual(check.settings, { direction: 'either', allowedIncrease: 1, allowedDecrease: 1, confidence: 0.98, minSamples: 20 });
    assert.deepEqual([check.critical, check.weight, config.score], [false, undefined, { pass: 95, marginal: 75 }]);
  });

  it('refuses a compare check without both queries, naming what is missing', () => {
    fails(compareGate("canary: 'a'"), /line 3: check 'errors': compare needs 'baseline': a PromQL query for each side/);
    fails(compareGate(''), /compare needs 'canary' and 'baseline'/);
    fails(compareGate("query: 'rate(errors[1m])'"), /compare query has no \{\{version\}\}/);
    fails(compareGate("query: 'a{v=\"{{version}}\"}', canary: 'b'"), /give either 'query' \(with \{\{version\}\}\) or both 'canary' and 'baseline', not both forms/);
  });

  it('refuses an unknown direction and settings out of range', () => {
    fails(compareGate("canary: a, baseline: b, direction: up"), /compare direction must be one of increase, decrease, either, not 'up'/);
    fails(compareGate("canary: a, baseline: b, confidence: 1.5"), /compare confidence must be a number from 0\.5 to 0\.9999, not 1\.5/);
    fails(compareGate("canary: a, baseline: b, allowedIncrease: 0.9"), /allowedIncrease \(a ratio of means, e\.g\. 1\.1 tolerates 10 % more\) must be a number from 1/);
    fails(compareGate("canary: a, baseline: b, allowedDecrease: 1.2"), /allowedDecrease .* must be a number from 0\.001 to 1/);
    fails(compareGate("canary: a, baseline: b, tolerance: 1"), /unknown key 'tolerance'/);
  });

  it('refuses minSamples below what the test can judge at the confidence', () => {
    fails(compareGate('canary: a, baseline: b, minSamples: 4'), /minSamples 4 is too few for the test at confidence 0\.98: below 5 values on each side .* Use at least 5/);
    fails(compareGate('canary: a, baseline: b, minSamples: 5, confidence: 0.99'), /Use at least 6/);
    assert.doesNotThrow(() => parseGate(compareGate('canary: a, baseline: b, minSamples: 5'), 'test'));
  });

  it('refuses conditions on a compare check, weights beyond 100 and a marginal score above pass', () => {
    fails(compareGate('canary: a, baseline: b', '    successCondition: result < 1\n'), /judged by comparing the canary with its baseline .* not by 'successCondition'/);
    const two = (a: number, b: number) => `checks:\n  - name: a\n    compare: { url: "http://h", canary: a, baseline: b, weight: ${a} }\n  - name: b\n    compare: { url: "http://h", canary: a, baseline: b, weight: ${b} }\n`;
    fails(two(60, 60), /weights of the compare checks add up to 120 \('a' 60, 'b' 60\)/);
    fails(two(30, 30), /when every compare check has a weight they must total 100/);
    fails(`score: { pass: 70, marginal: 80 }\n${compareGate('canary: a, baseline: b')}`, /'score' marginal 80 is above pass 70/);
  });
});

// A Prometheus stand-in: each query's answer comes from the test's function of the query and the call count.
describe('acceptance-gate compare check: the gate judges canary against baseline over its evaluations', () => {
  let server: http.Server;
  let url: string;
  let answer: (query: string, call: number) => number[] = () => [];
  const calls = new Map<string, number>();
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        const query = new URLSearchParams(body).get('query') ?? '';
        const call = (calls.get(query) ?? 0) + 1;
        calls.set(query, call);
        const result = answer(query, call).map((v, i) => ({ metric: { pod: `p${i}` }, value: [1, String(v)] }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => calls.clear());

  const gate = (settings: string, extra = '') => `interval: 0\nrequiredSuccesses: 2\ntimeout: 20\n${extra}checks:\n`
    + `  - name: errors\n    compare: { url: "${url}", query: 'err{v="{{version}}"}', direction: increase, minSamples: 6${settings} }\n`;
  const level = (query: string, call: number, canary: number, baseline: number) => {
    const jitter = 1 + (((call * 7) % 11) - 5) / 100;
    return [(query.includes('canary') ? canary : baseline) * jitter, (query.includes('canary') ? canary : baseline) / jitter];
  };
  const runGate = (yaml: string, log: TaskLog = silentLog) => run({ gateYaml: yaml, gateSource: 'test', publishTestResults: true, variables: () => undefined, workingDirectory: '.' }, log);

  it('passes a canary as good as its baseline once minSamples are in, and shows the medians and interval', async () => {
    answer = (q, call) => level(q, call, 0.01, 0.0101);
    const lines: string[] = [];
    const outcome = await runGate(gate(''), { ...silentLog, info: (m) => lines.push(m) });
    assert.equal(outcome.gateResult, 'Succeeded');
    // Two values per side per evaluation: three evaluations to reach 6, then two passes in a row.
    assert.equal(outcome.verdict.evaluations.length, 4);
    assert.match(lines.find((l) => l.startsWith('Evaluation 1'))!, /errors: inconclusive \(collecting: 2 canary and 2 baseline values so far, minSamples 6/);
    assert.match(lines.find((l) => l.startsWith('Evaluation 4'))!, /Pass: canary median 0\.01, baseline median 0\.0101: shift .* \(98 % interval .*\) includes no significant change; score 100 of 100: Pass/);
    assert.match(outcome.summary, /#### Canary against baseline\n\n\| check \| canary median \| baseline median \| shift \(interval\) \| p-value \| values \| class \|\n\|---.*\n\| errors \| 0\.01 \| 0\.0101 \| .* \| 8 \/ 8 \| Pass \|/);
    assert.match(outcome.junit, /<testcase name="errors" classname="acceptance-gate.compare"[^>]*><system-out>compare: err\{v=&quot;canary&quot;\} vs err\{v=&quot;baseline&quot;\}/);
    assert.match(outcome.junit, /#4 passed: Pass \(8 canary, 8 baseline values\); Pass: canary median 0\.01, baseline median 0\.0101: shift .*interval/);
  });

  it('fails a canary with a higher error ratio as soon as it has minSamples, naming both medians', async () => {
    answer = (q, call) => level(q, call, 0.1, 0.01);
    const outcome = await runGate(gate(''));
    assert.equal(outcome.gateResult, 'Failed');
    assert.equal(outcome.verdict.evaluations.length, 3);
    assert.match(outcome.reason, /'errors' High: canary median 0\.1\d*, baseline median 0\.01\d*: shift .* lies above zero, mean ratio 10; score 0 of 100 \('errors' High\): Fail/);
    assert.match(outcome.junit, /<failure message="failed in 1 of 3 evaluations: High: canary median/);
  });

  it('ends a canary between marginal and pass Inconclusive', async () => {
    answer = (q, call) => (q.includes('lat') ? level(q, call, 100, 100.5) : level(q, call, 0.1, 0.01));
    const yaml = `interval: 0\nrequiredSuccesses: 2\ntimeout: 2\nscore: { pass: 90, marginal: 70 }\nchecks:\n`
      + `  - name: errors\n    compare: { url: "${url}", query: 'err{v="{{version}}"}', direction: increase, minSamples: 6, weight: 20 }\n`
      + `  - name: latency\n    compare: { url: "${url}", query: 'lat{v="{{version}}"}', direction: increase, minSamples: 6 }\n`;
    const outcome = await runGate(yaml);
    assert.equal(outcome.gateResult, 'Inconclusive');
    assert.match(outcome.reason, /score 80 of 100 \('errors' High\): Marginal \(pass 90, marginal 70\)/);
  });

  it('fails at once on a critical check, whatever failureLimit allows', async () => {
    answer = (q, call) => level(q, call, 0.1, 0.01);
    const outcome = await runGate(gate(', critical: true', 'failureLimit: 5\n'));
    assert.equal(outcome.gateResult, 'Failed');
    assert.equal(outcome.verdict.evaluations.length, 3);
    assert.match(outcome.reason, /^Check 'errors' is critical and failed: High: /);
  });

  it('follows onNoData when a query returns nothing', async () => {
    answer = (q) => (q.includes('canary') ? [] : [0.01]);
    const outcome = await runGate(gate('', 'failureLimit: 0\n').replace("minSamples: 6 }\n", 'minSamples: 6 }\n    onNoData: fail\n'));
    assert.equal(outcome.gateResult, 'Failed');
    assert.match(outcome.reason, /no data: the canary query returned no numbers \(onNoData: fail\)/);
  });
});
