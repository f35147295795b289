import { strict as assert } from 'node:assert';
import { parseGate, type CheckConfig, type GateConfig } from '../../tasks/acceptance-gate/config';
import { evaluate, ExpressionError, parseExpression, type Value } from '../../tasks/acceptance-gate/expression';
import { runGate } from '../../tasks/acceptance-gate/gate';
import { judge, type Measurement, type Outcome } from '../../tasks/acceptance-gate/judge';
import { readJUnit } from '../../tasks/acceptance-gate/junit';
import { silentLog } from '../../tasks/common/log';

const check = (yaml: string): CheckConfig => parseGate(`checks:\n  - name: c\n    prometheus: { url: "http://127.0.0.1:9090", query: up }\n${yaml}`, 'test').config.checks[0];

describe('acceptance-gate conditions', () => {
  it('parses and evaluates comparisons, &&, ||, ! and parentheses', () => {
    const cases: [string, number, boolean][] = [
      ['result < 0.01', 0.005, true],
      ['result < 0.01', 0.02, false],
      ['result >= 0.95 && result <= 1', 0.97, true],
      ['!(result > 3) || result == 10', 10, true],
      ['!(result > 3) || result == 10', 5, false],
      ['result != -1', -1, false],
      ['isNaN(result) || result > 2', NaN, true],
    ];
    for (const [source, value, expected] of cases) assert.equal(evaluate(parseExpression(source), value).every, expected, `${source} on ${value}`);
  });

  it('judges a vector series by series unless the expression reads the list', () => {
    const tree = parseExpression('result < 0.01');
    assert.deepEqual(evaluate(tree, [0.001, 0.02]), { every: false, some: true });
    assert.deepEqual(evaluate(parseExpression('len(result) == 0 || result[0] < 1'), []), { every: true, some: true });
  });

  it('never evaluates code, and says what to write instead', () => {
    for (const [source, message] of [
      ['result = 1', /'=' at column 8 is not an operator: write '=='/],
      ['process.exit(1)', /unexpected '\.' at column 8/],
      ['exit(1)', /unknown name 'exit' at column 1: conditions speak of 'result'/],
      ['result < 1 < 2', /comparisons cannot be chained/],
      ['result < 0.01 result', /join conditions with '&&' or '\|\|'/],
      ['(result < 1', /expected '\)' but found the end/],
      ['result & 1', /write '&&'/],
      ['', /empty/],
    ] as [string, RegExp][]) {
      assert.throws(() => parseExpression(source), message, source);
    }
  });

  it('classifies measurements as Argo does', () => {
    assert.equal(judge(check('    successCondition: result < 1'), 0.5).outcome, 'passed');
    assert.equal(judge(check('    successCondition: result < 1'), 2).outcome, 'failed');
    assert.equal(judge(check('    failureCondition: result > 5'), 6).outcome, 'failed');
    assert.equal(judge(check('    failureCondition: result > 5'), 4).outcome, 'passed');
    const both = check('    successCondition: result < 1\n    failureCondition: result > 5');
    assert.equal(judge(both, 3).outcome, 'inconclusive');
    assert.equal(judge(both, [0.1, 6]).outcome, 'failed', 'one failing series fails the vector');
    assert.equal(judge(check('    successCondition: result < 1'), [0.1, 2]).outcome, 'failed', 'a vector passes only when every series passes');
    assert.deepEqual(judge(check('    successCondition: result[0] < 1'), []), { outcome: 'error', message: "could not evaluate successCondition 'result[0] < 1' on []: result has no element 0 (it holds 0)" });
  });
});

describe('acceptance-gate conditions, token by token', () => {
  const holds = (source: string, result: Value = 0) => evaluate(parseExpression(source), result).every;
  const refusal = (source: string) => {
    try {
      parseExpression(source);
    } catch (err) {
      assert.ok(err instanceof ExpressionError, String(err));
      return [err.message, err.column];
    }
    return assert.fail(`parsed: ${source}`);
  };
  const evaluationError = (source: string, result: Value): string => {
    const tree = parseExpression(source);
    try {
      evaluate(tree, result);
    } catch (err) {
      return (err as Error).message;
    }
    return assert.fail(`evaluated: ${source}`);
  };

  it('reads numbers in every notation, negative numbers, text in either quotes, and spaces anywhere', () => {
    for (const [source, value] of [['result == 1.', 1], ['result == 1.5', 1.5], ['result == .5', 0.5], ['result == 1e3', 1000], ['result == 1.5E-2', 0.015],
      ['result == .5e+1', 5], ['result == -2', -2], ['result == 12', 12]] as [string, number][]) {
      assert.equal(holds(source, value), true, source);
      assert.equal(holds(source, value + 1), false, `${source} on ${value + 1}`);
    }
    assert.equal(holds("result == 'a b'", 'a b'), true);
    assert.equal(holds('result == "it\'s"', "it's"), true);
    assert.equal(holds(' \tresult\n<\r\n1 ', 0), true);
    assert.equal(holds('result==1&&!(result!=1)', 1), true, 'operators need no spaces around them');
  });

  it('knows true, false and null, and compares lists and objects by their contents', () => {
    assert.equal(holds('result == true', true), true);
    assert.equal(holds('result == false', true), false);
    assert.equal(holds('result == null', null), true);
    assert.equal(holds('result != null', 0), true);
    assert.equal(holds('true', 0), true);
    assert.equal(holds('false || !false', 0), true);
    assert.equal(holds('result[1] == result[0]', [{ a: [1] }, { a: [1] }]), true);
    assert.equal(holds('result[1] != result[0]', [{ a: [1] }, { a: [2] }]), true);
    assert.equal(holds('result[0][1] == 3', [[2, 3]]), true, 'an index of an index');
  });

  it('compares numbers and texts at their boundaries', () => {
    const cases: [string, Value, boolean][] = [
      ['result < 1', 1, false], ['result <= 1', 1, true], ['result > 1', 1, false], ['result >= 1', 1, true],
      ['result < 1', 0.99, true], ['result <= 1', 1.01, false], ['result > 1', 1.01, true], ['result >= 1', 0.99, false],
      ["result < 'b'", 'a', true], ["result < 'b'", 'b', false], ["result <= 'b'", 'b', true], ["result <= 'b'", 'c', false],
      ["result > 'b'", 'c', true], ["result > 'b'", 'b', false], ["result >= 'b'", 'b', true], ["result >= 'b'", 'a', false],
      ["result == 'b'", 'b', true], ["result != 'b'", 'b', false], ['result == 1', '1', false], ['result == result', NaN, false],
    ];
    for (const [source, result, expected] of cases) assert.equal(holds(source, result), expected, `${source} on ${JSON.stringify(result)}`);
  });

  it('binds ! before && before ||, and evaluates the right side only when it decides', () => {
    assert.equal(holds('result > 1 || result < 0 && false', 2), true);
    assert.equal(holds('false && true || true', 0), true);
    assert.equal(holds('!false && false', 0), false);
    assert.equal(holds('!!true', 0), true);
    assert.equal(holds('(false || true) && true', 0), true);
    assert.equal(holds('len(result) == 0 || result[0] > 1', []), true, 'the right side is not read');
    assert.equal(holds('len(result) > 0 && result[0] > 1', []), false, 'the right side is not read');
    assert.equal(holds('len(result) == 1 && result[0] > 1', [2]), true);
    assert.equal(holds('len(result) == 2 || result[0] > 1', [2]), true);
  });

  it('offers len() of a list or a text and isNaN(), and reads a vector whole only where the condition asks for it', () => {
    assert.equal(holds('len(result) == 3', 'abc'), true);
    assert.equal(holds('len(result) == 2', [5, 6]), true);
    assert.equal(holds('isNaN(result)', NaN), true);
    assert.equal(holds('isNaN(result)', 'NaN'), false);
    assert.deepEqual(evaluate(parseExpression('isNaN(result)'), [NaN, 1]), { every: false, some: true }, 'isNaN of each series');
    assert.deepEqual(evaluate(parseExpression('isNaN(result[1])'), [1, NaN]), { every: true, some: true });
    assert.deepEqual(evaluate(parseExpression('!(len(result) > 1)'), [1, 2]), { every: false, some: false });
    assert.deepEqual(evaluate(parseExpression('0 < len(result)'), [1, 2]), { every: true, some: true });
    assert.deepEqual(evaluate(parseExpression('result > 1'), [2, 3]), { every: true, some: true });
    assert.deepEqual(evaluate(parseExpression('result > 1'), [0, 1]), { every: false, some: false });
    assert.deepEqual(evaluate(parseExpression('result > 1'), []), { every: true, some: false }, 'an empty vector: no series fails, none passes');
    assert.deepEqual(evaluate(parseExpression('!(result > 1)'), [0, 2]), { every: false, some: true });
  });

  it('says what cannot be evaluated, naming the value', () => {
    assert.equal(evaluationError('result[0] > 1', 5), 'cannot index 5');
    assert.equal(evaluationError('result[2] > 1', [1, 2]), 'result has no element 2 (it holds 2)');
    assert.equal(evaluationError('!result', 1), "1 is not true or false: compare it, e.g. 'result < 0.01'");
    assert.equal(evaluationError('result', 'yes'), "the text 'yes' is not true or false: compare it, e.g. 'result < 0.01'");
    assert.equal(evaluationError('len(result) > 1', 3), 'len() needs a list or text, not 3');
    assert.equal(evaluationError('result < 1', 'a'), "cannot compare the text 'a' < 1");
    assert.equal(evaluationError('result <= 1', null), 'cannot compare null <= 1');
    assert.equal(evaluationError('result > 1', { a: 1 }), 'cannot compare an object > 1');
    assert.equal(evaluationError('result[0] >= 1', [[1, 2]]), 'cannot compare a list of 2 >= 1');
    assert.equal(evaluationError("result < 'a'", true), "cannot compare true < the text 'a'");
    assert.equal(evaluationError("result < 'a'", 1), "cannot compare 1 < the text 'a'");
  });

  it('refuses what is not a condition with the column and what to write', () => {
    const cases: [string, string, number][] = [
      ["'abc", 'the string that starts at column 1 is not closed', 1],
      ['result < "abc', 'the string that starts at column 10 is not closed', 10],
      ['result_2 > 1', "unknown name 'result_2' at column 1: conditions speak of 'result' (and len(), isNaN())", 1],
      ['result = 1', "'=' at column 8 is not an operator: write '==' to compare", 8],
      ['result & 1', "'&' at column 8 is not an operator: write '&&'", 8],
      ['result | 1', "'|' at column 8 is not an operator: write '||'", 8],
      ['result # 1', "unexpected '#' at column 8", 8],
      ['result < 1 < 2', "comparisons cannot be chained ('<' at column 12): join them with '&&'", 12],
      ['result == 1 != 2', "comparisons cannot be chained ('!=' at column 13): join them with '&&'", 13],
      ['result < 1 result', "unexpected 'result' at column 12: join conditions with '&&' or '||'", 12],
      ['(result < 1', "expected ')' but found the end of the expression", 12],
      ['- result > 1', "expected a value, 'result' or '(' but found '-' at column 1", 1],
      [')', "expected a value, 'result' or '(' but found ')' at column 1", 1],
      ['result <', "expected a value, 'result' or '(' but found the end of the expression", 9],
      ['len result', "expected '(' but found 'result' at column 5", 5],
      ['isNaN(result', "expected ')' but found the end of the expression", 13],
      ['result[1.5] > 1', "an index must be a whole number, not '1.5' at column 8", 8],
      ['result[-1] > 1', "an index must be a whole number, not '-' at column 8", 8],
      ['result[0 > 1', "expected ']' but found '>' at column 10", 10],
      ['2e > 1', "unexpected 'e' at column 2: join conditions with '&&' or '||'", 2],
      ['', 'the condition is empty', 1],
      ['   ', 'the condition is empty', 1],
    ];
    for (const [source, message, column] of cases) assert.deepEqual(refusal(source), [message, column], source);
  });
});

describe('acceptance-gate configuration', () => {
  const fails = (yaml: string, message: RegExp) => assert.throws(() => parseGate(yaml, "input 'gate'"), message);

  it('reads the DESIGN example with its defaults', () => {
    const { config } = parseGate(`
checks:
  - name: health
    http: { url: https://staging.example.com/healthz, method: GET, headers: {}, timeout: 5 }
    expect: { status: [200], bodyContains: ok, json: { path: $.status, equals: healthy }, maxLatencyMs: 500 }
  - name: error ratio
    prometheus: { url: https://ws-abcd.eastus.prometheus.monitor.azure.com, query: 'sum(rate(x[5m]))' }
    successCondition: result < 0.01
    onNoData: inconclusive
  - name: api suite
    command: { run: npm run test:acceptance, workingDirectory: ., junit: results/*.xml, timeout: 300 }
`, 'test');
    assert.equal(config.timeoutSeconds, 600);
    assert.equal(config.intervalSeconds, 15);
    assert.equal(config.requiredSuccesses, 3);
    assert.equal(config.failureLimit, 0);
    assert.equal(config.consecutiveErrorLimit, 4);
    assert.equal(config.onInconclusive, 'fail');
    assert.equal(config.checks[1].kind === 'prometheus' && config.checks[1].azureMonitor, true, 'an Azure Monitor endpoint is recognised by its host');
    assert.deepEqual(config.checks[0].kind === 'http' && config.checks[0].expect, { status: [200], bodyContains: 'ok', json: { path: '$.status', equals: 'healthy' }, maxLatencyMs: 500 });
  });

  it('sends a mapping body as JSON', () => {
    const c = parseGate('checks:\n  - name: a\n    http: { url: "http://x", method: POST, body: { order: 1 } }\n', 'test').config.checks[0];
    assert.equal(c.kind === 'http' && c.body, '{"order":1}');
    assert.deepEqual(c.kind === 'http' && c.headers, { 'content-type': 'application/json' });
  });

  it('accepts durations with units', () => {
    const { config } = parseGate('timeout: 5m\ninterval: 500ms\ninitialDelay: 2s\nchecks:\n  - name: a\n    command: { run: "true" }\n', 'test');
    assert.deepEqual([config.timeoutSeconds, config.intervalSeconds, config.initialDelaySeconds], [300, 0.5, 2]);
  });

  it('rejects bad input with the line and the fix', () => {
    fails('checks:\n  - name: a\n    http: { url: "http://x" }\n    expct: {}\n', /line 4: unknown key 'expct' in a check\. Did you mean 'expect'\?/);
    fails('checks:\n  - name: a\n    http: { url: "http://x", methd: GET }\n', /line 3: unknown key 'methd' in check 'a': http\. Did you mean 'method'\?/);
    fails('checks: []\n', /line 1: 'checks' must be a list with at least one check/);
    fails('timeout: 10\n', /the gate has no 'checks'/);
    fails('checks:\n  - name: a\n', /line 2: check 'a' must have exactly one of http, prometheus, command or compare\./);
    fails('checks:\n  - name: a\n    http: { url: "x" }\n    command: { run: ls }\n', /exactly one of http, prometheus, command or compare, not http and command/);
    fails('checks:\n  - name: a\n    http: { url: "ftp://x" }\n', /line 3: check 'a': http url must use https or http/);
    fails('checks:\n  - name: a\n    command: { run: ls }\n    onNoData: fail\n', /line 4: check 'a': 'onNoData' applies to prometheus and compare checks only/);
    fails('onInconclusive: maybe\nchecks:\n  - name: a\n    command: { run: ls }\n', /line 1: 'onInconclusive' must be one of fail, pass, warn, not 'maybe'/);
    fails('checks:\n  - name: a\n    command: { run: ls }\n  - name: a\n    command: { run: ls }\n', /line 4: two checks are named 'a'/);
    fails('checks:\n  - name: a\n    http: { url: "http://x" }\n    expect: { json: { path: status } }\n', /line 4: check 'a': expect.json.path 'status' is not a JSON path/);
    fails('checks:\n  - name: a\n    http: { url: "http://x" }\n    successCondition: result <\n', /line 4: check 'a': successCondition 'result <' is not a valid condition: expected a value/);
    fails('checks:\n  - name: a\n   http: {\n', /line \d+: it is not valid YAML/);
    fails('checks:\n  - name: a\n    http: { url: "http://x", method: GET, body: "x" }\n', /a GET request cannot have a body/);
  });

  it('resolves $(variables) of a gate file and collects the secret ones', () => {
    const vars: Record<string, { value: string; secret: boolean }> = { key: { value: 's3cret', secret: true }, host: { value: 'example.com', secret: false } };
    const parsed = parseGate('checks:\n  - name: a\n    http: { url: "https://$(host)/x", headers: { x-api-key: $(key) } }\n', 'test', (n) => vars[n]);
    const c = parsed.config.checks[0];
    assert.equal(c.kind === 'http' && c.url, 'https://example.com/x');
    assert.deepEqual(c.kind === 'http' && c.headers, { 'x-api-key': 's3cret' });
    assert.deepEqual(parsed.secrets, ['s3cret']);
    assert.throws(() => parseGate('checks:\n  - name: a\n    http: { url: "https://$(nope)/x" }\n', 'test', (n) => vars[n]), /line 3: the variable 'nope' in '\$\(nope\)' is not set in this job/);
  });
});

describe('acceptance-gate JUnit reader', () => {
  it('reads test cases of several dialects, tolerantly', () => {
    const cases = readJUnit(`<?xml version="1.0"?>
<!-- <testcase name="commented out"/> -->
<testsuites>
  <testsuite name="outer"><testsuite name="inner">
    <testcase name="ok" classname="a.B" time="0.5"/>
    <testcase classname='a.B' name='fails &lt;badly&gt;'><failure><![CDATA[expected 1
got 2]]></failure></testcase>
    <testcase name="errs"><error message="boom" type="Error"/></testcase>
    <testcase name="skips"><skipped/></testcase>
  </testsuite></testsuite>
</testsuites>`);
    assert.deepEqual(cases.map((c) => [c.suite, c.name, c.outcome, c.message]), [
      ['inner', 'ok', 'passed', undefined],
      ['inner', 'fails <badly>', 'failed', 'expected 1'],
      ['inner', 'errs', 'error', 'boom'],
      ['inner', 'skips', 'skipped', undefined],
    ]);
    assert.equal(cases[0].timeSeconds, 0.5);
    assert.deepEqual(readJUnit('not xml at all'), []);
  });
});

describe('acceptance-gate decision rules', () => {
  const base = (over: Partial<GateConfig>): GateConfig => ({
    timeoutSeconds: 5, initialDelaySeconds: 0, intervalSeconds: 0.01, requiredSuccesses: 1, failureLimit: 0,
    consecutiveErrorLimit: 4, onInconclusive: 'fail', score: { pass: 95, marginal: 75 }, checks: [check('')], ...over,
  });
  /** A measure that answers with the given outcomes, one per evaluation, repeating the last. */
  const scripted = (outcomes: Outcome[]) => {
    let i = 0;
    return async (): Promise<Measurement> => {
      const outcome = outcomes[Math.min(i++, outcomes.length - 1)];
      return { check: 'c', outcome, message: `was ${outcome}`, durationMs: 0 };
    };
  };

  it('succeeds at requiredSuccesses consecutive passes; a failure in between restarts the count', async () => {
    const v = await runGate(base({ requiredSuccesses: 2, failureLimit: 5 }), scripted(['passed', 'failed', 'passed', 'passed', 'failed']), silentLog);
    assert.equal(v.result, 'Succeeded');
    assert.equal(v.evaluations.length, 4);
  });

  it('fails as soon as failed evaluations exceed failureLimit', async () => {
    const v = await runGate(base({ requiredSuccesses: 3, failureLimit: 1 }), scripted(['failed', 'passed', 'failed', 'passed']), silentLog);
    assert.equal(v.result, 'Failed');
    assert.equal(v.evaluations.length, 3);
    assert.match(v.reason, /'c' was failed in 2 of 3 evaluations: 2 failed evaluations, more than the failureLimit of 1/);
  });

  it('counts errors separately and fails on too many in a row', async () => {
    const v = await runGate(base({ consecutiveErrorLimit: 2, requiredSuccesses: 5 }), scripted(['error', 'error', 'passed', 'error', 'error', 'error']), silentLog);
    assert.equal(v.result, 'Failed');
    assert.equal(v.evaluations.length, 6);
    assert.match(v.reason, /3 evaluations in a row could not measure every check, more than the consecutiveErrorLimit of 2/);
  });

  it('ends at the timeout with the worst outcome seen: inconclusive only gives Inconclusive, an error gives Failed', async () => {
    let v = await runGate(base({ timeoutSeconds: 0.2, intervalSeconds: 0.02, requiredSuccesses: 50 }), scripted(['passed', 'inconclusive', 'passed']), silentLog);
    assert.equal(v.result, 'Inconclusive');
    assert.equal(v.timedOut, true);
    assert.match(v.reason, /worst outcome inconclusive/);
    v = await runGate(base({ timeoutSeconds: 0.2, intervalSeconds: 0.02, requiredSuccesses: 50 }), scripted(['passed', 'error', 'passed']), silentLog);
    assert.equal(v.result, 'Failed');
  });

  it('stops early when success can no longer come in time and a failure was already seen', async () => {
    const started = Date.now();
    const v = await runGate(base({ timeoutSeconds: 3, intervalSeconds: 1, requiredSuccesses: 3, failureLimit: 5 }), scripted(['passed', 'failed', 'passed']), silentLog);
    assert.equal(v.result, 'Failed');
    assert.ok(Date.now() - started < 2500, `took ${Date.now() - started} ms`);
    assert.match(v.reason, /cannot reach 3 consecutive passing evaluations before the timeout/);
  });

  it('waits initialDelay before the first evaluation and interval between evaluations', async () => {
    const v = await runGate(base({ initialDelaySeconds: 0.3, intervalSeconds: 0.1, requiredSuccesses: 3 }), scripted(['passed']), silentLog);
    assert.equal(v.result, 'Succeeded');
    assert.ok(v.evaluations[0].atMs >= 295, `first evaluation at ${v.evaluations[0].atMs} ms`);
    assert.ok(v.evaluations[2].atMs - v.evaluations[1].atMs >= 95, 'the interval is kept');
  });

  it('ends at once on a measurement that reveals a configuration error', async () => {
    const v = await runGate(base({ requiredSuccesses: 3 }), async () => ({ check: 'c', outcome: 'error', message: 'Prometheus rejected the query', durationMs: 0, fatal: true }), silentLog);
    assert.equal(v.result, 'Failed');
    assert.equal(v.evaluations.length, 1);
    assert.equal(v.reason, "Check 'c' cannot be evaluated: Prometheus rejected the query.");
  });

  it('runs the checks of an evaluation concurrently', async () => {
    const checks = Array.from({ length: 20 }, (_, i) => ({ ...check(''), name: `c${i}` }));
    const started = Date.now();
    const v = await runGate(base({ checks }), async (c) => {
      await new Promise((r) => setTimeout(r, 100));
      return { check: c.name, outcome: 'passed', message: 'ok', durationMs: 100 };
    }, silentLog);
    assert.equal(v.result, 'Succeeded');
    assert.ok(Date.now() - started < 600, `took ${Date.now() - started} ms`);
  });
});
