import { strict as assert } from 'node:assert';
import type { RunOptions } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../helpers/connections';
import { agentProxy, assertNoProxyPassword, assertProxied, assertProxyRefused } from '../helpers/proxy';
import { type DeployFixture, describeRun, freshNamespace, get, runDeploy, useDeployFixture, workload, writeManifest } from './deploy-to-aks-fixture';

describe("DeployToAks@1 behind the agent's proxy (agent run)", function () {
  this.timeout(90_000);
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });

  /** Through ARM with workload identity federation: the OIDC endpoint, Entra ID, ARM and the API server (watches too). */
  const deploy = (extra: Partial<RunOptions>) => {
    const { id, options } = azureRmConnection(f.env, 'federated');
    const ns = freshNamespace(f);
    const inputs = {
      connectionType: 'azureResourceManager', azureSubscription: id, resourceGroup: f.cluster.resourceGroup, kubernetesCluster: f.cluster.name, kubeconfig: undefined,
      manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1 })), namespace: ns,
    };
    return { ns, run: runDeploy(f, inputs, mergeRunOptions(options, extra)) };
  };
  const hosts = () => ({
    devops: new URL(f.env.devops.oidcRequestUri).host, entra: new URL(f.env.entra.url).host, arm: new URL(f.env.arm.url).host, cluster: new URL(f.env.info.clusters.staging.server).host,
  });

  it('reaches the OIDC endpoint, Entra ID, ARM and the API server through the proxy, without the password in the log', async () => {
    const mark = f.env.proxy.mark();
    const { ns, run } = deploy(agentProxy(f.env));
    const r = await run;
    assert.equal(r.result?.status, 'Succeeded', describeRun(r));
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web')?.status.availableReplicas, 1);
    const h = hosts();
    await assertProxied(f.env, mark, [h.devops, h.entra, h.arm, h.cluster]);
    assertNoProxyPassword(f.env, r);
  });

  it('reaches the API server directly when the bypass list names it', async () => {
    const mark = f.env.proxy.mark();
    const h = hosts();
    const r = await deploy(agentProxy(f.env, { bypass: [h.cluster.replace(/\./g, '\\.')] })).run;
    assert.equal(r.result?.status, 'Succeeded', describeRun(r));
    await assertProxied(f.env, mark, [h.entra, h.arm], [h.cluster]);
  });

  it('fails naming the proxy when it refuses the password', async () => {
    const wrong = 'wrong-proxy-password';
    assertProxyRefused(f.env, await deploy(agentProxy(f.env, { password: wrong })).run, wrong);
  });

  // The cluster's API server has a CA of its own, which only its kubeconfig carries: trusted beside Agent.CAInfo.
  it("trusts the environment's CA given only as Agent.CAInfo, and the cluster's own CA beside it", async () => {
    const mark = f.env.proxy.mark();
    const r = await deploy({ ...agentProxy(f.env), caFile: undefined, agentCaFile: f.env.ca.caCertPath }).run;
    assert.equal(r.result?.status, 'Succeeded', describeRun(r));
    const h = hosts();
    await assertProxied(f.env, mark, [h.devops, h.entra, h.arm, h.cluster]);
  });
});
