import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Environment } from '../env';
import { runTask, type RunOptions } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { OciLayout, skopeoDigest, skopeoPush, skopeoTarget } from '../helpers/images';
import { agentProxy, assertNoProxyPassword, assertProxied, assertProxyRefused } from '../helpers/proxy';
import { assessmentRecord, removeFindings, writeFindings } from '../data/defender/fixtures';

const REPO = 'defender/proxied';

describe("DefenderScanCheck@1 behind the agent's proxy (agent run)", function () {
  this.timeout(90_000);
  let env: Environment;
  let tmp: string;
  let image: string;
  let digest: string;
  let hosts: { entra: string; arm: string; registry: string };

  before(async function () {
    this.timeout(120_000);
    env = await sharedEnvironment();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'defender-proxy-'));
    const target = skopeoTarget(env, env.registries.nonprod, path.join(tmp, 'certs'));
    const layout = new OciLayout(path.join(tmp, 'layout'));
    layout.tag(layout.image([1024]), 'one');
    await skopeoPush(layout, 'one', target, REPO, '1.0.0');
    digest = await skopeoDigest(target, `${REPO}:1.0.0`);
    image = `${target.loginServer}/${REPO}:1.0.0`;
    writeFindings(env.info.defender.findingsDir, digest, [assessmentRecord(digest, { name: 'zlib', installed: '1.3', severity: 'Low', cves: [] }, { repository: REPO, status: 'Healthy' })]);
    hosts = { entra: new URL(env.entra.url).host, arm: new URL(env.arm.url).host, registry: target.loginServer };
  });
  after(() => {
    removeFindings(env.info.defender.findingsDir, digest);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const run = (extra: Partial<RunOptions>) => {
    const { id, options } = azureRmConnection(env, 'secret');
    return runTask('defender-scan-check', mergeRunOptions(options, { inputs: { azureSubscription: id, image, waitForScan: 5 } }, extra));
  };

  it('reaches Entra ID, ARM (Resource Graph) and the registry through the proxy, without the password in the log', async () => {
    const mark = env.proxy.mark();
    const r = await run(agentProxy(env));
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    await assertProxied(env, mark, [hosts.entra, hosts.arm, hosts.registry]);
    assertNoProxyPassword(env, r);
  });

  it('reaches the host a bypass entry names directly', async () => {
    const mark = env.proxy.mark();
    const r = await run(agentProxy(env, { bypass: [hosts.arm.replace(/\./g, '\\.')] }));
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    await assertProxied(env, mark, [hosts.entra, hosts.registry], [hosts.arm]);
  });

  it('fails naming the proxy when it refuses the password', async () => {
    const wrong = 'wrong-proxy-password';
    assertProxyRefused(env, await run(agentProxy(env, { password: wrong })), wrong);
  });

  it("trusts the environment's CA given only as Agent.CAInfo", async () => {
    const mark = env.proxy.mark();
    const r = await run({ ...agentProxy(env), caFile: undefined, agentCaFile: env.ca.caCertPath });
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    await assertProxied(env, mark, [hosts.entra, hosts.arm, hosts.registry]);
  });
});
