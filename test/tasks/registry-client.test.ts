import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';
import type { Environment } from '../env';
import { runScriptAsAgent, secretLeaks } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions, registryConnection } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { freePort } from '../env/processes';
import { OciLayout, skopeoDigest, skopeoPush, skopeoTarget, type SkopeoTarget } from '../helpers/images';

const PROBE = path.join(__dirname, '../probes/registry-resolve.ts');

describe('the registry client against the real registries', function () {
  this.timeout(60_000);
  let env: Environment;
  let target: SkopeoTarget;
  let expected: string;

  before(async () => {
    env = await sharedEnvironment();
    target = skopeoTarget(env, env.registries.nonprod, path.join(env.dir, 'skopeo-certs'));
    const layout = new OciLayout(fs.mkdtempSync(path.join(os.tmpdir(), 'oci-')));
    layout.tag(layout.image([2048, 4096]), 'v1');
    await skopeoPush(layout, 'v1', target, 'registry-client/app', '1.0.0');
    expected = await skopeoDigest(target, 'registry-client/app:1.0.0');
  });
  afterEach(() => env.clearFaults());

  const image = () => `${target.loginServer}/registry-client/app:1.0.0`;

  it('resolves a tag to the digest skopeo reads, with basic credentials', async () => {
    const conn = registryConnection(target.loginServer, env.registries.nonprod.pull.username, env.registries.nonprod.pull.password);
    const run = await runScriptAsAgent(PROBE, { caFile: env.ca.caCertPath, endpoints: conn.endpoints, inputs: { image: image(), registryConnection: conn.id } });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(run.outputs.digest, expected);
    assert.equal(run.outputs.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.deepEqual(secretLeaks(run, [env.registries.nonprod.pull.password]), []);
  });

  it('resolves through ACR token exchange with an Entra identity that has a role on the registry', async () => {
    const { id, options } = azureRmConnection(env, 'federated');
    const run = await runScriptAsAgent(PROBE, mergeRunOptions(options, { inputs: { image: image(), azureSubscription: id } }));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(run.outputs.digest, expected);
  });

  it('explains a denial when the Entra identity has no role on the registry', async () => {
    const { id, options } = azureRmConnection(env, 'noAccess');
    const run = await runScriptAsAgent(PROBE, mergeRunOptions(options, { inputs: { image: image(), azureSubscription: id } }));
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /requires authentication|denied/);
    assert.match(run.result!.message, /registry-client\/app/);
  });

  it('says that anonymous access was refused', async () => {
    const run = await runScriptAsAgent(PROBE, { caFile: env.ca.caCertPath, inputs: { image: image() } });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /refused anonymous access/);
  });

  it('survives 429, 503 and a dropped connection from the registry', async () => {
    const faults = env.registries.nonprod.registry.faults;
    faults.failNext('429', 1, { match: /manifests/, retryAfterSeconds: 0 });
    faults.failNext('503', 1, { match: /manifests/ });
    faults.failNext('drop', 1, { match: /manifests/ });
    const conn = registryConnection(target.loginServer, env.registries.nonprod.pull.username, env.registries.nonprod.pull.password);
    const run = await runScriptAsAgent(PROBE, { caFile: env.ca.caCertPath, endpoints: conn.endpoints, inputs: { image: image(), registryConnection: conn.id } });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(run.outputs.digest, expected);
    assert.deepEqual([faults.served['429'], faults.served['503'], faults.served.drop], [1, 1, 1]);
  });

  it('reaches a loopback registry that does not answer HTTPS over plain HTTP, as Docker does', async () => {
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 }, layers: [] }));
    const server = http.createServer((req, res) => {
      if (req.url === '/v2/plain/app/manifests/1') {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': manifest.length });
        res.end(manifest);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const run = await runScriptAsAgent(PROBE, { caFile: env.ca.caCertPath, inputs: { image: `127.0.0.1:${port}/plain/app:1` } });
      assert.equal(run.result?.status, 'Succeeded', run.result?.message);
      assert.equal(run.outputs.digest, `sha256:${createHash('sha256').update(manifest).digest('hex')}`);
    } finally {
      server.close();
    }
  });

  it('does not retry a registry that is not there', async () => {
    const port = await freePort();
    const run = await runScriptAsAgent(PROBE, { caFile: env.ca.caCertPath, inputs: { image: `127.0.0.1:${port}/app:1` } });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, new RegExp(`Cannot reach the registry 127\\.0\\.0\\.1:${port} \\(cannot connect to 127\\.0\\.0\\.1:${port}: connection refused\\)`));
    assert.ok(run.durationMs < 5000);
  });
});
