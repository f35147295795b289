import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { runScriptAsAgent, type Endpoint, type RunOptions, type TaskRun } from '../helpers/agent';
import { handedSecrets, watchServedTokens } from '../helpers/credentials';
import { azureRmConnection, mergeRunOptions, registryConnection, type AzureCredentialKind } from '../helpers/connections';
import { type DeployFixture, describeRun, freshNamespace, runDeploy, useDeployFixture, writeManifest } from './deploy-to-aks-fixture';

const AZURE_PROBE = path.join(__dirname, '../probes/azure-token.ts');
const REGISTRY_PROBE = path.join(__dirname, '../probes/registry-resolve.ts');

/** What the agent must mask: each line of a value (the agent masks line by line), PEM armour lines aside. */
function maskedLines(values: string[]): string[] {
  return values.flatMap((v) => v.split(/\r?\n/)).filter((l) => l.trim() && !l.startsWith('-----'));
}

/** Asserts that each secret is among the values the run registered with ##vso[task.setsecret]. */
function assertRegistered(run: TaskRun, secrets: string[], what: string): void {
  assert.ok(secrets.length > 0, `${what}: there is something to register`);
  const registered = new Set(run.secrets);
  const missing = maskedLines(secrets).filter((s) => !registered.has(s)).map((s) => `${s.slice(0, 6)}… (${s.length} chars)`);
  assert.deepEqual(missing, [], `${what}: registered with the agent as secrets`);
}

describe('every secret a task is handed or mints is registered with the agent', function () {
  this.timeout(90_000);
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });

  /** Runs `start` and returns its run with the tokens the emulators served meanwhile. */
  async function minting(start: () => Promise<TaskRun>): Promise<{ run: TaskRun; minted: string[] }> {
    const served = watchServedTokens(f.env);
    const run = await start();
    return { run, minted: served() };
  }

  const kinds: [AzureCredentialKind, string, number][] = [
    ['secret', 'the client secret and the access token', 1],
    ['certificate', 'the certificate\'s key and the access token', 1],
    ['federated', 'the job\'s access token, the federated token and the access token', 2],
    ['managed', 'the access token of a managed identity', 1],
  ];
  for (const [kind, what, atLeast] of kinds) {
    it(`AzureRM (${kind}): ${what}`, async () => {
      const { id, options } = azureRmConnection(f.env, kind);
      const { run, minted } = await minting(() => runScriptAsAgent(AZURE_PROBE, mergeRunOptions(options, { inputs: { azureSubscription: id } })));
      assert.equal(run.result?.status, 'Succeeded', run.result?.message);
      assert.ok(minted.length >= atLeast, `the emulators served ${minted.length} token(s)`);
      assertRegistered(run, [...handedSecrets(options), ...minted], kind);
    });
  }

  it('registry connection: the password and every registry token', async () => {
    const nonprod = f.env.registries.nonprod;
    const conn = registryConnection(nonprod.registry.loginServer, nonprod.pull.username, nonprod.pull.password);
    const options: RunOptions = { caFile: f.env.ca.caCertPath, endpoints: conn.endpoints, inputs: { image: `${f.image}:1.0`, registryConnection: conn.id } };
    const { run, minted } = await minting(() => runScriptAsAgent(REGISTRY_PROBE, options));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.ok(minted.length >= 1);
    assertRegistered(run, [...handedSecrets(options), ...minted], 'basic');
  });

  it('ACR with workload identity federation: the Entra token, the ACR refresh token and every registry token', async () => {
    const { id, options } = azureRmConnection(f.env, 'federated');
    const { run, minted } = await minting(() => runScriptAsAgent(REGISTRY_PROBE, mergeRunOptions(options, { inputs: { image: `${f.image}:1.0`, azureSubscription: id } })));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.ok(minted.length >= 4, 'federated, Entra, refresh and registry tokens');
    assertRegistered(run, [...handedSecrets(options), ...minted], 'ACR exchange');
  });

  it('Kubernetes service connection (service account): the token as handed and as used', async () => {
    const ns = freshNamespace(f);
    const { token } = f.cluster.serviceAccountKubeconfig([ns]);
    const id = randomUUID();
    const endpoints: Record<string, Endpoint> = {
      [id]: { url: f.cluster.kube.url, scheme: 'Token', parameters: { apiToken: Buffer.from(token).toString('base64'), serviceAccountCertificate: Buffer.from(f.cluster.kube.caPem).toString('base64') }, data: { authorizationType: 'ServiceAccount' } },
    };
    const run = await runDeploy(f, {
      connectionType: 'kubernetesServiceConnection', kubernetesServiceConnection: id, kubeconfig: undefined,
      manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: registered }'), namespace: ns,
    }, { endpoints });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assertRegistered(run, [...handedSecrets({ endpoints }), token], 'service account');
  });

  it('AKS through ARM (federated): the AKS token minted for the cluster and every token before it', async () => {
    const { id, options } = azureRmConnection(f.env, 'federated');
    const c = f.env.aks.clusters.production;
    const ns = freshNamespace(f, 't', c.kube);
    const { run, minted } = await minting(() => runDeploy(f, {
      connectionType: 'azureResourceManager', azureSubscription: id, resourceGroup: c.resourceGroup, kubernetesCluster: c.name, kubeconfig: undefined,
      manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: registered }'), namespace: ns,
    }, options));
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.ok(minted.length >= 3, 'federated, ARM and AKS tokens');
    assertRegistered(run, [...handedSecrets(options), ...minted], 'AKS');
  });
});
