import { strict as assert } from 'node:assert';
import type { Environment } from '../env';
import { sharedEnvironment } from '../helpers/environment';
import { httpsRequest, type JsonResponse } from '../helpers/https';
import { findingsQuery } from '../../tasks/defender-scan-check/resourceGraph';
import { assessmentRecord, manyPackages, noiseRecords, removeFindings, subAssessmentRecords, writeFindings } from '../data/defender/fixtures';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

// Resource Graph as documented (reference/defender-scan-check.md §2): strict about requests, paging and quota.
describe('the Resource Graph emulator', function () {
  this.timeout(30_000);
  let env: Environment;
  const tokens: Record<string, string> = {};

  before(async () => {
    env = await sharedEnvironment();
    for (const kind of ['secret', 'noAccess'] as const) {
      const id = env.identities[kind];
      const res = await httpsRequest(`${env.entra.url}/${env.entra.tenantId}/oauth2/v2.0/token`, {
        ca: env.ca.caPem, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: id.clientId, client_secret: id.clientSecret!, grant_type: 'client_credentials', scope: 'https://management.azure.com/.default' }).toString(),
      });
      tokens[kind] = (res.body as { access_token: string }).access_token;
    }
  });
  beforeEach(() => {
    writeFindings(env.info.defender.findingsDir, DIGEST, [
      ...manyPackages(2500).map((p) => assessmentRecord(DIGEST, p, { repository: 'shop/web' })),
      ...subAssessmentRecords(DIGEST, { name: 'openssl', installed: '3', cves: [{ id: 'CVE-2024-6119', severity: 'High' }] }, { repository: 'shop/web' }),
      ...noiseRecords(DIGEST, 'shop/web'),
    ]);
  });
  afterEach(() => {
    env.clearFaults();
    removeFindings(env.info.defender.findingsDir, DIGEST);
  });

  const query = (body: unknown, { kind = 'secret', apiVersion = '2024-04-01' }: { kind?: 'secret' | 'noAccess'; apiVersion?: string } = {}): Promise<JsonResponse> =>
    httpsRequest(`${env.arm.url}providers/Microsoft.ResourceGraph/resources?api-version=${apiVersion}`, {
      ca: env.ca.caPem, method: 'POST', headers: { authorization: `Bearer ${tokens[kind]}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
  const error = (res: JsonResponse) => res.body as { error: { code: string; message: string; details?: { code: string }[] } };

  it('pages a digest\'s findings with $skipToken, 1000 rows at most, in id order', async () => {
    const q = findingsQuery('assessments', DIGEST);
    const subscriptions = [env.arm.subscriptionId];
    const ids: string[] = [];
    let skipToken: string | undefined;
    let pages = 0;
    do {
      const res = await query({ query: q, subscriptions, options: { $top: 1000, ...(skipToken ? { $skipToken: skipToken } : {}) } });
      assert.equal(res.status, 200, res.text);
      const page = res.body as { totalRecords: number; count: number; resultTruncated: string; $skipToken?: string; data: { id: string }[] };
      assert.equal(page.totalRecords, 2500, 'the VM record and the other digest are not this image\'s findings');
      assert.equal(page.resultTruncated, 'false');
      assert.equal(page.count, page.data.length);
      ids.push(...page.data.map((r) => r.id));
      skipToken = page.$skipToken;
      pages++;
    } while (skipToken);
    assert.equal(pages, 3);
    assert.equal(new Set(ids).size, 2500);
    assert.deepEqual(ids, [...ids].sort((a, b) => a.localeCompare(b)));
    const sub = await query({ query: findingsQuery('subAssessments', DIGEST), subscriptions });
    assert.equal((sub.body as { count: number }).count, 1);
  });

  it('refuses a $skipToken sent with another query, and $top out of range', async () => {
    const subscriptions = [env.arm.subscriptionId];
    const first = await query({ query: findingsQuery('assessments', DIGEST), subscriptions, options: { $top: 10 } });
    const token = (first.body as { $skipToken: string }).$skipToken;
    assert.ok(token);
    const other = await query({ query: findingsQuery('subAssessments', DIGEST), subscriptions, options: { $skipToken: token } });
    assert.equal(other.status, 400);
    assert.equal(error(other).error.details?.[0].code, 'InvalidSkipToken');
    assert.equal((await query({ query: findingsQuery('assessments', DIGEST), subscriptions, options: { $top: 1001 } })).status, 400);
    assert.equal((await query({ query: findingsQuery('assessments', DIGEST), subscriptions, options: { $skipToken: token, $bogus: 1 } })).status, 400, 'unknown options are refused');
  });

  it('rejects queries it does not recognise instead of guessing', async () => {
    for (const q of ['resources | take 5', 'securityresources | where type =~ "microsoft.security/assessments"', findingsQuery('assessments', DIGEST).replace('SoftwareUpdate', 'Compute')]) {
      const res = await query({ query: q, subscriptions: [env.arm.subscriptionId] });
      assert.equal(res.status, 400, q);
      assert.equal(error(res).error.code, 'BadRequest');
      assert.equal(error(res).error.details?.[0].code, 'InvalidQuery');
    }
    assert.equal((await query({ subscriptions: [env.arm.subscriptionId] })).status, 400, 'a query is required');
  });

  it('sends the quota headers on every answer and 429 with Retry-After once the quota is used up', async () => {
    env.resourceGraph.quota = { limit: 2, windowMs: 3000 };
    const body = { query: findingsQuery('subAssessments', DIGEST), subscriptions: [env.arm.subscriptionId] };
    const a = await query(body);
    const b = await query(body);
    const c = await query(body);
    assert.deepEqual([a.status, b.status, c.status], [200, 200, 429]);
    assert.deepEqual([a.headers['x-ms-user-quota-remaining'], b.headers['x-ms-user-quota-remaining'], c.headers['x-ms-user-quota-remaining']], ['1', '0', '0']);
    assert.match(String(b.headers['x-ms-user-quota-resets-after']), /^00:00:0[0-3]$/);
    assert.match(String(c.headers['retry-after']), /^[0-3]$/);
    assert.equal(error(c).error.code, 'RateLimiting');
  });

  it('answers 403 to an identity without read access, and refuses unknown subscriptions and api-versions', async () => {
    const body = { query: findingsQuery('assessments', DIGEST), subscriptions: [env.arm.subscriptionId] };
    const denied = await query(body, { kind: 'noAccess' });
    assert.equal(denied.status, 403);
    assert.equal(error(denied).error.code, 'AuthorizationFailed');
    const missing = await query({ ...body, subscriptions: ['00000000-0000-0000-0000-000000000000'] });
    assert.equal(missing.status, 400);
    assert.equal(error(missing).error.details?.[0].code, 'NoValidSubscriptionsInQueryRequest');
    assert.equal((await query(body, { apiVersion: '2018-09-01-preview' })).status, 400);
    assert.equal((await query(body, { apiVersion: '2022-10-01' })).status, 200);
  });

  it('serves a table result format when asked', async () => {
    const res = await query({ query: findingsQuery('subAssessments', DIGEST), subscriptions: [env.arm.subscriptionId], options: { resultFormat: 'table' } });
    const data = (res.body as { data: { columns: { name: string }[]; rows: unknown[][] } }).data;
    assert.deepEqual(data.columns.map((c) => c.name), ['id', 'type', 'properties']);
    assert.equal(data.rows.length, 1);
  });

  it('serves a findings file written while it runs', async () => {
    const late = `sha256:${'cd'.repeat(32)}`;
    const body = { query: findingsQuery('assessments', late), subscriptions: [env.arm.subscriptionId] };
    assert.equal(((await query(body)).body as { count: number }).count, 0);
    writeFindings(env.info.defender.findingsDir, late, [assessmentRecord(late, manyPackages(1)[0], { repository: 'shop/web' })]);
    try {
      assert.equal(((await query(body)).body as { count: number }).count, 1);
    } finally {
      removeFindings(env.info.defender.findingsDir, late);
    }
  });
});
