import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Environment } from '../env';
import { ArmError } from '../env/arm';
import { sharedEnvironment } from '../helpers/environment';
import { httpsRequest } from '../helpers/https';

// The emulators are strict: they answer as Entra ID and ARM document it, and refuse what those would refuse.
describe('the Entra ID and ARM emulators', function () {
  this.timeout(60_000);
  let env: Environment;
  let ca: string;
  before(async () => {
    env = await sharedEnvironment();
    ca = env.ca.caPem;
  });
  afterEach(() => env.clearFaults());

  const tokenRequest = (form: Record<string, string>, tenant: string = env.entra.tenantId) => httpsRequest(`${env.entra.url}/${tenant}/oauth2/v2.0/token`, {
    ca, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString(),
  });
  const aadCode = (body: unknown) => (body as { error_codes: number[] }).error_codes[0];

  describe('Entra ID', () => {
    it('serves OpenID metadata whose issuer and endpoints follow the Host the client used', async () => {
      const res = await httpsRequest(`${env.entra.url}/${env.entra.tenantId}/v2.0/.well-known/openid-configuration`, { ca });
      const body = res.body as Record<string, string>;
      assert.equal(body.issuer, `${env.entra.url}/${env.entra.tenantId}/v2.0`);
      assert.equal(body.token_endpoint, `${env.entra.url}/${env.entra.tenantId}/oauth2/v2.0/token`);
      assert.ok(body.authorization_endpoint && body.jwks_uri);
    });

    it('issues a signed token with audience and expiry for a client secret', async () => {
      const secret = env.identities.secret;
      const res = await tokenRequest({ client_id: secret.clientId, client_secret: secret.clientSecret!, grant_type: 'client_credentials', scope: 'https://management.azure.com/.default' });
      assert.equal(res.status, 200);
      const token = (res.body as { access_token: string }).access_token;
      const verdict = env.entra.verifyAccessToken(token, ['https://management.azure.com/']);
      assert.ok('claims' in verdict);
      assert.equal(verdict.claims.appid, secret.clientId);
      assert.ok(Number(verdict.claims.exp) > Date.now() / 1000 + 3000);
      assert.ok('error' in env.entra.verifyAccessToken(token, ['https://vault.azure.net/']), 'another audience is refused');
      assert.ok('error' in env.entra.verifyAccessToken(`${token.slice(0, -4)}AAAA`, ['https://management.azure.com/']), 'a forged signature is refused');
    });

    it('answers with the AADSTS codes Azure uses', async () => {
      const secret = env.identities.secret;
      const base = { grant_type: 'client_credentials', scope: 'https://management.azure.com/.default' };
      assert.equal(aadCode((await tokenRequest({ ...base, client_id: secret.clientId, client_secret: 'wrong' })).body), 7000215);
      assert.equal(aadCode((await tokenRequest({ ...base, client_id: '00000000-0000-0000-0000-000000000001', client_secret: 'x' })).body), 700016);
      assert.equal(aadCode((await tokenRequest({ ...base, client_id: secret.clientId, client_secret: secret.clientSecret! }, 'no-such-tenant')).body), 90002);
      assert.equal(aadCode((await tokenRequest({ ...base, client_id: secret.clientId, client_secret: secret.clientSecret!, scope: 'https://management.azure.com/user_impersonation' })).body), 1002012);
      assert.equal(aadCode((await tokenRequest({ ...base, client_id: env.identities.federated.clientId, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: 'not.a.jwt' })).body), 50027);
    });

    it('requires the Metadata header on the managed identity endpoint', async () => {
      const url = `${env.entra.url}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/`;
      assert.equal((await httpsRequest(url, { ca })).status, 400);
      const ok = await httpsRequest(url, { ca, headers: { Metadata: 'true' } });
      assert.equal(ok.status, 200);
      assert.equal((ok.body as { client_id: string }).client_id, env.identities.managed.clientId);
    });
  });

  describe('ARM', () => {
    const armToken = (identity = env.identities.secret) => env.entra.issueAccessToken(identity, 'https://management.azure.com/').token;
    const arm = (path: string, token = armToken(), method = 'GET') => httpsRequest(`${env.arm.url.replace(/\/$/, '')}${path}`, { ca, method, headers: { authorization: `Bearer ${token}` } });
    const errorCode = (body: unknown) => (body as { error: { code: string } }).error.code;
    const sub = () => `/subscriptions/${env.arm.subscriptionId}`;

    it('routes by path and api-version, in the ARM error envelope', async () => {
      assert.equal((await arm(`${sub()}?api-version=2022-12-01`)).status, 200);
      const missing = await arm(sub());
      assert.deepEqual([missing.status, errorCode(missing.body)], [400, 'MissingApiVersionParameter']);
      const unsupported = await arm(`${sub()}?api-version=1999-01-01`);
      assert.deepEqual([unsupported.status, errorCode(unsupported.body)], [400, 'NoRegisteredProviderFound']);
      const unknownType = await arm(`${sub()}/providers/Microsoft.Nothing/things?api-version=2022-12-01`);
      assert.deepEqual([unknownType.status, errorCode(unknownType.body)], [400, 'InvalidResourceType']);
    });

    it('refuses bad tokens and unknown subscriptions, and checks role assignments', async () => {
      const bad = await arm(`${sub()}?api-version=2022-12-01`, 'not-a-token');
      assert.deepEqual([bad.status, errorCode(bad.body)], [401, 'InvalidAuthenticationToken']);
      assert.match(String(bad.headers['www-authenticate']), /authorization_uri=/);
      const wrongAudience = await arm(`${sub()}?api-version=2022-12-01`, env.entra.issueAccessToken(env.identities.secret, 'https://vault.azure.net').token);
      assert.equal(wrongAudience.status, 401);
      const unknown = await arm('/subscriptions/00000000-0000-0000-0000-000000000000?api-version=2022-12-01');
      assert.deepEqual([unknown.status, errorCode(unknown.body)], [404, 'SubscriptionNotFound']);
      const denied = await arm(`${sub()}/resourcegroups?api-version=2021-04-01`, armToken(env.identities.noAccess));
      assert.deepEqual([denied.status, errorCode(denied.body)], [403, 'AuthorizationFailed']);
      assert.match((denied.body as { error: { message: string } }).error.message, new RegExp(env.identities.noAccess.clientId));
      const listed = await arm(`${sub()}/resourcegroups?api-version=2021-04-01`);
      assert.ok((listed.body as { value: { name: string }[] }).value.some((g) => g.name === env.registries.prod.resourceGroup));
      const noGroup = await arm(`${sub()}/resourcegroups/nope?api-version=2021-04-01`);
      assert.deepEqual([noGroup.status, errorCode(noGroup.body)], [404, 'ResourceGroupNotFound']);
    });

    it('runs long-running operations: 202 with Location and Retry-After, then the outcome at the Location', async () => {
      let finish!: () => void;
      let fail!: (e: Error) => void;
      env.arm.route('POST', '/subscriptions/:subscriptionId/providers/Test.Provider/ops/:name', ['2024-01-01'], (x) => {
        env.arm.beginOperation(x, 'Test.Provider', 'test', () => new Promise<void>((resolve, reject) => {
          if (x.params.name === 'ok') finish = resolve; else fail = reject;
        }));
      });
      const started = await arm(`${sub()}/providers/Test.Provider/ops/ok?api-version=2024-01-01`, undefined, 'POST');
      assert.equal(started.status, 202);
      assert.equal(started.headers['retry-after'], String(env.arm.retryAfterSeconds));
      const location = String(started.headers.location);
      assert.match(location, /\/operationResults\/test-[0-9a-f-]{36}$/);
      const poll = () => httpsRequest(location, { ca, headers: { authorization: `Bearer ${armToken()}` } });
      assert.equal((await poll()).status, 202);
      finish();
      await new Promise((r) => setImmediate(r));
      const done = await poll();
      assert.deepEqual([done.status, done.body], [200, { status: 'Succeeded' }]);

      const failing = await arm(`${sub()}/providers/Test.Provider/ops/bad?api-version=2024-01-01`, undefined, 'POST');
      fail(new ArmError(409, 'Conflict', 'the target tag exists'));
      await new Promise((r) => setImmediate(r));
      const failed = await httpsRequest(String(failing.headers.location), { ca, headers: { authorization: `Bearer ${armToken()}` } });
      assert.deepEqual([failed.status, errorCode(failed.body)], [409, 'Conflict']);
    });

    it('injects 429 with Retry-After, 500 and dropped connections on demand', async () => {
      env.arm.faults.failNext('429', 1, { retryAfterSeconds: 7 });
      const throttled = await arm(`${sub()}?api-version=2022-12-01`);
      assert.deepEqual([throttled.status, throttled.headers['retry-after']], [429, '7']);
      env.arm.faults.failNext('500', 1);
      assert.equal((await arm(`${sub()}?api-version=2022-12-01`)).status, 500);
      env.arm.faults.failNext('drop', 1);
      await assert.rejects(arm(`${sub()}?api-version=2022-12-01`), /socket hang up|ECONNRESET/);
      assert.equal((await arm(`${sub()}?api-version=2022-12-01`)).status, 200);
      assert.deepEqual([env.arm.faults.served['429'], env.arm.faults.served['500'], env.arm.faults.served.drop], [1, 1, 1]);
    });
  });
});

// The environment leaves nothing behind: no process that outlives the one that started it, no folder of a failed start.
describe("the environment's processes and folders", function () {
  this.timeout(30_000);
  const root = path.resolve(__dirname, '../..');
  /** Runs `code` in a new Node process that loads TypeScript as the tests do. */
  const node = (code: string, env: NodeJS.ProcessEnv = process.env) =>
    spawn(process.execPath, ['--require', 'tsx/cjs', '-e', code], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = (child: ChildProcess) => new Promise<string>((resolve) => {
    let text = '';
    child.stdout!.on('data', (c: Buffer) => { text += c.toString(); });
    child.stderr!.on('data', (c: Buffer) => { text += c.toString(); });
    child.once('close', () => resolve(text));
  });
  // A process that has ended is gone or, until something reaps it, a zombie.
  const running = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };

  it('ends a child process when the process that started it is killed without stopping it', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'managed-process-'));
    try {
      const parent = node(`const { ManagedProcess } = require('./test/env/processes.ts');
        const p = ManagedProcess.start('sleep', 'sleep', ['300'], ${JSON.stringify(path.join(tmp, 'sleep.log'))});
        console.log(p.pid); setInterval(() => undefined, 1000);`);
      const pid = await new Promise<number>((resolve, reject) => {
        parent.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString().trim())));
        parent.once('exit', () => reject(new Error('the parent exited before it started the child')));
      });
      assert.ok(pid > 0 && running(pid));
      parent.kill('SIGKILL');
      const deadline = Date.now() + 5000;
      while (running(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(running(pid), false, `sleep (pid ${pid}) outlived the killed process that started it`);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('removes the folder it made when the start fails', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'env-start-'));
    try {
      // Without a PATH, the first command the start needs (openssl, for the CA) is missing.
      const child = node(`require('./test/env/index.ts').startEnvironment().then(
        () => { console.log('started'); process.exit(2); }, (e) => { console.log(e.message); process.exit(0); })`, { TMPDIR: tmp, PATH: '' });
      const text = await output(child);
      assert.match(text, /openssl/);
      // (tsx keeps its cache in the same temporary folder.)
      assert.deepEqual(fs.readdirSync(tmp).filter((name) => name.startsWith('aks-delivery-env-')), []);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
