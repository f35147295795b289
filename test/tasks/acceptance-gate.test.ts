import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Environment } from '../env';
import { BUILD_TASKS, runTask, secretLeaks, type RunOptions, type TaskRun } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { freePort } from '../env/processes';

const ERROR_RATIO = 'sum(rate(http_requests_total{code=~"5.."}[5s])) / sum(rate(http_requests_total[5s]))';

function describeRun(run: TaskRun): string {
  return `${run.result?.status}: ${run.result?.message}\n${run.stdout.slice(-3000)}\n${run.stderr}`;
}

/** The published gate JUnit (the first results.publish of the run). */
function junitOf(run: TaskRun): string {
  assert.equal(run.testResults.length, 1, 'the gate publishes one JUnit file');
  assert.equal(run.testResults[0].type, 'JUnit');
  return run.testResults[0].contents[0];
}

describe('AcceptanceGate@1 run as the agent runs it', function () {
  this.timeout(60_000);
  let env: Environment;
  let tmp: string;
  before(async function () {
    this.timeout(120_000);
    env = await sharedEnvironment();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-test-'));
    // Prometheus has data once it has scraped the app twice (rate() needs two samples).
    await env.monitoring.prometheus.waitFor('count_over_time(app_healthy[1m])', (v) => v >= 2, 30_000);
  });
  afterEach(() => {
    env.monitoring.app.reset();
    env.clearFaults();
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const gate = (yaml: string, extra: Partial<RunOptions> = {}) =>
    runTask('acceptance-gate', mergeRunOptions({ caFile: env.ca.caCertPath, inputs: { gate: yaml } }, extra));

  const health = (extra = '') => `
  - name: health
    http: { url: ${env.info.app}/healthz, timeout: 2 }
    expect: { status: [200], json: { path: $.status, equals: healthy } }${extra}`;

  it('passes once the app becomes healthy', async () => {
    env.monitoring.app.set({ healthy: false });
    const flip = setTimeout(() => env.monitoring.app.set({ healthy: true }), 2000);
    const run = await gate(`
timeout: 20
interval: 0.25
requiredSuccesses: 2
failureLimit: 100
checks:${health()}
`);
    clearTimeout(flip);
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.equal(run.outputs.gateResult, 'Succeeded');
    assert.match(run.outputs.gateReason, /All 1 check passed in 2 consecutive evaluations \(requiredSuccesses 2\), after \d+ earlier evaluations that did not pass/);
    assert.ok(run.logLines.some((l) => /^Evaluation 1 .*FAILED — health: failed \(status 503, expected 200; \$\.status is 'unhealthy', expected 'healthy'\)/.test(l)), describeRun(run));
    assert.ok(run.logLines.some((l) => /^Evaluation \d+ .*PASSED — health: passed \(200 in \d+ ms\)/.test(l)));
    assert.equal(run.summaries.length, 1);
    assert.match(run.summaries[0].content, /### Acceptance gate: Succeeded/);
    assert.match(run.summaries[0].content, /#### Timeline/);
    assert.match(run.summaries[0].content, /\| 1(–\d+)? \| \+\d+ ms[^|]* \| [^|]+ \| ❌ failed( ×\d+)? \| ❌ health: status 503, expected 200/);
    assert.match(run.summaries[0].content, /\| ✅ passed ×2 \| — \|$/m);
    const junit = junitOf(run);
    assert.match(junit, /<testcase name="health" classname="acceptance-gate.http" time="[\d.]+"><system-out>/);
    assert.doesNotMatch(junit, /<failure/);
  });

  it('sends the credentials of a URL as Basic authorization, and never shows the password', async () => {
    const password = 'pw-7d41c09b2e';
    const app = new URL(env.info.app);
    // From a file: the agent's debug echo of an inline gate input would show a literal password before the task runs.
    const file = path.join(tmp, 'credentials-gate.yml');
    fs.writeFileSync(file, `
interval: 0.1
requiredSuccesses: 1
checks:
  - name: health
    http: { url: '${app.protocol}//gate:${password}@${app.host}/healthz' }
  - name: scraped
    prometheus: { url: '${env.info.prometheus.replace('://', `://gate:${password}@`)}', query: 'count(up{job="sample-app"})' }
    successCondition: result == 1
`);
    const run = await runTask('acceptance-gate', { caFile: env.ca.caCertPath, inputs: { gateFile: file } });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.ok(run.secrets.includes(password), 'registered with the agent');
    assert.deepEqual(secretLeaks(run, [password]), []);
  });

  it('fails on the error ratio read from the real Prometheus, with the value in the reason', async () => {
    env.monitoring.app.set({ errorRatio: 0.05 });
    await env.monitoring.prometheus.waitFor(ERROR_RATIO, (v) => Math.abs(v - 0.05) < 1e-9);
    const run = await gate(`
interval: 0.2
requiredSuccesses: 3
failureLimit: 1
checks:
  - name: error ratio
    prometheus: { url: ${env.info.prometheus}, query: '${ERROR_RATIO}' }
    successCondition: result < 0.01
`);
    assert.equal(run.result?.status, 'Failed', describeRun(run));
    assert.equal(run.outputs.gateResult, 'Failed');
    assert.equal(run.outputs.gateReason, "'error ratio' 0.05 does not meet result < 0.01 in 2 of 2 evaluations: 2 failed evaluations, more than the failureLimit of 1.");
    assert.equal(run.result?.message, run.outputs.gateReason);
    assert.match(junitOf(run), /<testcase name="error ratio" classname="acceptance-gate.prometheus"[^>]*><failure message="failed in 2 of 2 evaluations: 0.05 does not meet result &lt; 0.01"/);
  });

  it('gives Prometheus a fractional check timeout in a form it accepts', async () => {
    const run = await gate(`
interval: 0.1
requiredSuccesses: 1
checks:
  - name: scraped
    prometheus: { url: ${env.info.prometheus}, query: 'count(up{job="sample-app"})', timeout: 2500ms }
    successCondition: result == 1
`);
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
  });

  it('passes on a healthy error ratio from Prometheus, judging every series of a vector', async () => {
    await env.monitoring.prometheus.waitFor(ERROR_RATIO, (v) => v === 0);
    const run = await gate(`
interval: 0.2
requiredSuccesses: 2
checks:
  - name: error ratio by code
    prometheus: { url: ${env.info.prometheus}, query: 'sum by (code) (rate(http_requests_total[5s]))' }
    successCondition: result >= 0
  - name: ratio
    prometheus: { url: ${env.info.prometheus}/, query: '${ERROR_RATIO}' }
    successCondition: result < 0.01
`);
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.ok(run.logLines.some((l) => /error ratio by code: passed \((\[[\d.]+, 0\]|\[0, [\d.]+\])\)/.test(l)), describeRun(run));
  });

  describe('no data (an empty vector, or NaN) follows onNoData', () => {
    const noData = (query: string, onNoData: string, extra = '') => gate(`
interval: 0.2
requiredSuccesses: 1
inconclusiveLimit: 0
${extra}
checks:
  - name: queue failures
    prometheus: { url: ${env.info.prometheus}, query: '${query}' }
    successCondition: result < 0.1
    onNoData: ${onNoData}
`);

    it('onNoData: fail fails the gate on an empty result', async () => {
      const run = await noData('sum(rate(http_requests_total{code="599"}[5s]))', 'fail');
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.equal(run.outputs.gateResult, 'Failed');
      assert.match(run.outputs.gateReason, /'queue failures' no data: the query returned no series \(onNoData: fail\) in 1 of 1 evaluation/);
    });

    it('onNoData: pass passes the gate on NaN', async () => {
      const run = await noData('rate(queue_jobs_failed_total[5s]) / rate(queue_jobs_total[5s])', 'pass');
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      assert.ok(run.logLines.some((l) => /queue failures: passed \(no data\)/.test(l)), describeRun(run));
    });

    it('onNoData: inconclusive makes the gate Inconclusive on NaN, with the reason', async () => {
      const run = await noData('rate(queue_jobs_failed_total[5s]) / rate(queue_jobs_total[5s])', 'inconclusive');
      assert.equal(run.outputs.gateResult, 'Inconclusive', describeRun(run));
      assert.equal(run.result?.status, 'Failed', 'onInconclusive defaults to fail');
      assert.match(run.outputs.gateReason, /'queue failures' no data: the query returned NaN \(onNoData: inconclusive\) in 1 of 1 evaluation: 1 inconclusive evaluation, more than the inconclusiveLimit of 0/);
      assert.match(junitOf(run), /<testcase name="queue failures"[^>]*><skipped message=/);
    });
  });

  describe('a flapping endpoint and requiredSuccesses', () => {
    it('never succeeds while the endpoint flaps, and says it timed out', async () => {
      env.monitoring.app.set({ flapping: true });
      const run = await gate(`
timeout: 2
interval: 0.1
requiredSuccesses: 2
failureLimit: 100
checks:${health()}
`);
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.equal(run.outputs.gateResult, 'Failed');
      assert.match(run.outputs.gateReason, /^The gate (timed out after 2\.0 s|cannot reach 2 consecutive passing evaluations before the timeout of 2\.0 s) with \d+ evaluations \(at most 1 of 2 required passes in a row\); worst outcome failed: 'health' status 503/);
      const outcomes = run.logLines.filter((l) => l.startsWith('Evaluation ')).map((l) => (/PASSED/.test(l) ? 'P' : 'F')).join('');
      assert.ok(outcomes.length >= 6 && !outcomes.includes('PP'), `alternating outcomes, got ${outcomes}`);
    });

    it('succeeds after the endpoint stops flapping and passes requiredSuccesses times in a row', async () => {
      env.monitoring.app.set({ flapping: true });
      const steady = setTimeout(() => env.monitoring.app.set({ flapping: false }), 1500);
      const run = await gate(`
timeout: 20
interval: 0.1
requiredSuccesses: 4
failureLimit: 100
checks:${health()}
`);
      clearTimeout(steady);
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      const outcomes = run.logLines.filter((l) => l.startsWith('Evaluation ')).map((l) => (/PASSED/.test(l) ? 'P' : 'F')).join('');
      assert.match(outcomes, /PF.*PPPP$/);
    });
  });

  describe('the failure budget (failureLimit)', () => {
    const budget = (limit: number) => gate(`
interval: 0.1
requiredSuccesses: 2
failureLimit: ${limit}
checks:${health()}
`);
    it('tolerates failed evaluations up to failureLimit', async () => {
      env.monitoring.app.set({ failNextHealth: 2 });
      const run = await budget(2);
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      assert.match(run.outputs.gateReason, /after 2 earlier evaluations that did not pass/);
    });
    it('fails as soon as failed evaluations exceed failureLimit', async () => {
      env.monitoring.app.set({ failNextHealth: 2 });
      const run = await budget(1);
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.outputs.gateReason, /'health' status 503, expected 200; \$\.status is 'unhealthy', expected 'healthy' in 2 of 2 evaluations: 2 failed evaluations, more than the failureLimit of 1\./);
      assert.equal(run.logLines.filter((l) => l.startsWith('Evaluation ')).length, 2, 'it stops at the answer');
    });
  });

  describe('command checks', () => {
    const junitScript = (failing: boolean) => `mkdir -p results && cat > results/TEST-api.xml <<'XML'
<?xml version="1.0"?>
<testsuites><testsuite name="api" tests="3">
  <testcase classname="api.orders" name="creates an order" time="0.12"/>
  <testcase classname="api.orders" name="lists orders" time="0.05">${failing ? '<failure message="expected 200, got 500">stack</failure>' : ''}</testcase>
  <testcase classname="api.cart" name="adds &amp; removes" time="0.01"><skipped/></testcase>
</testsuite></testsuites>
XML
${failing ? 'exit 1' : 'exit 0'}`;

    const commandGate = (run: string, extra = '') => {
      const file = path.join(tmp, `gate-${Math.random().toString(36).slice(2)}.yml`);
      fs.writeFileSync(file, `
interval: 0.1
requiredSuccesses: 1
failureLimit: 0
consecutiveErrorLimit: 0
checks:
  - name: api suite
    command:
      run: |
${run.split('\n').map((l) => `        ${l}`).join('\n')}
      junit: results/*.xml
      timeout: 10${extra}
`);
      return runTask('acceptance-gate', { inputs: { gateFile: file }, secretVariables: { apiToken: 'tok-3f9a7c1e55d2' } });
    };

    it('names each failed test case of the JUnit results and publishes them', async () => {
      const run = await commandGate(junitScript(true));
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.outputs.gateReason, /'api suite' 1 test failed: api\.orders\.lists orders \(expected 200, got 500\) in 1 of 1 evaluation/);
      const junit = junitOf(run);
      assert.match(junit, /<testcase name="api suite" classname="acceptance-gate.command"[^>]*><failure/);
      assert.match(junit, /<testsuite name="api suite \(test command\)" tests="3" failures="1" errors="0" skipped="1">/);
      assert.match(junit, /<testcase name="adds &amp; removes" classname="api.cart" time="0.010"><skipped\/><\/testcase>/);
    });

    it('passes when the command exits 0 and its tests pass', async () => {
      const run = await commandGate(junitScript(false));
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      assert.ok(run.logLines.some((l) => /api suite: passed \(exit 0 \(2 of 3 tests passed, 1 skipped\)\)/.test(l)), describeRun(run));
    });

    it('reports a command that does not exist as an error, not a failure or a pass', async () => {
      const run = await commandGate('run-acceptance-tests-that-do-not-exist --all');
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.outputs.gateReason, /'api suite' the command could not be run \(exit 127, command not found\).* in 1 of 1 evaluation: 1 evaluations in a row could not measure every check, more than the consecutiveErrorLimit of 0/);
    });

    it('stops a command that hangs at its timeout, with its whole process group', async () => {
      const pidFile = path.join(tmp, 'hang.pid');
      const hanging = await runTask('acceptance-gate', { inputs: { gate: `
requiredSuccesses: 1
consecutiveErrorLimit: 0
checks:
  - name: hangs
    command: { run: 'sleep 30 & echo $! > ${pidFile}; wait', timeout: 1 }
` } });
      assert.equal(hanging.result?.status, 'Failed', describeRun(hanging));
      assert.match(hanging.outputs.gateReason, /'hangs' the command did not finish within 1 s and was stopped/);
      assert.ok(hanging.durationMs < 6000, `took ${hanging.durationMs} ms`);
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      assert.ok(pid > 0);
      // Gone, or a zombie waiting for a reaper that this container may not have.
      const state = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] : 'gone';
      assert.ok(state === 'gone' || state === 'Z', `the background sleep of the command was killed too (state ${state})`);
    });

    it('stops running commands when the job is cancelled', async () => {
      const pidFile = path.join(tmp, 'cancel.pid');
      fs.rmSync(pidFile, { force: true });
      const child = spawn(process.execPath, [path.join(BUILD_TASKS, 'acceptance-gate/index.js')], {
        cwd: tmp, stdio: 'ignore',
        env: { PATH: process.env.PATH, AGENT_TEMPDIRECTORY: tmp, INPUT_GATE: `checks:\n  - name: long\n    command: { run: 'sleep 30 & echo $! > ${pidFile}; wait', timeout: 60 }\n` },
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const deadline = Date.now() + 10_000;
      while (!fs.existsSync(pidFile) || !fs.readFileSync(pidFile, 'utf8').trim()) {
        assert.ok(Date.now() < deadline, 'the command started');
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 1);
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      await new Promise((r) => setTimeout(r, 100));
      const state = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] : 'gone';
      assert.ok(state === 'gone' || state === 'Z', `the command's children were stopped (state ${state})`);
    });

    it('gives secret variables to the command without letting them reach the log or the results', async () => {
      const secret = 'tok-3f9a7c1e55d2';
      const run = await commandGate('echo "calling the API with $API_TOKEN"; exit 3', '\n      env: { API_TOKEN: $(apiToken) }');
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.outputs.gateReason, /the command exited with 3: calling the API with \*\*\*/);
      assert.ok(run.secrets.includes(secret), 'registered with the agent');
      assert.deepEqual(secretLeaks(run, [secret]), []);
    });
  });

  it('publishes no test results when publishTestResults is false, and still writes the summary and outputs', async () => {
    const run = await gate(`requiredSuccesses: 1\nchecks:${health()}\n`, { inputs: { publishTestResults: false } });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.deepEqual(run.testResults, []);
    assert.equal(run.summaries.length, 1);
    assert.equal(run.outputs.gateResult, 'Succeeded');
  });

  it('ends at its timeout with the worst outcome it saw, and says so', async () => {
    const run = await gate(`
timeout: 1.5
interval: 0.2
requiredSuccesses: 100
checks:${health()}
`);
    assert.equal(run.outputs.gateResult, 'Inconclusive', describeRun(run));
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.outputs.gateReason, /^The gate timed out after 1\.5 s with \d+ evaluations \(at most \d+ of 100 required passes in a row\); worst outcome passed: every evaluation passed, but 100 in a row were required\.$/);
    assert.ok(run.durationMs < 4000, `took ${run.durationMs} ms`);
  });

  describe('an inconclusive outcome follows onInconclusive', () => {
    const expected: Record<string, string> = { fail: 'Failed', pass: 'Succeeded', warn: 'SucceededWithIssues' };
    for (const [policy, status] of Object.entries(expected)) {
      it(`onInconclusive: ${policy} gives ${status}`, async () => {
        const run = await gate(`
interval: 0.1
requiredSuccesses: 1
inconclusiveLimit: 1
onInconclusive: ${policy}
checks:
  - name: healthy gauge
    prometheus: { url: ${env.info.prometheus}, query: 'count(up{job="sample-app"})' }
    successCondition: result > 1
    failureCondition: result < 0
`);
        assert.equal(run.outputs.gateResult, 'Inconclusive', describeRun(run));
        assert.equal(run.result?.status, status);
        assert.match(run.outputs.gateReason, /'healthy gauge' 1 meets neither result > 1 nor failureCondition result < 0 in 2 of 2 evaluations: 2 inconclusive evaluations, more than the inconclusiveLimit of 1\./);
        if (policy === 'warn') assert.ok(run.issues.some((i) => i.type === 'warning' && /inconclusive/.test(i.message)));
      });
    }
  });

  describe('Azure Monitor managed Prometheus', () => {
    const azureGate = () => `
interval: 0.2
requiredSuccesses: 2
checks:
  - name: managed error ratio
    prometheus: { url: ${env.info.azureMonitorPrometheus}, query: 'count(up{job="sample-app"})', azureMonitor: true }
    successCondition: result == 1
`;
    it('queries the workspace endpoint with an Entra token from the AzureRM connection', async () => {
      const { id, options } = azureRmConnection(env, 'secret');
      const before = env.monitoring.azureMonitor.queries;
      const tokensBefore = env.entra.tokenRequests.length;
      const run = await gate(azureGate(), mergeRunOptions(options, { inputs: { azureSubscription: id } }));
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      assert.equal(env.monitoring.azureMonitor.queries - before, 2);
      assert.ok(env.entra.tokenRequests.slice(tokensBefore).some((t) => t.scope === 'https://prometheus.monitor.azure.com/.default'));
      assert.deepEqual(secretLeaks(run, [env.identities.secret.clientSecret]), []);
      const tokens = run.secrets.filter((s) => /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/.test(s));
      assert.equal(tokens.length, 1, `the Entra token is registered once, not once per evaluation: ${tokens.length}`);
    });

    it('works through workload identity federation too', async () => {
      const { id, options } = azureRmConnection(env, 'federated');
      const run = await gate(azureGate(), mergeRunOptions(options, { inputs: { azureSubscription: id } }));
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    });

    it('fails at once, naming the role, when the identity may not read the workspace', async () => {
      const { id, options } = azureRmConnection(env, 'noAccess');
      const run = await gate(azureGate(), mergeRunOptions(options, { inputs: { azureSubscription: id } }));
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.outputs.gateReason, /^Check 'managed error ratio' cannot be evaluated: .* refused the query with 403 .*Monitoring Data Reader/);
    });

    it('retries a throttled or failing query service within the check, so a blip is no error', async () => {
      const { id, options } = azureRmConnection(env, 'secret');
      env.monitoring.azureMonitor.faults.failNext('503', 1, { match: /^POST \/api\/v1\/query/, retryAfterSeconds: 0 });
      env.monitoring.azureMonitor.faults.failNext('429', 1, { match: /^POST \/api\/v1\/query/, retryAfterSeconds: 0 });
      const run = await gate(azureGate(), mergeRunOptions(options, { inputs: { azureSubscription: id } }));
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      assert.equal(env.monitoring.azureMonitor.faults.served['503'], 1);
      assert.equal(env.monitoring.azureMonitor.faults.served['429'], 1);
      assert.equal(run.logLines.filter((l) => l.startsWith('Evaluation ')).length, 2, 'no evaluation was lost to the faults');
    });

    it('counts a query service that keeps failing as an error, not a failure', async () => {
      const { id, options } = azureRmConnection(env, 'secret');
      env.monitoring.azureMonitor.faults.setRates({ rate500: 1, match: /^POST \/api\/v1\/query/ });
      const run = await gate(`${azureGate()}consecutiveErrorLimit: 0\n`, mergeRunOptions(options, { inputs: { azureSubscription: id } }));
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.outputs.gateReason, /'managed error ratio' Prometheus answered 500 .* after 3 attempts in 1 of 1 evaluation: 1 evaluations in a row could not measure every check/);
    });

    it('fails at once on a query that Azure Monitor refuses because it names no metric', async () => {
      const { id, options } = azureRmConnection(env, 'secret');
      const run = await gate(azureGate().replace(`'count(up{job="sample-app"})'`, "'vector(1)'"), mergeRunOptions(options, { inputs: { azureSubscription: id } }));
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.outputs.gateReason, /^Check 'managed error ratio' cannot be evaluated: Prometheus rejected the query \(bad_data\): .*scoped to a metric/);
    });

    it('fails before any query without an AzureRM connection', async () => {
      const before = env.monitoring.azureMonitor.queries;
      const run = await gate(azureGate());
      assert.equal(run.result?.status, 'Failed');
      assert.match(run.result!.message, /set the input 'azureSubscription'/);
      assert.equal(env.monitoring.azureMonitor.queries, before);
      assert.equal(run.outputs.gateResult, 'Failed');
    });
  });

  describe('bad input and faults are reported as what they are', () => {
    it('rejects an unknown key with its line and the fix, before anything runs', async () => {
      // The check points at the sample app, whose health requests are counted: a gate that measured once before
      // refusing its configuration would show up there.
      const before = env.monitoring.app.healthRequests;
      const run = await gate(`timeout: 30\nintreval: 5\nchecks:\n  - name: x\n    http: { url: ${env.info.app}/healthz }\n`);
      assert.equal(run.result?.status, 'Failed');
      assert.equal(run.result?.message, "The gate (input 'gate') line 2: unknown key 'intreval' in the gate. Did you mean 'interval'? Allowed keys: timeout, initialDelay, interval, requiredSuccesses, failureLimit, inconclusiveLimit, consecutiveErrorLimit, onInconclusive, score, checks.");
      assert.equal(env.monitoring.app.healthRequests, before);
    });

    it('rejects a bad condition and a wrong type with their lines', async () => {
      let run = await gate(`checks:\n  - name: ratio\n    prometheus: { url: ${env.info.prometheus}, query: up }\n    successCondition: result = 1\n`);
      assert.match(run.result!.message, /line 4: check 'ratio': successCondition 'result = 1' is not a valid condition: '=' at column 8 is not an operator: write '==' to compare/);
      run = await gate(`failureLimit: two\nchecks:${health()}\n`);
      assert.match(run.result!.message, /line 1: 'failureLimit' must be a whole number from 0 up, not 'two'\./);
    });

    it('fails a slow answer on maxLatencyMs, and counts no answer within the check\'s timeout as an error', async () => {
      env.monitoring.app.set({ latencyMs: 300 });
      const yaml = (timeout: number) => `requiredSuccesses: 1\nconsecutiveErrorLimit: 0\nchecks:\n  - name: latency\n    http: { url: ${env.info.app}/healthz, timeout: ${timeout} }\n    expect: { maxLatencyMs: 100 }\n`;
      const slow = await gate(yaml(5));
      assert.equal(slow.result?.status, 'Failed', describeRun(slow));
      assert.match(slow.outputs.gateReason, /'latency' latency \d+ ms > 100 ms in 1 of 1 evaluation: 1 failed evaluation, more than the failureLimit of 0\./);
      const timedOut = await gate(yaml(0.1));
      assert.equal(timedOut.result?.status, 'Failed', describeRun(timedOut));
      assert.match(timedOut.outputs.gateReason, /'latency' no answer from 127\.0\.0\.1:\d+ within 0\.1 s \(the check's timeout\) in 1 of 1 evaluation: 1 evaluations in a row could not measure every check/);
    });

    it('counts an unreachable URL as an error, never as a pass', async () => {
      const port = await freePort();
      const run = await gate(`requiredSuccesses: 1\nconsecutiveErrorLimit: 1\ninterval: 0.1\nchecks:\n  - name: down\n    http: { url: "http://127.0.0.1:${port}/healthz" }\n`);
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.outputs.gateReason, /'down' cannot connect to 127\.0\.0\.1:\d+: connection refused in 2 of 2 evaluations: 2 evaluations in a row could not measure every check, more than the consecutiveErrorLimit of 1\./);
    });

    it('verifies TLS with the agent\'s trusted CAs: passes with the environment CA, errors without it', async () => {
      const yaml = `requiredSuccesses: 1\nconsecutiveErrorLimit: 0\nchecks:\n  - name: tls health\n    http: { url: ${env.info.appHttps}/healthz }\n    expect: { bodyContains: healthy, maxLatencyMs: 2000 }\n`;
      const trusted = await gate(yaml);
      assert.equal(trusted.result?.status, 'Succeeded', describeRun(trusted));
      const untrusted = await runTask('acceptance-gate', { inputs: { gate: yaml } });
      assert.equal(untrusted.result?.status, 'Failed', describeRun(untrusted));
      assert.match(untrusted.outputs.gateReason, /'tls health' TLS failure with 127\.0\.0\.1:\d+: .*\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
    });

    it('fails at once on a PromQL syntax error (Prometheus\'s 400 bad_data)', async () => {
      const run = await gate(`interval: 5\nrequiredSuccesses: 3\nchecks:\n  - name: broken\n    prometheus: { url: ${env.info.prometheus}, query: 'sum(rate(http_requests_total[5m])' }\n`);
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.outputs.gateReason, /^Check 'broken' cannot be evaluated: Prometheus rejected the query \(bad_data\): .*parse error.*Correct the query in the gate\.$/);
      assert.ok(run.durationMs < 4000, `took ${run.durationMs} ms`);
    });

    it('sends headers from secret variables without showing them anywhere', async () => {
      const secret = 'k3y-81c0ffee9d';
      const file = path.join(tmp, 'headers.yml');
      fs.writeFileSync(file, `requiredSuccesses: 1\nchecks:\n  - name: api\n    http:\n      url: ${env.info.app}/api/headers?expect=$(apiKey)\n      headers: { x-api-key: $(apiKey) }\n  - name: api wrong key\n    http: { url: "${env.info.app}/api/headers?expect=other", headers: { x-api-key: $(apiKey) } }\n    expect: { status: [401] }\n`);
      const run = await runTask('acceptance-gate', { inputs: { gateFile: file }, secretVariables: { apiKey: secret } });
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      assert.ok(run.secrets.includes(secret));
      assert.deepEqual(secretLeaks(run, [secret]), []);
      assert.match(run.summaries[0].content, /expect=\*\*\*/);
    });
  });
});
