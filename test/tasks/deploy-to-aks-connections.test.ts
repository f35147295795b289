import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { secretLeaks } from '../helpers/agent';
import { node24Binary } from '../helpers/node24';
import { azureRmConnection, type AzureCredentialKind } from '../helpers/connections';
import { type DeployFixture, describeRun, freshNamespace, get, runDeploy, useDeployFixture, workload, writeManifest } from './deploy-to-aks-fixture';

/** The AKS server app: asked for as a scope (`…/.default`), or as a resource by managed identities. */
const AKS_SERVER_APP = '6dae42f8-4368-4678-94ff-3960e28e3630';

describe('DeployToAks@1: connections', function () {
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });

  const arm = (kind: AzureCredentialKind, cluster: 'staging' | 'production', inputs: Record<string, string | boolean> = {}) => {
    const { id, options } = azureRmConnection(f.env, kind);
    const c = f.env.aks.clusters[cluster];
    return { id, options, inputs: { connectionType: 'azureResourceManager', azureSubscription: id, resourceGroup: c.resourceGroup, kubernetesCluster: c.name, kubeconfig: undefined, ...inputs } };
  };

  const kinds: [AzureCredentialKind, string][] = [
    ['federated', 'workload identity federation'],
    ['secret', 'service principal secret'],
    ['certificate', 'service principal certificate'],
    ['managed', 'managed identity'],
  ];
  for (const [kind, title] of kinds) {
    it(`deploys to the AAD cluster through ARM with a ${title}, minting the AKS token in-process`, async () => {
      const ns = freshNamespace(f);
      const c = arm(kind, 'staging');
      const before = f.env.entra.tokenRequests.length;
      const run = await runDeploy(f, { ...c.inputs, manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1 })), namespace: ns }, c.options);
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web')?.status.availableReplicas, 1);
      assert.ok(run.logLines.some((l) => l.includes(`Microsoft Entra token of the service connection (${title})`)), describeRun(run));
      const requests = f.env.entra.tokenRequests.slice(before);
      assert.ok(requests.some((r) => r.clientId === f.env.identities[kind].clientId && r.scope.startsWith(AKS_SERVER_APP)), `a token for the AKS server app was requested: ${JSON.stringify(requests)}`);
      assert.deepEqual(secretLeaks(run, [f.env.identities[kind].clientSecret, f.env.devops.accessToken]), []);
    });
  }

  it('refreshes the AKS token during a long wait', async () => {
    const ns = freshNamespace(f);
    const c = arm('secret', 'staging');
    const lifetime = f.env.entra.tokenLifetimeSeconds;
    f.env.entra.tokenLifetimeSeconds = 2;
    // Drops the watches once the task has watched for longer than its token lives (the task's start takes seconds
    // on a busy machine, so the moment is taken from its first watch, not from the start of the run).
    const kube = f.cluster.kube;
    const from = kube.requests.length;
    let watchingSince = 0;
    const drop = setInterval(() => {
      if (!watchingSince && kube.requests.slice(from).some((r) => r.includes('watch=true'))) watchingSince = Date.now();
      if (watchingSince && Date.now() - watchingSince > 2500) { kube.dropWatches(); clearInterval(drop); }
    }, 50);
    try {
      const before = f.env.entra.tokenRequests.length;
      const run = await runDeploy(f, { ...c.inputs, manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1, env: { STARTUP_DELAY_SECONDS: '5' }, readinessProbe: true })), namespace: ns }, c.options);
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      const aksTokens = f.env.entra.tokenRequests.slice(before).filter((r) => r.scope.startsWith(AKS_SERVER_APP));
      assert.ok(aksTokens.length >= 2, `the token was renewed (${aksTokens.length} requests)\n${describeRun(run)}`);
    } finally {
      clearInterval(drop);
      f.env.entra.tokenLifetimeSeconds = lifetime;
    }
  });

  it('deploys on the Node24 handler too (workload identity federation, AAD cluster)', async function () {
    this.timeout(120_000);
    const node = node24Binary();
    const ns = freshNamespace(f);
    const c = arm('federated', 'staging');
    const run = await runDeploy(f, { ...c.inputs, manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1 })), namespace: ns }, { ...c.options, node });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.equal(run.stderr, '');
  });

  it('retries throttling and server errors from ARM and from the cluster', async () => {
    const ns = freshNamespace(f);
    const c = arm('secret', 'staging');
    f.env.arm.faults.failNext('429', 1, { match: /listClusterUserCredential/, retryAfterSeconds: 0 });
    f.env.arm.faults.failNext('503', 1, { match: /listClusterUserCredential/, retryAfterSeconds: 0 });
    f.cluster.kube.faults.failNext('503', 1, { match: /^GET \/version/, retryAfterSeconds: 0 });
    const run = await runDeploy(f, { ...c.inputs, manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }'), namespace: ns }, c.options);
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.equal(f.env.arm.faults.served['429'] + f.env.arm.faults.served['503'], 2);
    assert.equal(f.cluster.kube.faults.served['503'], 1);
  });

  it('uses the admin credentials (a client certificate) when asked', async () => {
    const ns = freshNamespace(f);
    const c = arm('secret', 'staging', { useClusterAdmin: true });
    const run = await runDeploy(f, { ...c.inputs, manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }'), namespace: ns }, c.options);
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.ok(run.logLines.some((l) => l.includes('with client certificate')), describeRun(run));
    const keyLine = f.cluster.adminKubeconfig().split('\n').find((l) => l.includes('client-key-data'))!.split(': ')[1];
    assert.ok(run.secrets.some((s) => s.includes(keyLine.slice(0, 40))), 'the kubeconfig is registered as a secret');
    assert.deepEqual(secretLeaks(run, [keyLine]), []);
  });

  it('explains that a cluster with local accounts disabled has no admin credentials', async () => {
    const c = arm('secret', 'production', { useClusterAdmin: true });
    const run = await runDeploy(f, { ...c.inputs, manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }') }, c.options);
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /Input 'useClusterAdmin': the AKS cluster 'aks-production' has local accounts disabled.*Set useClusterAdmin to false/);
  });

  it('deploys to the production cluster (local accounts disabled) with the user credentials', async () => {
    const ns = freshNamespace(f, 'prod', f.env.aks.clusters.production.kube);
    const c = arm('federated', 'production');
    const run = await runDeploy(f, { ...c.inputs, manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1 })), namespace: ns }, c.options);
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.equal(f.env.aks.clusters.production.kube.get('apps/v1', 'Deployment', ns, 'web')?.status.availableReplicas, 1);
  });

  it('names a wrong cluster name and a missing role', async () => {
    const wrong = arm('secret', 'staging', { kubernetesCluster: 'aks-nope' });
    const run = await runDeploy(f, { ...wrong.inputs, manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }') }, wrong.options);
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /Input 'kubernetesCluster': there is no AKS cluster 'aks-nope' in resource group 'delivery-staging'/);

    const denied = arm('noAccess', 'staging');
    const run2 = await runDeploy(f, { ...denied.inputs, manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }') }, denied.options);
    assert.equal(run2.result?.status, 'Failed');
    assert.match(run2.result!.message, /may not get the user credentials of the AKS cluster 'aks-staging'\. Give its identity the 'Azure Kubernetes Service Cluster User Role'/);
  });

  it('runs a kubeconfig\'s exec credential plugin (other than an interactive kubelogin)', async () => {
    const ns = freshNamespace(f);
    const { token } = f.cluster.serviceAccountKubeconfig([ns]);
    const plugin = path.join(f.dir, `credential-${ns}.js`);
    fs.writeFileSync(plugin, `process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: ${JSON.stringify(token)} } }));`);
    const kubeconfig = path.join(f.dir, `exec-${ns}.kubeconfig`);
    fs.writeFileSync(kubeconfig, f.cluster.adminKubeconfig().replace(/ {2}user:\n( {4}.*\n)+/, `  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: ${process.execPath}\n      args: [${JSON.stringify(plugin)}]\n`));
    const run = await runDeploy(f, { kubeconfig, manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }'), namespace: ns });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.ok(run.logLines.some((l) => l.includes(`with exec plugin '${process.execPath}'`)), describeRun(run));
    assert.ok(get(f, 'v1', 'ConfigMap', ns, 'a'));
  });

  it('deploys through a Kubernetes service connection of type service account', async () => {
    const ns = freshNamespace(f);
    const { token } = f.cluster.serviceAccountKubeconfig([ns]);
    const id = randomUUID();
    const run = await runDeploy(f, {
      connectionType: 'kubernetesServiceConnection', kubernetesServiceConnection: id, kubeconfig: undefined,
      manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1 })), namespace: ns,
    }, {
      endpoints: { [id]: { url: f.cluster.kube.url, scheme: 'Token', parameters: { apiToken: Buffer.from(token).toString('base64'), serviceAccountCertificate: Buffer.from(f.cluster.kube.caPem).toString('base64') }, data: { authorizationType: 'ServiceAccount' } } },
    });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web')?.status.availableReplicas, 1);
    assert.deepEqual(secretLeaks(run, [token]), []);
  });

  it('deploys through a Kubernetes service connection holding a kubeconfig, and refuses one that would prompt for a device code', async () => {
    const ns = freshNamespace(f);
    const id = randomUUID();
    const endpoint = (kubeconfig: string) => ({ [id]: { url: f.cluster.kube.url, scheme: 'Kubernetes', parameters: { kubeconfig }, data: { authorizationType: 'Kubeconfig' } } });
    const inputs = { connectionType: 'kubernetesServiceConnection', kubernetesServiceConnection: id, kubeconfig: undefined, manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }'), namespace: ns };
    const run = await runDeploy(f, inputs, { endpoints: endpoint(f.cluster.adminKubeconfig()) });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.ok(get(f, 'v1', 'ConfigMap', ns, 'a'));

    const aad = await runDeploy(f, inputs, { endpoints: endpoint(f.cluster.userKubeconfig()) });
    assert.equal(aad.result?.status, 'Failed');
    assert.match(aad.result!.message, /signs in to a Microsoft Entra \(AAD\) cluster interactively \(kubelogin devicecode\).*Use connectionType 'azureResourceManager'/);
  });
});
