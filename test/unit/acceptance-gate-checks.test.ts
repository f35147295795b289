import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { readJsonPath } from '../../tasks/acceptance-gate/checks/http';
import { measurePrometheus } from '../../tasks/acceptance-gate/checks/prometheus';
import { parseGate, type PrometheusCheck } from '../../tasks/acceptance-gate/config';
import { assess } from '../../tasks/acceptance-gate/judge';
import { findFiles } from '../../tasks/common/glob';

// A Prometheus stand-in that answers every query with the canned answer of the test.
describe('acceptance-gate prometheus check on canned answers', () => {
  let server: http.Server;
  let url: string;
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  let seen: URLSearchParams | undefined;
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        seen = new URLSearchParams(body);
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const check = (extra = '    successCondition: result < 0.5\n'): PrometheusCheck =>
    parseGate(`checks:\n  - name: q\n    prometheus: { url: "${url}", query: 'my_metric' }\n${extra}`, 'test').config.checks[0] as PrometheusCheck;
  const measure = async (c: PrometheusCheck) => assess(c, await measurePrometheus(c, { signal: new AbortController().signal, workingDirectory: '.' }));
  const success = (resultType: string, result: unknown) => ({ status: 200, body: { status: 'success', data: { resultType, result } } });

  it('posts the query as a form and judges a scalar', async () => {
    answer = success('scalar', [1700000000, '0.25']);
    const m = await measure(check());
    assert.equal(seen?.get('query'), 'my_metric');
    assert.deepEqual([m.outcome, m.value], ['passed', '0.25']);
  });

  it('skips NaN series of a vector that also has numbers, and treats +Inf as a number', async () => {
    answer = success('vector', [{ metric: {}, value: [1, 'NaN'] }, { metric: {}, value: [1, '0.1'] }, { metric: {}, value: [1, '+Inf'] }]);
    const m = await measure(check());
    assert.equal(m.outcome, 'failed');
    assert.match(m.message, /\[0\.1, Infinity\] does not meet result < 0\.5/);
  });

  it('reads a string result, and refuses a range vector as a configuration error', async () => {
    answer = success('string', [1, 'ok']);
    assert.equal((await measure(check("    successCondition: result == 'ok'\n"))).outcome, 'passed');
    answer = success('matrix', [{ metric: {}, values: [[1, '1']] }]);
    const m = await measure(check());
    assert.deepEqual([m.outcome, m.fatal], ['error', true]);
    assert.match(m.message, /returns a matrix result; give an instant query/);
  });

  it('counts an execution error (422) as an error of the measurement, not of the gate', async () => {
    answer = { status: 422, body: { status: 'error', errorType: 'execution', error: 'vector cannot contain metrics with the same labelset' } };
    const m = await measure(check());
    assert.equal(m.outcome, 'error');
    assert.equal(m.fatal, undefined);
    assert.match(m.message, /Prometheus answered 422 \(execution: vector cannot contain metrics with the same labelset\)/);
  });

  it('answers a wrong URL (404) as a configuration error', async () => {
    answer = { status: 404, body: 'not found' };
    const m = await measure(check());
    assert.deepEqual([m.outcome, m.fatal], ['error', true]);
    assert.match(m.message, /does not exist \(404\)/);
  });

  it('refuses an Azure Monitor check without a token source', async () => {
    const m = await measure({ ...check(), azureMonitor: true });
    assert.deepEqual([m.outcome, m.fatal], ['error', true]);
    assert.match(m.message, /set the task's 'azureSubscription' input/);
  });
});

describe('acceptance-gate helpers', () => {
  it('reads JSON paths', () => {
    const doc = { status: 'ok', items: [{ state: 'up' }], 'odd key': 1 };
    assert.deepEqual(readJsonPath(doc, '$.status'), { found: true, value: 'ok' });
    assert.deepEqual(readJsonPath(doc, '$.items[0].state'), { found: true, value: 'up' });
    assert.deepEqual(readJsonPath(doc, "$['odd key']"), { found: true, value: 1 });
    assert.deepEqual(readJsonPath(doc, '$.items[3]'), { found: false });
    assert.deepEqual(readJsonPath(doc, '$.status.deeper'), { found: false });
    assert.deepEqual(readJsonPath(doc, '$'), { found: true, value: doc });
  });

  it('finds JUnit files by glob', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-glob-'));
    try {
      for (const f of ['results/a.xml', 'results/b.txt', 'results/deep/c.xml', 'other/d.xml']) {
        fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
        fs.writeFileSync(path.join(dir, f), '<testsuite/>');
      }
      const rel = (files: string[]) => files.map((f) => path.relative(dir, f));
      assert.deepEqual(rel(findFiles('results/*.xml', dir)), ['results/a.xml']);
      assert.deepEqual(rel(findFiles('**/*.xml', dir)), ['other/d.xml', 'results/a.xml', 'results/deep/c.xml']);
      assert.deepEqual(rel(findFiles('results/**/c.xml', dir)), ['results/deep/c.xml']);
      assert.deepEqual(rel(findFiles(path.join(dir, 'other/d.xml'), '/')), ['other/d.xml']);
      assert.deepEqual(findFiles('missing/*.xml', dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
