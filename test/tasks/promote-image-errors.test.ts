import { strict as assert } from 'node:assert';
import { freePort } from '../env/processes';
import * as path from 'node:path';
import { runScriptAsAgent, runTask, secretLeaks } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions, registryConnection } from '../helpers/connections';
import { digestOrNothing, promoteFixture, type Fixture, type Seeded } from './promote-image-fixture';

const PROBE = path.join(__dirname, '../probes/promote-image-import.ts');

describe('PromoteImage@1 bad input and missing access (agent run)', function () {
  this.timeout(60_000);
  let f: Fixture;
  let s: Seeded;

  before(async () => {
    f = await promoteFixture();
    s = await f.seed({ referrers: 'none' });
  });
  afterEach(async () => {
    f.env.clearFaults();
    assert.equal(await digestOrNothing(f.prod, `${s.repository}@${s.digest}`), undefined, 'the production registry is unchanged');
  });

  const source = () => `${f.nonprod.loginServer}/${s.repository}:${s.tag}`;

  it('names the input of a malformed reference', async () => {
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/Shop/Web:1.0` });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /Input 'sourceImage'.*upper-case/);
  });

  it('names the inputs of a target repository name that registries refuse', async () => {
    const run = await f.ociRun({ sourceImage: source(), targetRepository: 'Prod/Web' });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /Inputs 'targetRegistry' and 'targetRepository'.*lower case/);
  });

  it('says when a registry cannot be reached', async () => {
    const port = await freePort();
    const run = await f.ociRun({ sourceImage: source(), targetRegistry: `127.0.0.1:${port}`, targetRegistryConnection: undefined });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, new RegExp(`Cannot reach the registry 127\\.0\\.0\\.1:${port}.*Check the registry name`));
  });

  it('says that the source does not exist', async () => {
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:no-such-tag` });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /Input 'sourceImage'.*does not exist.*Check the repository and the tag/);
  });

  it('says that anonymous access was refused when no credentials are given', async () => {
    const run = await runTask('promote-image', { caFile: f.env.ca.caCertPath, inputs: { sourceImage: source(), targetRegistry: f.prod.loginServer } });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /refused anonymous access.*service connection/);
  });

  it('says which credentials were refused when the password is wrong, without printing it', async () => {
    const bad = registryConnection(f.prod.loginServer, f.prod.username, 'wrong-password-123');
    const run = await f.ociRun({ sourceImage: source(), targetRegistryConnection: bad.id }, { endpoints: bad.endpoints });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, new RegExp(`refused the credentials of registry connection '${bad.id}'`));
    assert.deepEqual(secretLeaks(run, ['wrong-password-123']), []);
  });

  it('says when read-only credentials cannot push', async () => {
    const pull = registryConnection(f.prod.loginServer, f.env.registries.prod.pull.username, f.env.registries.prod.pull.password);
    const run = await f.ociRun({ sourceImage: source(), targetRegistryConnection: pull.id }, { endpoints: pull.endpoints });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /requires authentication|denied|lack permission/);
  });

  it('refuses ACR import to a registry that is not an ACR of the subscription', async () => {
    const src = registryConnection(f.nonprod.loginServer, f.env.registries.nonprod.pull.username, f.env.registries.nonprod.pull.password);
    const run = await f.azureRun({ sourceImage: source(), targetRegistry: 'contosoprod.example.com', method: 'acrImport', sourceRegistryConnection: src.id }, 'secret', { endpoints: src.endpoints });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /Input 'targetRegistry': contosoprod\.example\.com is not an Azure Container Registry in subscription .* set method to ociCopy/);
  });

  it('explains a service connection without the importImage permission', async () => {
    const src = registryConnection(f.nonprod.loginServer, f.env.registries.nonprod.pull.username, f.env.registries.nonprod.pull.password);
    const run = await f.azureRun({ sourceImage: source(), method: 'acrImport', sourceRegistryConnection: src.id }, 'noAccess', { endpoints: src.endpoints });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /is not authorised \(AuthorizationFailed\).*importImage/);
  });

  it('ARM import answers with its documented failures, as the official SDK reads them', async () => {
    const { id, options } = azureRmConnection(f.env, 'secret');
    const prod = f.env.registries.prod;
    const importWith = async (body: unknown, kind: 'secret' | 'noAccess' = 'secret') => {
      const conn = kind === 'secret' ? { id, options } : azureRmConnection(f.env, kind);
      const run = await runScriptAsAgent(PROBE, mergeRunOptions(conn.options, { inputs: { azureSubscription: conn.id, resourceGroup: prod.resourceGroup, registry: prod.name, body: JSON.stringify(body) } }));
      assert.equal(run.result?.status, 'Succeeded', run.result?.message);
      return run.outputs.outcome;
    };
    const nonprodId = f.env.registries.nonprod.resourceId;
    assert.match(await importWith({ source: { resourceId: nonprodId, sourceImage: `${s.repository}:missing` }, targetTags: [`${s.repository}-arm:x`] }), /^400 InvalidParameters Source image .* not found/);
    assert.match(await importWith({ source: { resourceId: nonprodId, sourceImage: `${s.repository}:${s.tag}` }, targetTags: [`${s.repository}-arm:x`] }, 'noAccess'), /^403 AuthorizationFailed .*importImage\/action/);
    assert.equal(await importWith({ source: { resourceId: nonprodId, sourceImage: `${s.repository}:${s.tag}` }, targetTags: [`${s.repository}-arm:x`] }), 'Succeeded');
    assert.match(await importWith({ source: { resourceId: nonprodId, sourceImage: `${s.repository}:${s.tag}` }, targetTags: [`${s.repository}-arm:x`], mode: 'NoForce' }), /^409 Conflict .*already exists.*NoForce/);
    assert.match(await importWith({ source: { registryUri: f.nonprod.loginServer, sourceImage: `${s.repository}:${s.tag}`, credentials: { username: 'someone', password: 'wrong' } }, targetTags: [`${s.repository}-arm:y`] }), /^400 InvalidParameters Unauthorized/);
    assert.equal(await importWith({ source: { registryUri: f.nonprod.loginServer, sourceImage: `${s.repository}:${s.tag}`, credentials: { username: f.env.registries.nonprod.pull.username, password: f.env.registries.nonprod.pull.password } }, targetTags: [`${s.repository}-arm:y`] }), 'Succeeded');
    assert.equal(await digestOrNothing(f.prod, `${s.repository}-arm:y`), s.digest);
  });
});
