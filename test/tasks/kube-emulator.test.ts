import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as https from 'node:https';
import { promisify } from 'node:util';
import { requireCommand } from '../env/processes';
import { httpsRequest } from '../helpers/https';
import { cleanNamespaces, deployFixture, freshNamespace, workload, writeManifest, type DeployFixture } from './deploy-to-aks-fixture';

const exec = promisify(execFile);

/**
 * Fidelity of the Kubernetes API emulator, checked by a client no one here wrote: kubectl 1.32 with a kubeconfig
 * file, as against a real cluster. Runs asynchronously: the emulator lives in this process.
 */
describe('Kubernetes API emulator, driven by kubectl', function () {
  let f: DeployFixture;
  let kubeconfig: string;
  const kubectl = async (...args: string[]) => (await exec('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 30_000 })).stdout;

  before(async function () {
    this.timeout(120_000);
    requireCommand('kubectl', 'kubectl');
    f = await deployFixture();
    kubeconfig = f.adminKubeconfigPath;
  });

  afterEach(() => cleanNamespaces());

  it('lists API resources from discovery', async () => {
    const out = await kubectl('api-resources');
    assert.match(out, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
    assert.match(out, /^customresourcedefinitions\s+crd,crds\s+apiextensions\.k8s\.io\/v1\s+false\s+CustomResourceDefinition$/m);
  });

  it('gives people a kubeconfig for each cluster in the environment info', async () => {
    for (const key of ['staging', 'production'] as const) {
      const { stdout } = await exec('kubectl', ['--kubeconfig', f.env.info.clusters[key].kubeconfig, 'get', 'nodes'], { timeout: 30_000 });
      assert.match(stdout, /aks-nodepool1-\d+-vmss000000/);
    }
  });

  it('applies server-side, waits for the rollout, gets, waits for a condition and deletes', async () => {
    const ns = freshNamespace(f);
    const file = writeManifest(f, workload({ image: `${f.image}:1.0`, namespace: ns, env: { MODE: 'blue' } }));
    assert.match(await kubectl('apply', '--server-side', '-f', file), /deployment\.apps\/web serverside-applied/);
    const deployment = f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web')!;
    assert.equal(deployment.metadata.managedFields?.[0]?.manager, 'kubectl', 'kubectl is the field manager');
    assert.match(await kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s'), /deployment "web" successfully rolled out/);
    assert.match(await kubectl('get', '-n', ns, 'deployment', 'web'), /web\s+2\/2\s+2\s+2/);
    const json = JSON.parse(await kubectl('get', '-n', ns, 'pods', '-l', 'app=web', '-o', 'json')) as { items: { status: { phase: string } }[] };
    assert.equal(json.items.length, 2);
    assert.ok(json.items.every((p) => p.status.phase === 'Running'));
    assert.match(await kubectl('wait', '-n', ns, '--for=condition=Available', 'deployment/web', '--timeout=10s'), /condition met/);
    await kubectl('set', 'image', '-n', ns, 'deployment/web', `web=${f.image}:2.0`);
    assert.match(await kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s'), /successfully rolled out/);
    assert.deepEqual(f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web')!.spec.template.spec.containers[0].env, [{ name: 'MODE', value: 'blue' }], 'set image merges the container by name');
    assert.match(await kubectl('rollout', 'undo', '-n', ns, 'deployment/web'), /rolled back/);
    assert.match(await kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s'), /successfully rolled out/);
    assert.equal(f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web')!.spec.template.spec.containers[0].image, `${f.image}:1.0`);
    assert.match(await kubectl('delete', '-n', ns, 'deployment', 'web'), /deployment\.apps "web" deleted/);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && f.cluster.kube.list('v1', 'Pod', ns).length) await new Promise((r) => setTimeout(r, 100));
    assert.equal(f.cluster.kube.list('v1', 'Pod', ns).length, 0, 'the ReplicaSet and its pods went with the Deployment');
  });

  it('streams changes to kubectl get --watch', async () => {
    const ns = freshNamespace(f);
    const child = spawn('kubectl', ['--kubeconfig', kubeconfig, 'get', 'configmaps', '-n', ns, '--watch', '-o', 'name'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const file = path.join(f.dir, `watch-${ns}.yaml`);
      fs.writeFileSync(file, `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: watched, namespace: ${ns} }\ndata: { a: b }\n`);
      await kubectl('apply', '--server-side', '-f', file);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !out.includes('configmap/watched')) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, /configmap\/watched/);
    } finally {
      child.kill();
    }
  });

  it('rolls StatefulSets and DaemonSets as kubectl rollout status expects, and serves a server-side dry run', async () => {
    const ns = freshNamespace(f);
    const file = writeManifest(f, workload({ kind: 'StatefulSet', name: 'db', image: `${f.image}:1.0`, namespace: ns, replicas: 2 }), workload({ kind: 'DaemonSet', name: 'agent', image: `${f.image}:1.0`, namespace: ns }));
    assert.match(await kubectl('apply', '--server-side', '--dry-run=server', '-f', file), /statefulset\.apps\/db serverside-applied \(server dry run\)/);
    assert.equal(f.cluster.kube.get('apps/v1', 'StatefulSet', ns, 'db'), undefined, 'the dry run stored nothing');
    await kubectl('apply', '--server-side', '-f', file);
    assert.match(await kubectl('rollout', 'status', '-n', ns, 'statefulset/db', '--timeout=30s'), /partitioned roll out complete: 2 new pods have been updated|statefulset rolling update complete 2 pods/);
    assert.match(await kubectl('rollout', 'status', '-n', ns, 'daemonset/agent', '--timeout=30s'), /daemon set "agent" successfully rolled out/);
    assert.match(await kubectl('get', 'events', '-n', ns), /SuccessfulCreate/);
  });

  it('accepts only Entra tokens for the AKS audience, from identities it knows, and its own credentials', async () => {
    const call = async (token: string) => (await httpsRequest(`${f.cluster.kube.url}/api/v1/namespaces/default/configmaps`,
      { ca: f.cluster.kube.caPem, headers: { authorization: `Bearer ${token}` } })).status;
    const entra = f.env.entra;
    assert.equal(await call(entra.issueAccessToken(f.env.identities.secret, '6dae42f8-4368-4678-94ff-3960e28e3630').token), 200);
    assert.equal(await call(entra.issueAccessToken(f.env.identities.secret, f.env.arm.url).token), 401, 'an ARM token is refused');
    assert.equal(await call(entra.issueAccessToken(f.env.identities.noAccess, '6dae42f8-4368-4678-94ff-3960e28e3630').token), 403, 'an identity without a role binding is forbidden');
    assert.equal(await call('not-a-token'), 401);
    assert.equal(await call(f.cluster.serviceAccountKubeconfig(['default']).token), 200);
  });

  it('sends watch bookmarks when asked, and 410 Gone for a resource version it has forgotten', async () => {
    const ns = freshNamespace(f);
    const token = f.cluster.serviceAccountKubeconfig([ns]).token;
    const watch = (query: string, until: (lines: string[]) => boolean) => new Promise<string[]>((resolve, reject) => {
      const url = new URL(`${f.cluster.kube.url}/api/v1/namespaces/${ns}/configmaps?watch=true&${query}`);
      const req = https.get({ hostname: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, ca: f.cluster.kube.caPem, headers: { authorization: `Bearer ${token}` } }, (res) => {
        const lines: string[] = [];
        let buffer = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          buffer += d;
          const parts = buffer.split('\n');
          buffer = parts.pop()!;
          lines.push(...parts.filter(Boolean));
          if (until(lines)) { req.destroy(); resolve(lines); }
        }).on('end', () => resolve(lines));
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      setTimeout(() => { req.destroy(); resolve([]); }, 5000);
    });
    const bookmarks = await watch('allowWatchBookmarks=true', (lines) => lines.some((l) => l.includes('"BOOKMARK"')));
    const bookmark = JSON.parse(bookmarks.find((l) => l.includes('"BOOKMARK"'))!) as { object: { kind: string; metadata: { resourceVersion: string } } };
    assert.equal(bookmark.object.kind, 'ConfigMap');
    assert.match(bookmark.object.metadata.resourceVersion, /^\d+$/);
    f.cluster.kube.compact();
    const gone = await watch('resourceVersion=1', (lines) => lines.length > 0);
    const error = JSON.parse(gone[0]) as { type: string; object: { code: number; reason: string } };
    assert.deepEqual([error.type, error.object.code, error.object.reason], ['ERROR', 410, 'Expired']);
  });

  it('refuses a field manager conflict without --force-conflicts, as a real API server does', async () => {
    const ns = freshNamespace(f);
    const file = writeManifest(f, `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: shared, namespace: ${ns} }\ndata: { owner: first }`);
    await kubectl('apply', '--server-side', '--field-manager', 'first', '-f', file);
    const second = writeManifest(f, `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: shared, namespace: ${ns} }\ndata: { owner: second }`);
    await assert.rejects(kubectl('apply', '--server-side', '--field-manager', 'second', '-f', second), /conflict/i);
    await kubectl('apply', '--server-side', '--force-conflicts', '--field-manager', 'second', '-f', second);
    assert.equal(f.cluster.kube.get('v1', 'ConfigMap', ns, 'shared')!.data.owner, 'second');
  });
});
