import { strict as assert } from 'node:assert';
import type { Environment } from '../env';
import { runTask, type RunOptions } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { agentProxy, assertNoProxyPassword, assertProxied, assertProxyRefused } from '../helpers/proxy';

describe("AcceptanceGate@1 behind the agent's proxy (agent run)", function () {
  this.timeout(90_000);
  let env: Environment;
  before(async function () {
    this.timeout(120_000);
    env = await sharedEnvironment();
    await env.monitoring.prometheus.waitFor('count_over_time(app_healthy[1m])', (v) => v >= 2, 30_000);
  });
  afterEach(() => env.monitoring.app.reset());

  /** An HTTP check of the app (plain HTTP), a Prometheus query, and Azure Monitor's endpoint with an Entra token. */
  const gate = (extra: Partial<RunOptions>) => {
    const { id, options } = azureRmConnection(env, 'secret');
    return runTask('acceptance-gate', mergeRunOptions(options, { inputs: { azureSubscription: id, gate: `
interval: 0.2
requiredSuccesses: 1
checks:
  - name: health
    http: { url: ${env.info.appHttps}/healthz, timeout: 5 }
    expect: { status: [200] }
  - name: targets up
    prometheus: { url: ${env.info.prometheus}, query: 'count(up{job="sample-app"})' }
    successCondition: result >= 1
  - name: managed targets up
    prometheus: { url: ${env.info.azureMonitorPrometheus}, query: 'count(up{job="sample-app"})', azureMonitor: true }
    successCondition: result >= 1
` } }, extra));
  };
  const hosts = () => ({
    app: new URL(env.info.appHttps).host, prometheus: new URL(env.info.prometheus).host,
    monitor: new URL(env.info.azureMonitorPrometheus).host, entra: new URL(env.entra.url).host,
  });

  it('queries every check and gets its Entra token through the proxy, without the password in the log', async () => {
    const mark = env.proxy.mark();
    const r = await gate(agentProxy(env));
    assert.equal(r.result?.status, 'Succeeded', `${r.result?.message}\n${r.stdout.slice(-2000)}`);
    const h = hosts();
    await assertProxied(env, mark, [h.app, h.prometheus, h.monitor, h.entra]);
    assertNoProxyPassword(env, r);
  });

  it('queries the Prometheus server the bypass list names directly', async () => {
    const mark = env.proxy.mark();
    const h = hosts();
    const r = await gate(agentProxy(env, { bypass: [`^http://${h.prometheus.replace(/\./g, '\\.')}/`] }));
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    await assertProxied(env, mark, [h.app, h.monitor, h.entra], [h.prometheus]);
  });

  it('fails naming the proxy when it refuses the password', async () => {
    const wrong = 'wrong-proxy-password';
    const r = await runTask('acceptance-gate', mergeRunOptions({ caFile: env.ca.caCertPath, inputs: { gate: `
timeout: 3
interval: 0.2
requiredSuccesses: 1
checks:
  - name: health
    http: { url: ${env.info.appHttps}/healthz, timeout: 2 }
` } }, agentProxy(env, { password: wrong })));
    assert.ok(r.stdout.includes(env.proxy.url), 'the log names the proxy');
    assertProxyRefused(env, r, wrong);
  });

  it("trusts the environment's CA given only as Agent.CAInfo", async () => {
    const mark = env.proxy.mark();
    const r = await gate({ ...agentProxy(env), caFile: undefined, agentCaFile: env.ca.caCertPath });
    assert.equal(r.result?.status, 'Succeeded', `${r.result?.message}\n${r.stdout.slice(-2000)}`);
    const h = hosts();
    await assertProxied(env, mark, [h.app, h.prometheus, h.monitor, h.entra]);
  });
});
