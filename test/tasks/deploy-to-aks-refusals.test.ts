import { strict as assert } from 'node:assert';
import { raw } from '../fidelity/apiserver-client';
import { type DeployFixture, describeRun, freshNamespace, get, runDeploy, useDeployFixture, workload, writeManifest } from './deploy-to-aks-fixture';

/** The apply requests the task sent for one object (to tell one attempt from retries). */
function applies(f: DeployFixture, ns: string, name: string): number {
  return f.cluster.kube.requests.filter((r) => r.startsWith(`PATCH /apis/apps/v1/namespaces/${ns}/deployments/${name}?`)).length;
}

describe('DeployToAks@1: manifests the API server refuses, and fields others own', function () {
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });

  it('fails once on an unknown field with the server\'s typed-patch message (a 500 that is not retried)', async () => {
    const ns = freshNamespace(f);
    const run = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, extraSpec: 'replicaCount: 2' })), namespace: ns });
    assert.equal(run.result?.status, 'Failed', describeRun(run));
    assert.match(run.result!.message, new RegExp(`Deployment ${ns}/web .* is invalid: failed to create typed patch object \\(${ns}/web; apps/v1, Kind=Deployment\\): \\.spec\\.replicaCount: field not declared in schema\\. Fix the manifest\\.`));
    assert.equal(applies(f, ns, 'web'), 1, 'the refusal is the manifest\'s, not a transient server error');
  });

  it('fails once on a value of the wrong type (replicas: "two"), naming the field', async () => {
    const ns = freshNamespace(f);
    const manifest = workload({ image: `${f.image}:1.0` }).replace('replicas: 2', 'replicas: "two"');
    const run = await runDeploy(f, { manifests: writeManifest(f, manifest), namespace: ns });
    assert.equal(run.result?.status, 'Failed', describeRun(run));
    assert.match(run.result!.message, /\.spec\.replicas: expected numeric \(int or float\), got string\. Fix the manifest\./);
    assert.equal(applies(f, ns, 'web'), 1);
  });

  it('fails once on a changed Deployment selector with the server\'s 422 (field is immutable)', async () => {
    const ns = freshNamespace(f);
    const first = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1 })), namespace: ns });
    assert.equal(first.result?.status, 'Succeeded', describeRun(first));
    const before = applies(f, ns, 'web');
    const changed = workload({ image: `${f.image}:1.0`, replicas: 1 }).replace('matchLabels: { app: web }', 'matchLabels: { app: web, track: blue }').replace('labels: { app: web }', 'labels: { app: web, track: blue }');
    const run = await runDeploy(f, { manifests: writeManifest(f, changed), namespace: ns });
    assert.equal(run.result?.status, 'Failed', describeRun(run));
    // The server's 422, and what to do: the field cannot change in place, so delete and deploy again.
    assert.match(run.result!.message, /the cluster refuses to change spec\.selector.*Deployment\.apps "web" is invalid: spec\.selector: Invalid value: v1\.LabelSelector\{.*\}: field is immutable/);
    assert.match(run.result!.message, /delete the object and deploy again \(kubectl delete deployment web -n /);
    assert.equal(applies(f, ns, 'web') - before, 1);
  });

  it('keeps the replicas an autoscaler set when the manifest hands them over (stops setting replicas)', async () => {
    const ns = freshNamespace(f);
    const first = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1 })), namespace: ns });
    assert.equal(first.result?.status, 'Succeeded', describeRun(first));
    // The autoscaler (kube-controller-manager's HPA) writes spec.replicas through the scale subresource, an Update.
    const scaled = await raw({ f }, 'PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/web/scale?fieldManager=horizontal-pod-autoscaler`, { spec: { replicas: 3 } }, 'application/merge-patch+json');
    assert.equal(scaled.status, 200, scaled.text);
    const handedOver = workload({ image: `${f.image}:2.0` }).replace(/\n {2}replicas: \d+/, '');
    const run = await runDeploy(f, { manifests: writeManifest(f, handedOver), namespace: ns });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    const d = get(f, 'apps/v1', 'Deployment', ns, 'web')!;
    assert.equal(d.spec.replicas, 3, 'the autoscaler\'s value stays');
    assert.equal(d.spec.template.spec.containers[0].image, `${f.image}:2.0`);
  });
});
