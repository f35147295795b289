import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { requireCommand } from '../env/processes';
import { deployFixture, freshNamespace, workload, writeManifest, type DeployFixture } from './deploy-to-aks-fixture';

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

  it('lists API resources from discovery', async () => {
    const out = await kubectl('api-resources');
    assert.match(out, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
    assert.match(out, /^customresourcedefinitions\s+crd,crds\s+apiextensions\.k8s\.io\/v1\s+false\s+CustomResourceDefinition$/m);
  });

  it('applies server-side, waits for the rollout, gets, waits for a condition and deletes', async () => {
    const ns = freshNamespace(f);
    const file = writeManifest(f, workload({ image: `${f.image}:1.0`, namespace: ns }));
    assert.match(await kubectl('apply', '--server-side', '-f', file), /deployment\.apps\/web serverside-applied/);
    const deployment = f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web')!;
    assert.equal(deployment.metadata.managedFields?.[0]?.manager, 'kubectl', 'kubectl is the field manager');
    assert.match(await kubectl('rollout', 'status', '-n', ns, 'deployment/web', '--timeout=30s'), /deployment "web" successfully rolled out/);
    assert.match(await kubectl('get', '-n', ns, 'deployment', 'web'), /web\s+2\/2\s+2\s+2/);
    const json = JSON.parse(await kubectl('get', '-n', ns, 'pods', '-l', 'app=web', '-o', 'json')) as { items: { status: { phase: string } }[] };
    assert.equal(json.items.length, 2);
    assert.ok(json.items.every((p) => p.status.phase === 'Running'));
    assert.match(await kubectl('wait', '-n', ns, '--for=condition=Available', 'deployment/web', '--timeout=10s'), /condition met/);
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
