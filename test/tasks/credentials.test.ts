import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { Environment } from '../env';
import { runScriptAsAgent, secretLeaks } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions, type AzureCredentialKind } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';

const PROBE = path.join(__dirname, '../probes/azure-token.ts');

describe('Azure credentials from an AzureRM service connection', function () {
  let env: Environment;
  before(async function () {
    this.timeout(60_000);
    env = await sharedEnvironment();
  });
  afterEach(() => {
    env.clearFaults();
    env.devops.oidcTokenLifetimeSeconds = 600;
  });

  const kinds: [AzureCredentialKind, string][] = [
    ['secret', 'service principal with a client secret'],
    ['certificate', 'service principal with a certificate'],
    ['federated', 'workload identity federation'],
    ['managed', 'managed identity'],
  ];
  for (const [kind, title] of kinds) {
    it(`gets an ARM token through a ${title}`, async () => {
      const { id, options } = azureRmConnection(env, kind);
      const before = env.entra.tokenRequests.length;
      const run = await runScriptAsAgent(PROBE, mergeRunOptions(options, { inputs: { azureSubscription: id } }));
      assert.equal(run.result?.status, 'Succeeded', `${run.result?.message}\n${run.stdout}\n${run.stderr}`);
      assert.equal(run.outputs.appid, env.identities[kind].clientId);
      assert.equal(run.outputs.aud, env.arm.url.replace(/\/$/, ''));
      assert.ok(Number(run.outputs.expiresInSeconds) > 3000, 'the token carries its expiry');
      assert.ok(env.entra.tokenRequests.length > before, 'the token came from the Entra emulator');
      const registered = run.secrets.map((s) => createHash('sha256').update(s).digest('hex'));
      assert.ok(registered.includes(run.outputs.tokenSha256), 'the access token is registered as a secret');
      const secrets = [env.identities[kind].clientSecret, env.devops.accessToken];
      assert.deepEqual(secretLeaks(run, secrets), []);
    });
  }

  it('asks the agent for a federated token with the job access token', async () => {
    const { id, options } = azureRmConnection(env, 'federated');
    const before = env.devops.oidcRequests;
    const run = await runScriptAsAgent(PROBE, mergeRunOptions(options, { inputs: { azureSubscription: id } }));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.ok(env.devops.oidcRequests > before);
    const federated = env.devops.servedOidcTokens.at(-1)!;
    assert.ok(run.secrets.includes(env.devops.accessToken), 'the job access token is registered as a secret');
    assert.ok(run.secrets.includes(federated), 'the federated token is registered as a secret');
  });

  it('fails with a clear message, and without printing it, when the client secret is wrong', async () => {
    const wrong = 'wr0ng~secret-value-0123456789';
    const { id, options } = azureRmConnection(env, 'secret', { clientSecret: wrong });
    const run = await runScriptAsAgent(PROBE, mergeRunOptions(options, { inputs: { azureSubscription: id } }));
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /AADSTS7000215/);
    assert.match(run.result!.message, /client secret is wrong or expired/);
    assert.match(run.result!.message, new RegExp(`service connection '${id}'`));
    assert.deepEqual(secretLeaks(run, [wrong, env.identities.secret.clientSecret]), []);
    assert.ok(run.secrets.includes(wrong), 'the secret was registered with the agent before use');
  });

  it('explains an expired federated token', async () => {
    env.devops.oidcTokenLifetimeSeconds = -900;
    const { id, options } = azureRmConnection(env, 'federated');
    const run = await runScriptAsAgent(PROBE, mergeRunOptions(options, { inputs: { azureSubscription: id } }));
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /AADSTS700024/);
    assert.deepEqual(secretLeaks(run, [env.devops.accessToken]), []);
  });

  it('fails clearly when the job has no OIDC endpoint for a federated connection', async () => {
    const { id, options } = azureRmConnection(env, 'federated');
    const run = await runScriptAsAgent(PROBE, mergeRunOptions(options, { inputs: { azureSubscription: id }, variables: { 'System.OidcRequestUri': '' } }));
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /no OIDC request endpoint/);
  });

  it('retries the OIDC request through 429 and 503 answers', async () => {
    // Only the OIDC request: Flux's fetches from Azure Repos reach the same server every second.
    env.devops.faults.failNext('429', 1, { retryAfterSeconds: 0, match: /\/oidctoken/ });
    env.devops.faults.failNext('503', 1, { match: /\/oidctoken/ });
    const { id, options } = azureRmConnection(env, 'federated');
    const run = await runScriptAsAgent(PROBE, mergeRunOptions(options, { inputs: { azureSubscription: id } }));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(env.devops.faults.served['429'], 1);
    assert.equal(env.devops.faults.served['503'], 1);
  });
});
