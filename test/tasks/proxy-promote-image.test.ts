import { strict as assert } from 'node:assert';
import { skopeoDigest } from '../helpers/images';
import { agentProxy, assertNoProxyPassword, assertProxied, assertProxyRefused } from '../helpers/proxy';
import { type Fixture, usePromoteFixture } from './promote-image-fixture';

describe("PromoteImage@1 behind the agent's proxy (agent run)", function () {
  this.timeout(120_000);
  let f: Fixture;
  usePromoteFixture((fixture) => { f = fixture; });

  it('copies between the registries through the proxy, as its user, without the password in the log', async () => {
    const s = await f.seed({ referrers: 'none' });
    const mark = f.env.proxy.mark();
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, method: 'ociCopy' }, agentProxy(f.env));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
    await assertProxied(f.env, mark, [f.nonprod.loginServer, f.prod.loginServer]);
    assertNoProxyPassword(f.env, run);
  });

  it('reaches a registry the bypass list names directly, and the other through the proxy', async () => {
    const s = await f.seed({ referrers: 'none' });
    const mark = f.env.proxy.mark();
    // An agent bypass entry is a regular expression over the whole URL (task-lib's getHttpProxyConfiguration).
    const bypass = [`^https://${f.prod.loginServer.replace(/\./g, '\\.')}/`];
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, method: 'ociCopy' }, agentProxy(f.env, { bypass }));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    await assertProxied(f.env, mark, [f.nonprod.loginServer], [f.prod.loginServer]);
  });

  it('matches a bypass entry that is not a regular expression as a host pattern, and says so once', async () => {
    const s = await f.seed({ referrers: 'none' });
    const mark = f.env.proxy.mark();
    // What the agent makes of no_proxy=*.0.0.1 : '*\.0\.0\.1', which JavaScript refuses to compile ("Nothing to repeat").
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, method: 'ociCopy' }, agentProxy(f.env, { bypass: ['*\\.0\\.0\\.1'] }));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    await assertProxied(f.env, mark, [], [f.nonprod.loginServer, f.prod.loginServer]);
    assert.equal(run.issues.filter((i) => i.type === 'warning' && i.message.includes('*\\.0\\.0\\.1')).length, 1, JSON.stringify(run.issues));
  });

  it('fails with a message naming the proxy when the proxy refuses the password', async () => {
    const s = await f.seed({ referrers: 'none' });
    const wrong = 'not-the-proxy-password';
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, method: 'ociCopy' }, agentProxy(f.env, { password: wrong }));
    assertProxyRefused(f.env, run, wrong);
  });

  it("trusts the environment's CA given only as Agent.CAInfo, inside the proxy's tunnels", async () => {
    const s = await f.seed({ referrers: 'none' });
    const mark = f.env.proxy.mark();
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, method: 'ociCopy' },
      { ...agentProxy(f.env), caFile: undefined, agentCaFile: f.env.ca.caCertPath });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    await assertProxied(f.env, mark, [f.nonprod.loginServer, f.prod.loginServer]);
  });
});
