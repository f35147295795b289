import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type { Environment } from '../env';
import { AZURE_MONITOR_PROMETHEUS_AUDIENCE, namesMetric } from '../env/monitoring';
import { sharedEnvironment } from '../helpers/environment';
import { httpsRequest } from '../helpers/https';

describe('acceptance-gate environment: sample app, Prometheus, Azure Monitor query endpoint', function () {
  this.timeout(60_000);
  let env: Environment;
  before(async function () {
    this.timeout(120_000);
    env = await sharedEnvironment();
  });
  afterEach(() => {
    env.monitoring.app.reset();
    env.clearFaults();
  });

  it('serves /healthz and /metrics, and changes health and latency while it runs', async () => {
    let res = await fetch(`${env.info.app}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'healthy', checks: { database: 'ok' } });
    env.monitoring.app.set({ healthy: false, latencyMs: 150 });
    const started = Date.now();
    res = await fetch(`${env.info.app}/healthz`);
    assert.equal(res.status, 503);
    assert.ok(Date.now() - started >= 140, 'the latency applies');
    res = await fetch(`${env.info.app}/metrics`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(await res.text(), /^http_requests_total\{code="500",service="api"\} \d+$/m);
  });

  it('has the real Prometheus scraping the sample app', async () => {
    const up = await env.monitoring.prometheus.waitFor('up{job="sample-app"}', (v) => v === 1);
    assert.equal(up, 1);
    const res = await fetch(`${env.info.prometheus}/api/v1/query?query=${encodeURIComponent('sum(rate(foo[5m])')}`);
    assert.equal(res.status, 400, 'Prometheus itself rejects bad PromQL');
    assert.equal(((await res.json()) as { errorType: string }).errorType, 'bad_data');
  });

  it('requires an Entra token for the Azure Monitor audience from a Monitoring Data Reader', async () => {
    const url = `${env.info.azureMonitorPrometheus}/api/v1/query`;
    const query = `query=${encodeURIComponent('count(up{job="sample-app"})')}`;
    const ca = fs.readFileSync(env.ca.caCertPath, 'utf8');
    const post = (token?: string) => httpsRequest(url, {
      ca, method: 'POST', body: query,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    let res = await post();
    assert.equal(res.status, 401);
    assert.match(String(res.headers['www-authenticate']), /^Bearer /);
    res = await post(env.entra.issueAccessToken(env.identities.secret, env.arm.url).token);
    assert.equal(res.status, 401, 'a token for ARM is refused');
    res = await post(env.entra.issueAccessToken(env.identities.noAccess, AZURE_MONITOR_PROMETHEUS_AUDIENCE).token);
    assert.equal(res.status, 403);
    const token = env.entra.issueAccessToken(env.identities.secret, AZURE_MONITOR_PROMETHEUS_AUDIENCE).token;
    res = await post(token);
    assert.equal(res.status, 200, res.text);
    const body = res.body as { status: string; data: { resultType: string; result: { value: [number, string] }[] } };
    assert.equal(body.status, 'success');
    assert.equal(body.data.result[0].value[1], '1');
    res = await httpsRequest(`${url}?query=${encodeURIComponent('vector(1)')}`, { ca, headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 400, 'a query scoped to no metric is refused');
    assert.match(res.text, /"errorType":"bad_data"/);
    res = await httpsRequest(`${env.info.azureMonitorPrometheus}/api/v1/targets`, { ca, headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 404, 'only the documented paths are served');
  });

  it('tells queries that name a metric from those that do not', () => {
    for (const q of ['up', 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))', 'sum by (code) (rate(x[1m]))', '{__name__="up"}', 'histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m])))']) {
      assert.equal(namesMetric(q), true, q);
    }
    for (const q of ['vector(1)', '0/0', 'sum by (code) (vector(1))', '{code="500"}', 'time() - 5']) assert.equal(namesMetric(q), false, q);
  });
});
