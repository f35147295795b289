import { strict as assert } from 'node:assert';
import { parseGate, type CheckConfig, type GateConfig } from '../../tasks/acceptance-gate/config';
import { evaluate, ExpressionError, parseExpression, type Value } from '../../tasks/acceptance-gate/expression';
import { runGate } from '../../tasks/acceptance-gate/gate';
import { judge, type Measurement, type Outcome } from '../../tasks/acceptance-gate/judge';
import { readJUnit } from '../../tasks/acceptance-gate/junit';
import { UserError } from '../../tasks/common/errors';
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
      ['result == .5e+1', 5], ['result == -2', -2], ['result == 12', 12], ['result == 1.25', 1.25], ['result == .25', 0.25], ['result == 1e10', 1e10],
      ['result == .5e1', 5], ['result == 2.5e-10', 2.5e-10]] as [string, number][]) {
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
    assert.equal(holds('result[10] == 10', Array.from({ length: 11 }, (_, i) => i)), true, 'an index of two digits');
    assert.equal(holds('result == null', NaN), false, 'NaN is a number, not null');
    assert.equal(holds('result[0] == result[1]', [1, '1']), false);
    assert.equal(holds('result[0] == result[1]', [null, NaN]), false);
    assert.equal(holds('result[0] != result[1]', [null, NaN]), true);
    assert.equal(holds("result != '1'", 1), true);
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
    assert.equal(holds('isNaN(result)', null), false);
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
      ["result '||' true", "unexpected '||' at column 8: join conditions with '&&' or '||'", 8],
      ["result '&&' true", "unexpected '&&' at column 8: join conditions with '&&' or '||'", 8],
      ["'!' true", "unexpected 'true' at column 5: join conditions with '&&' or '||'", 5],
      ["result '<' 1", "unexpected '<' at column 8: join conditions with '&&' or '||'", 8],
      ["result < 1 '<' 2", "unexpected '<' at column 12: join conditions with '&&' or '||'", 12],
      ["'(' result < 1", "unexpected 'result' at column 5: join conditions with '&&' or '||'", 5],
      ["'-' 1 == result", "unexpected '1' at column 5: join conditions with '&&' or '||'", 5],
      ['result < ) 1', "expected a value, 'result' or '(' but found ')' at column 10", 10],
      ["result '[' 0] > 1", "unexpected '[' at column 8: join conditions with '&&' or '||'", 8],
      ["result['0'] > 1", "an index must be a whole number, not '0' at column 8", 8],
      ["(result < 1 ')'", "expected ')' but found ')' at column 13", 13],
      ['result <= 1 <= 2', "comparisons cannot be chained ('<=' at column 13): join them with '&&'", 13],
      ['result > 1 > 2', "comparisons cannot be chained ('>' at column 12): join them with '&&'", 12],
      ['result >= 1 >= 2', "comparisons cannot be chained ('>=' at column 13): join them with '&&'", 13],
      ['result == 1 == 2', "comparisons cannot be chained ('==' at column 13): join them with '&&'", 13],
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

describe('acceptance-gate configuration, every refusal in its words', () => {
  const P = 'checks:\n  - name: a\n    prometheus: { url: "http://127.0.0.1:9090", query: up }\n';
  const C = (fields: string, extra = '') => `checks:\n  - name: a\n    command: { run: ls${fields} }\n${extra}`;
  const refusal = (yaml: string) => {
    try {
      parseGate(yaml, 'gate.yml');
    } catch (err) {
      assert.ok(err instanceof UserError, String(err));
      return err.message.replace(/^The gate \(gate\.yml\) /, '');
    }
    return assert.fail(`accepted: ${yaml}`);
  };
  const KEYS = 'timeout, initialDelay, interval, requiredSuccesses, failureLimit, inconclusiveLimit, consecutiveErrorLimit, onInconclusive, score, checks';

  it('reads every setting of the gate, with units or seconds', () => {
    const { config } = parseGate(`timeout: 1.5h\ninitialDelay: " 3s "\ninterval: 0\nrequiredSuccesses: 1\nfailureLimit: 2\ninconclusiveLimit: 0\nconsecutiveErrorLimit: 0\nonInconclusive: warn\nscore: { pass: 80, marginal: 80 }\n${P}`, 'gate.yml');
    assert.deepEqual({ ...config, checks: config.checks.length }, {
      timeoutSeconds: 5400, initialDelaySeconds: 3, intervalSeconds: 0, requiredSuccesses: 1, failureLimit: 2, inconclusiveLimit: 0,
      consecutiveErrorLimit: 0, onInconclusive: 'warn', score: { pass: 80, marginal: 80 }, checks: 1,
    });
    const defaults = parseGate(P, 'gate.yml').config;
    assert.deepEqual([defaults.initialDelaySeconds, defaults.inconclusiveLimit, defaults.score], [0, undefined, { pass: 95, marginal: 75 }]);
    assert.deepEqual(parseGate(`score: { pass: 90 }\n${P}`, 'gate.yml').config.score, { pass: 90, marginal: 75 });
    assert.deepEqual(parseGate(`score: { marginal: 10 }\n${P}`, 'gate.yml').config.score, { pass: 95, marginal: 10 });
    assert.deepEqual(parseGate(`timeout: 250ms\ninterval: 2m\n${P}`, 'gate.yml').config.timeoutSeconds, 0.25);
    assert.deepEqual(parseGate(`timeout: 1s\ninterval: 2m\n${P}`, 'gate.yml').config.intervalSeconds, 120);
    assert.equal(parseGate(`checks:\n  - name: 7\n    command: { run: ls }\n`, 'gate.yml').config.checks[0].name, '7', 'a number is a name too');
  });

  it('refuses numbers and durations out of range, naming the range', () => {
    assert.equal(refusal(`timeout: soon\n${P}`), "line 1: 'timeout' must be seconds (a number) or a duration such as 30s, 5m or 500ms, not 'soon'.");
    assert.equal(refusal(`timeout: .5s\n${P}`), "line 1: 'timeout' must be seconds (a number) or a duration such as 30s, 5m or 500ms, not '.5s'.");
    assert.equal(refusal(`timeout: 5 s\n${P}`), "line 1: 'timeout' must be seconds (a number) or a duration such as 30s, 5m or 500ms, not '5 s'.");
    assert.equal(refusal(`timeout: 0\n${P}`), "line 1: 'timeout' (seconds) must be a number from 0.001 up, not 0.");
    assert.equal(refusal(`timeout: 0ms\n${P}`), "line 1: 'timeout' must be at least 0.001 seconds.");
    assert.equal(refusal(`initialDelay: -1\n${P}`), "line 1: 'initialDelay' (seconds) must be a number from 0 up, not -1.");
    assert.equal(refusal(`requiredSuccesses: 0\n${P}`), "line 1: 'requiredSuccesses' must be a whole number from 1 up, not 0.");
    assert.equal(refusal(`requiredSuccesses: 1.5\n${P}`), "line 1: 'requiredSuccesses' must be a whole number from 1 up, not 1.5.");
    assert.equal(refusal(`requiredSuccesses: two\n${P}`), "line 1: 'requiredSuccesses' must be a whole number from 1 up, not 'two'.");
    assert.equal(refusal(`failureLimit: -1\n${P}`), "line 1: 'failureLimit' must be a whole number from 0 up, not -1.");
    assert.equal(refusal(`failureLimit:\n${P}`), "line 1: 'failureLimit' must be a whole number from 0 up, not null.");
    assert.equal(refusal(`failureLimit: .inf\n${P}`), "line 1: 'failureLimit' must be a whole number from 0 up, not Infinity.");
    assert.equal(refusal(`inconclusiveLimit: []\n${P}`), "line 1: 'inconclusiveLimit' must be a whole number from 0 up, not a list.");
    assert.equal(refusal(`consecutiveErrorLimit: {}\n${P}`), "line 1: 'consecutiveErrorLimit' must be a whole number from 0 up, not a mapping.");
    assert.equal(refusal(`score: { pass: 101 }\n${P}`), "line 1: 'score' pass must be a number from 0 to 100, not 101.");
    assert.equal(refusal(`score: { marginal: -1 }\n${P}`), "line 1: 'score' marginal must be a number from 0 to 100, not -1.");
    assert.equal(refusal(`score: { marginal: 96 }\n${P}`), "line 1: 'score' marginal 96 is above pass 95: marginal must be at most pass (Spinnaker's defaults are pass 95, marginal 75).");
    assert.equal(refusal(`score: { pass: 50 }\n${P}`), "line 1: 'score' marginal 75 is above pass 50: marginal must be at most pass (Spinnaker's defaults are pass 95, marginal 75).");
    assert.equal(refusal(`score: 5\n${P}`), "line 1: 'score' must be a mapping of keys (pass, marginal).");
    assert.equal(refusal(C(', timeout: 0s')), "line 3: check 'a': command timeout must be at least 0.001 seconds.");
    assert.equal(refusal(`timeout: 5sx\n${P}`), "line 1: 'timeout' must be seconds (a number) or a duration such as 30s, 5m or 500ms, not '5sx'.");
    assert.equal(refusal(`timeout: &t 5\nfailureLimit: *t\n${P}`), "line 2: 'failureLimit' must be a whole number from 0 up, not nothing.", 'an alias is no value of its own');
    assert.equal(parseGate(`timeout: 1ms\ninterval: 1.25s\n${P}`, 'gate.yml').config.timeoutSeconds, 0.001, 'the least timeout');
    assert.equal(parseGate(`timeout: 1ms\ninterval: 1.25s\n${P}`, 'gate.yml').config.intervalSeconds, 1.25);
    assert.equal(refusal(`interval: -1s\n${P}`), "line 1: 'interval' must be seconds (a number) or a duration such as 30s, 5m or 500ms, not '-1s'.");
    assert.equal(refusal(`interval: -1\n${P}`), "line 1: 'interval' (seconds) must be a number from 0 up, not -1.");
  });

  it('refuses unknown, repeated and misplaced keys, suggesting the key meant', () => {
    assert.equal(refusal(`timout: 5\n${P}`), `line 1: unknown key 'timout' in the gate. Did you mean 'timeout'? Allowed keys: ${KEYS}.`);
    assert.equal(refusal(`TIMEOUT: 5\n${P}`), `line 1: unknown key 'TIMEOUT' in the gate. Did you mean 'timeout'? Allowed keys: ${KEYS}.`, 'case aside');
    assert.equal(refusal(`intervl: 5\n${P}`), `line 1: unknown key 'intervl' in the gate. Did you mean 'interval'? Allowed keys: ${KEYS}.`);
    assert.equal(refusal(`timeoutsss: 5\n${P}`), `line 1: unknown key 'timeoutsss' in the gate. Allowed keys: ${KEYS}.`, 'three edits away is no longer a typo');
    assert.equal(refusal(`zzz: 5\n${P}`), `line 1: unknown key 'zzz' in the gate. Allowed keys: ${KEYS}.`);
    assert.equal(refusal(`score: { pas: 5 }\n${P}`), "line 1: unknown key 'pas' in 'score'. Did you mean 'pass'? Allowed keys: pass, marginal.");
    assert.equal(refusal(`timeout: 5\ntimeout: 6\n${P}`), "line 2: 'timeout' is given twice in the gate: keep one.");
    assert.equal(refusal('checks:\n  - name: a\n    http: { url: "http://127.0.0.1" }\n    http: { url: "http://127.0.0.1" }\n'), "line 4: 'http' is given twice in a check: keep one.");
    assert.equal(refusal('checks:\n  - name: a\n    http: { url: "http://127.0.0.1" }\n    minSamples: 3\n'),
      "line 4: unknown key 'minSamples' in a check. Allowed keys: name, http, expect, prometheus, onNoData, command, compare, successCondition, failureCondition.");
    assert.equal(refusal(C('', '    expect: { status: [200] }\n')), "line 4: check 'a': 'expect' applies to http checks only; use successCondition for command checks.");
    assert.equal(refusal('- a\n'), `line 1: the gate must be a mapping of keys (${KEYS}).`);
    assert.equal(refusal(`? [a]\n: 1\n${P}`), `line 1: unknown key '' in the gate. Allowed keys: ${KEYS}.`, 'a key that is not text');
    assert.equal(refusal(`${P}    onNoData: fail\n`.replace('prometheus: { url: "http://127.0.0.1:9090", query: up }', 'command: { run: ls }')), "line 4: check 'a': 'onNoData' applies to prometheus and compare checks only.");
    assert.equal(refusal(''), `line 1: the gate must be a mapping of keys (${KEYS}).`);
    assert.equal(refusal('# nothing yet\n\n'), `line 1: the gate must be a mapping of keys (${KEYS}).`);
  });

  it('refuses a gate without checks, a check without a name or a kind, and two checks of one name', () => {
    assert.equal(refusal('timeout: 10\n'), "line 1: the gate has no 'checks': add a list of checks, each with a name and one of http, prometheus, command or compare.");
    const notAList = "'checks' must be a list with at least one check (each with a name and one of http, prometheus, command or compare).";
    assert.equal(refusal('checks: {}\n'), `line 1: ${notAList}`);
    assert.equal(refusal('timeout: 10\nchecks:\n'), `line 2: ${notAList}`);
    assert.equal(refusal('checks:\n  - command: { run: ls }\n'), "line 2: a check has no 'name': give each check a name, which its results and the reason use.");
    assert.equal(refusal('checks:\n  - name: ""\n    command: { run: ls }\n'), "line 2: a check's 'name' must be non-empty text.");
    assert.equal(refusal('checks:\n  - name: "  "\n    command: { run: ls }\n'), "line 2: a check's 'name' must be non-empty text.");
    assert.equal(refusal('checks:\n  - name: [a]\n    command: { run: ls }\n'), "line 2: a check's 'name' must be non-empty text.");
    assert.equal(refusal('checks:\n  - name: true\n    command: { run: ls }\n'), "line 2: a check's 'name' must be non-empty text.");
    assert.equal(refusal(`${P}  - name: b\n    command: { run: ls }\n  - name: a\n    command: { run: ls }\n`), "line 6: two checks are named 'a': give each check its own name.");
    assert.equal(refusal('checks: [\n'), 'line 2: it is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]');
  });

  it('refuses conditions, choices, switches and maps of text in the wrong form', () => {
    const cond = (line: string) => refusal(`${P}    ${line}\n`);
    assert.equal(cond('successCondition: "result = 1"'), "line 4: check 'a': successCondition 'result = 1' is not a valid condition: '=' at column 8 is not an operator: write '==' to compare. "
      + "Write comparisons over 'result' with < <= > >= == !=, joined by && || ! and parentheses, e.g. 'result < 0.01'.");
    assert.equal(cond('failureCondition: "result >"'), "line 4: check 'a': failureCondition 'result >' is not a valid condition: expected a value, 'result' or '(' but found the end of the expression. "
      + "Write comparisons over 'result' with < <= > >= == !=, joined by && || ! and parentheses, e.g. 'result < 0.01'.");
    for (const empty of ['""', '{}', '', '[1]']) assert.equal(cond(`successCondition: ${empty}`), "line 4: check 'a': successCondition must be non-empty text.", empty);
    assert.equal(cond('onNoData: never'), "line 4: check 'a': 'onNoData' must be one of fail, pass, inconclusive, not 'never'.");
    assert.equal(cond('onNoData: 5'), "line 4: check 'a': 'onNoData' must be one of fail, pass, inconclusive, not 5.");
    assert.equal(refusal(`onInconclusive: [fail]\n${P}`), "line 1: 'onInconclusive' must be one of fail, pass, warn, not a list.");
    assert.equal(refusal('checks:\n  - name: a\n    prometheus: { url: "http://127.0.0.1:9090", query: up, azureMonitor: yes }\n'), "line 3: check 'a': prometheus azureMonitor must be true or false, not 'yes'.");
    assert.equal(refusal(C(', env: [a]')), "line 3: check 'a': command env must be a mapping of names to text.");
    assert.equal(refusal(C(', env: { "": x }')), "line 3: check 'a': command env has an empty name.");
    assert.equal(refusal('checks:\n  - name: a\n    command:\n      run: ls\n      env:\n        ? [A]\n        : x\n'), "line 6: check 'a': command env has an empty name.");
    assert.equal(refusal(C(', env: { A: [x] }')), "line 3: check 'a': command env: 'A' must be text.");
    assert.equal(refusal(C(', env: { A: { b: 1 } }')), "line 3: check 'a': command env: 'A' must be text.");
    assert.equal(refusal(C(', env: { A: }')), "line 3: check 'a': command env: 'A' must be text.");
    assert.equal(refusal('checks:\n  - name: a\n    command:\n      run: ls\n      env:\n        B: b\n        A:\n'), "line 7: check 'a': command env: 'A' must be text.");
    assert.equal(refusal('checks:\n  - name: a\n    command:\n      run: ls\n      env:\n        B: b\n        A: { x: 1 }\n'), "line 7: check 'a': command env: 'A' must be text.");
    const env = parseGate(C(', env: { A: 1, B: true, C: "$(x)" }'), 'gate.yml').config.checks[0];
    assert.deepEqual(env.kind === 'command' && env.env, { A: '1', B: 'true', C: '$(x)' }, 'text as written; $(…) stays as it is without pipeline variables');
    const named = parseGate('checks:\n  - name: $(x)\n    command: { run: echo $(x) }\n', 'gate.yml', () => ({ value: 'resolved', secret: false })).config.checks[0];
    assert.deepEqual([named.name, named.kind === 'command' && named.run], ['$(x)', 'echo $(x)'], 'a name and a command line are not resolved (the agent resolves the command)');
  });

  it('refuses URLs that are not http or https, and moves credentials of a URL into a header whose password is a secret', () => {
    assert.equal(refusal('checks:\n  - name: a\n    http: { url: "not a url" }\n'), "line 3: check 'a': http url 'not a url' is not a URL: write it in full, e.g. https://staging.example.com/healthz.");
    assert.equal(refusal('checks:\n  - name: a\n    http: { url: "file:///etc/passwd" }\n'), "line 3: check 'a': http url must use https or http, not 'file:'.");
    const https = parseGate('checks:\n  - name: a\n    http: { url: "https://127.0.0.1:8443/healthz" }\n', 'gate.yml').config.checks[0];
    assert.equal(https.kind === 'http' && https.url, 'https://127.0.0.1:8443/healthz');
    const parsed = parseGate('checks:\n  - name: a\n    http: { url: "http://ops:p%40ss@127.0.0.1:8080/healthz" }\n', 'gate.yml');
    const c = parsed.config.checks[0];
    assert.deepEqual(c.kind === 'http' && [c.url, c.headers], ['http://127.0.0.1:8080/healthz', { authorization: `Basic ${Buffer.from('ops:p@ss').toString('base64')}` }]);
    assert.deepEqual(parsed.secrets, ['p@ss']);
    const userOnly = parseGate('checks:\n  - name: a\n    http: { url: "http://ops@127.0.0.1:8080/" }\n', 'gate.yml');
    assert.deepEqual(userOnly.config.checks[0].kind === 'http' && [userOnly.config.checks[0].url, userOnly.config.checks[0].headers, userOnly.secrets],
      ['http://127.0.0.1:8080/', { authorization: `Basic ${Buffer.from('ops:').toString('base64')}` }, []]);
    const other = parseGate('checks:\n  - name: a\n    http: { url: "http://ops:pw@127.0.0.1:8080/", headers: { x-api-key: k } }\n', 'gate.yml').config.checks[0];
    assert.deepEqual(other.kind === 'http' && other.headers, { 'x-api-key': 'k', authorization: `Basic ${Buffer.from('ops:pw').toString('base64')}` });
    const own = parseGate('checks:\n  - name: a\n    http: { url: "http://ops:pw@127.0.0.1:8080/", headers: { Authorization: Bearer t } }\n', 'gate.yml');
    assert.deepEqual(own.config.checks[0].kind === 'http' && [own.config.checks[0].url, own.config.checks[0].headers, own.secrets],
      ['http://127.0.0.1:8080/', { Authorization: 'Bearer t' }, ['pw']], 'a header the check gives wins; the password is still a secret');
  });

  it('keeps the weights of compare checks within 100, and at exactly 100 when every one has a weight', () => {
    const compare = (name: string, weight?: number) => `  - name: ${name}\n    compare: { url: "http://127.0.0.1:9090", canary: x, baseline: y${weight === undefined ? '' : `, weight: ${weight}`} }\n`;
    assert.equal(refusal(`checks:\n${compare('errors', 60)}${compare('latency', 50)}${compare('cpu')}`),
      "line 2: the weights of the compare checks add up to 110 ('errors' 60, 'latency' 50): they are percentages of the score, so make them total 100 at most.");
    assert.equal(refusal(`checks:\n${compare('errors', 60)}${compare('latency', 30)}`),
      "line 2: the weights of the compare checks add up to 90 ('errors' 60, 'latency' 30): when every compare check has a weight they must total 100.");
    assert.equal(parseGate(`checks:\n${compare('errors', 60)}${compare('latency', 40)}`, 'gate.yml').config.checks.length, 2);
    assert.equal(refusal(`checks:\n${compare('errors', 60)}  - name: health\n    command: { run: ls }\n`),
      "line 2: the weights of the compare checks add up to 60 ('errors' 60): when every compare check has a weight they must total 100.", 'other checks have no weight to give');
    assert.equal(parseGate(`checks:\n${compare('errors', 100)}${compare('latency')}`, 'gate.yml').config.checks.length, 2, 'at most 100 when one has none');
    assert.equal(parseGate(`checks:\n${compare('errors', 60)}${compare('latency')}`, 'gate.yml').config.checks.length, 2);
    assert.equal(parseGate(`checks:\n${compare('errors', 33.3333333333)}${compare('latency', 33.3333333333)}${compare('cpu', 33.3333333334)}`, 'gate.yml').config.checks.length, 3, 'a rounding error is no excess');
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
