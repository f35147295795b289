import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type DeployFixture, describeRun, freshNamespace, get, runDeploy, useDeployFixture, workload, writeManifest } from './deploy-to-aks-fixture';

describe('DeployToAks@1: applying manifests', function () {
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });

  it('applies a CRD and its custom resource in one run, the CRD established first', async () => {
    const ns = freshNamespace(f);
    const group = `${ns}.example.com`;
    const crd = [
      'apiVersion: apiextensions.k8s.io/v1', 'kind: CustomResourceDefinition', `metadata: { name: widgets.${group} }`, 'spec:', `  group: ${group}`,
      '  names: { kind: Widget, plural: widgets, singular: widget }', '  scope: Namespaced', '  versions:', '  - name: v1', '    served: true', '    storage: true',
      '    schema:', '      openAPIV3Schema:', '        type: object', '        properties:', '          spec:', '            type: object',
      '            x-kubernetes-preserve-unknown-fields: true', '            required: [size]',
    ].join('\n');
    const cr = `apiVersion: ${group}/v1\nkind: Widget\nmetadata: { name: big }\nspec: { size: 3, colour: blue }`;
    // The custom resource comes first in the file: the task orders the CRD before it.
    const run = await runDeploy(f, { manifests: writeManifest(f, cr, crd), namespace: ns });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    const stored = get(f, 'apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, `widgets.${group}`)!;
    assert.equal(stored.spec.versions[0].schema.openAPIV3Schema.properties.spec['x-kubernetes-preserve-unknown-fields'], true, 'CRD fields the client-node models drop reach the server');
    assert.equal(get(f, `${group}/v1`, 'Widget', ns, 'big')?.spec.colour, 'blue');
    const crdLine = run.logLines.findIndex((l) => l.includes(`CustomResourceDefinition widgets.${group} is established`));
    const crLine = run.logLines.findIndex((l) => l.includes(`Widget ${ns}/big created`));
    assert.ok(crdLine >= 0 && crLine > crdLine, describeRun(run));
  });

  it('dry run of a CRD with its custom resources skips them, asking the cluster about their kind once', async () => {
    const ns = freshNamespace(f);
    const group = `${ns}.example.com`;
    const crd = [
      'apiVersion: apiextensions.k8s.io/v1', 'kind: CustomResourceDefinition', `metadata: { name: gadgets.${group} }`, 'spec:', `  group: ${group}`,
      '  names: { kind: Gadget, plural: gadgets, singular: gadget }', '  scope: Namespaced', '  versions:', '  - name: v1', '    served: true', '    storage: true',
      '    schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }',
    ].join('\n');
    const crs = ['a', 'b', 'c', 'd'].map((name) => `apiVersion: ${group}/v1\nkind: Gadget\nmetadata: { name: ${name} }\nspec: { size: 1 }`);
    const kube = f.cluster.kube;
    const before = kube.requests.length;
    const run = await runDeploy(f, { manifests: writeManifest(f, crd, ...crs), namespace: ns, dryRun: true });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.equal((run.summaries[0]?.content.match(/\| skipped: its CustomResourceDefinition is created by this deployment/g) ?? []).length, 4, run.summaries[0]?.content);
    assert.equal(get(f, 'apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, `gadgets.${group}`), undefined, 'nothing was created');
    const discovery = kube.requests.slice(before).filter((r) => r === `GET /apis/${group}/v1`);
    assert.ok(discovery.length >= 1 && discovery.length <= 2, `discovery of ${group}/v1: ${discovery.length} requests`);
  });

  it('deploys to several namespaces: objects keep their own, others take the input, Namespaces come first', async () => {
    const suffix = freshNamespace(f, 'x');
    const [a, b] = [`${suffix}-a`, `${suffix}-b`];
    const file = writeManifest(f,
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: ${b} }\ndata: { mode: b }`,
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { mode: default }`,
      workload({ image: `${f.image}:1.0`, namespace: a, replicas: 1 }),
      `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${a} }`,
      `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${b} }`,
    );
    const run = await runDeploy(f, { manifests: file, namespace: suffix });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.equal(get(f, 'v1', 'ConfigMap', b, 'settings')?.data.mode, 'b');
    assert.equal(get(f, 'v1', 'ConfigMap', suffix, 'settings')?.data.mode, 'default');
    assert.equal(get(f, 'apps/v1', 'Deployment', a, 'web')?.status.availableReplicas, 1);
    const order = run.logLines.filter((l) => / (created|configured|unchanged)$/.test(l));
    assert.match(order[0], /^Namespace /);
    assert.match(order[1], /^Namespace /);
  });

  it('owns its fields with one field manager: fields left out of the manifests are removed, others\' fields stay', async () => {
    const ns = freshNamespace(f);
    const first = await runDeploy(f, { manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, labels: { tier: web } }\ndata: { a: "1", b: "2" }'), namespace: ns });
    assert.equal(first.result?.status, 'Succeeded', describeRun(first));
    const live = get(f, 'v1', 'ConfigMap', ns, 'settings')!;
    assert.deepEqual(live.metadata.managedFields?.map((m: { manager: string; operation: string }) => `${m.manager}/${m.operation}`), ['aks-secure-delivery/Apply']);
    // Someone else (a person with kubectl) adds a field of their own.
    f.cluster.kube.put({ ...live, data: { ...live.data, c: 'kubectl' } });
    const second = await runDeploy(f, { manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { a: "1" }'), namespace: ns });
    assert.equal(second.result?.status, 'Succeeded', describeRun(second));
    const after = get(f, 'v1', 'ConfigMap', ns, 'settings')!;
    assert.deepEqual(after.data, { a: '1', c: 'kubectl' });
    assert.equal(after.metadata.labels?.tier, undefined);
    assert.match(second.summaries[0]?.content ?? '', /\| ConfigMap\/settings \| .* \| configured \|/);
  });

  it('expands globs, flattens List objects and skips empty documents', async () => {
    const ns = freshNamespace(f);
    const dir = path.join(f.dir, `glob-${ns}`);
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'a.yaml'), `---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- { apiVersion: v1, kind: ConfigMap, metadata: { name: one } }\n- { apiVersion: v1, kind: ConfigMap, metadata: { name: two } }\n---\n`);
    fs.writeFileSync(path.join(dir, 'sub', 'b.yml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: three }\n');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a manifest');
    const run = await runDeploy(f, { manifests: `${dir}/**/*.y*ml`, namespace: ns });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    for (const name of ['one', 'two', 'three']) assert.ok(get(f, 'v1', 'ConfigMap', ns, name), name);
  });

  it('dry run reports each policy denial before anything changes', async () => {
    const ns = freshNamespace(f);
    f.cluster.kube.policies.push((obj) => (obj.kind === 'Deployment' && !obj.spec?.template?.spec?.securityContext?.runAsNonRoot
      ? `[azurepolicy-k8sazurev2noprivilege] Deployment ${obj.metadata.name} must set securityContext.runAsNonRoot` : undefined));
    const file = writeManifest(f, workload({ image: `${f.image}:1.0` }), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { a: b }');
    const run = await runDeploy(f, { manifests: file, namespace: ns, dryRun: true });
    assert.equal(run.result?.status, 'Failed', describeRun(run));
    assert.match(run.result!.message, /Dry run: 1 of 2 objects were refused; nothing was changed\. Deployment .*\/web .* was denied by the cluster's admission policy: admission webhook "validation\.gatekeeper\.sh" denied the request: \[azurepolicy-k8sazurev2noprivilege\]/);
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web'), undefined, 'nothing was created');
    assert.equal(get(f, 'v1', 'ConfigMap', ns, 'settings'), undefined, 'nothing was created');
    assert.match(run.summaries[0]?.content ?? '', /\| Deployment\/web \| .* \| denied: /);
    assert.match(run.summaries[0]?.content ?? '', /\| ConfigMap\/settings \| .* \| created \|/);

    f.cluster.kube.policies.length = 0;
    const clean = await runDeploy(f, { manifests: file, namespace: ns, dryRun: true });
    assert.equal(clean.result?.status, 'Succeeded', describeRun(clean));
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web'), undefined, 'a dry run changes nothing');
  });

  it('warns about an images entry that no container uses, even when another repository starts with its name', async () => {
    const ns = freshNamespace(f);
    const file = writeManifest(f, workload({ image: `${f.image}-admin:1.0` }));
    const run = await runDeploy(f, { manifests: file, namespace: ns, images: `${f.image}:2.0`, dryRun: true });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.ok(run.issues.some((i) => i.type === 'warning' && i.message.includes(`no container uses ${f.image}`)), describeRun(run));
    assert.equal(run.outputs.deployedImages, `${f.image}-admin:1.0`, 'the other repository keeps its image');
  });

  it('dry run tells unchanged from configured, and skips objects in namespaces it would create', async () => {
    const ns = freshNamespace(f);
    const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { a: "${value}" }`;
    const applied = await runDeploy(f, { manifests: writeManifest(f, cm('1')), namespace: ns });
    assert.equal(applied.result?.status, 'Succeeded', describeRun(applied));
    const same = await runDeploy(f, { manifests: writeManifest(f, cm('1')), namespace: ns, dryRun: true });
    assert.match(same.summaries[0]?.content ?? '', /\| ConfigMap\/settings \| .* \| unchanged \|/, describeRun(same));
    const changed = await runDeploy(f, { manifests: writeManifest(f, cm('2')), namespace: ns, dryRun: true });
    assert.match(changed.summaries[0]?.content ?? '', /\| ConfigMap\/settings \| .* \| configured \|/);
    assert.equal(get(f, 'v1', 'ConfigMap', ns, 'settings')?.data.a, '1', 'a dry run changes nothing');
    const fresh = `${ns}-new`;
    const withNamespace = await runDeploy(f, { manifests: writeManifest(f, `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${fresh} }`, cm('3')), namespace: fresh, dryRun: true });
    assert.equal(withNamespace.result?.status, 'Succeeded', describeRun(withNamespace));
    assert.match(withNamespace.summaries[0]?.content ?? '', /\| ConfigMap\/settings \| .* \| skipped: its namespace '.*-new' is created by this deployment/);
    assert.equal(get(f, 'v1', 'Namespace', undefined, fresh), undefined);
  });

  it('fails fast when admission denies the pods of a Deployment (ReplicaFailure)', async () => {
    const ns = freshNamespace(f);
    f.cluster.kube.policies.push((obj) => (obj.kind === 'Pod' && obj.metadata.namespace === ns ? '[azurepolicy-k8sazurev3allowedusersgroups] Container web must not run as root' : undefined));
    const run = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0` })), namespace: ns });
    assert.equal(run.result?.status, 'Failed', describeRun(run));
    assert.match(run.result!.message, /Deployment .*\/web failed: FailedCreate: .*admission webhook "validation\.gatekeeper\.sh" denied the request: \[azurepolicy-k8sazurev3allowedusersgroups\]/);
    assert.ok(run.durationMs < 15_000);
  });

  it('fails fast when a StatefulSet\'s or a DaemonSet\'s pods are refused (FailedCreate events), and succeeds once the refusal is lifted', async function () {
    this.timeout(90_000);
    const ns = freshNamespace(f);
    let refusing = true;
    f.cluster.kube.policies.push((obj) => (refusing && obj.kind === 'Pod' && obj.metadata.namespace === ns ? '[azurepolicy-k8sazurev3noprivilege] Privileged container is not allowed: db' : undefined));
    const statefulSet = workload({ kind: 'StatefulSet', name: 'db', image: `${f.image}:1.0`, replicas: 1 });
    const daemonSet = workload({ kind: 'DaemonSet', name: 'agent', image: `${f.image}:1.0` });
    // One kind per run: the wait stops at the first workload that fails, so with both the other is only "stopped".
    for (const [manifest, reason] of [
      [statefulSet, /StatefulSet .*\/db failed: FailedCreate: create Pod db-0 in StatefulSet db failed error: admission webhook "validation\.gatekeeper\.sh" denied the request: \[azurepolicy-k8sazurev3noprivilege\]/],
      [daemonSet, /DaemonSet .*\/agent failed: FailedCreate: Error creating: admission webhook/],
    ] as const) {
      const refused = await runDeploy(f, { manifests: writeManifest(f, manifest), namespace: ns });
      assert.equal(refused.result?.status, 'Failed', describeRun(refused));
      assert.match(refused.result!.message, reason);
      assert.ok(refused.durationMs < 15_000, `reported after ${refused.durationMs} ms`);
    }
    const manifests = writeManifest(f, statefulSet, daemonSet);
    // The refusals of those runs are history: once the policy lets the pods in, both roll out.
    refusing = false;
    const fixed = await runDeploy(f, { manifests, namespace: ns });
    assert.equal(fixed.result?.status, 'Succeeded', describeRun(fixed));
  });

  it('waits for a bare Pod to become ready', async () => {
    const ns = freshNamespace(f);
    const pod = `apiVersion: v1\nkind: Pod\nmetadata: { name: tool }\nspec:\n  containers:\n  - { name: tool, image: "shop/web", env: [{ name: STARTUP_DELAY_SECONDS, value: "0.5" }], readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 } }`;
    const run = await runDeploy(f, { manifests: writeManifest(f, pod), namespace: ns, images: `${f.image}:1.0` });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.ok(run.logLines.some((l) => l.startsWith(`Pod ${ns}/tool: running and ready`)), describeRun(run));
  });

  it('fails on an admission denial of a real apply, naming the object and the policy', async () => {
    const ns = freshNamespace(f);
    f.cluster.kube.policies.push((obj) => (obj.kind === 'ConfigMap' && obj.data?.password ? '[no-plain-secrets] ConfigMap holds a password' : undefined));
    const run = await runDeploy(f, { manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { password: hunter2 }', 'apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: app }'), namespace: ns });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /\(1 object was applied before it\)$/);
    assert.match(run.summaries[0]?.content ?? '', /\| ServiceAccount\/app \| .* \| created \|/);
    assert.match(run.summaries[0]?.content ?? '', /\| ConfigMap\/settings \| .* \| denied: /);
    assert.match(run.result!.message, new RegExp(`ConfigMap ${ns}/settings \\(.*m-[0-9a-f]+\\.yaml:1\\) was denied by the cluster's admission policy: .*\\[no-plain-secrets\\]`));
  });

  it('rolls back to the previous revision on a failed rollout, and still fails', async () => {
    const ns = freshNamespace(f);
    const good = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, readinessProbe: true })), namespace: ns });
    assert.equal(good.result?.status, 'Succeeded', describeRun(good));
    const bad = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, env: { EXIT_CODE: '1' }, readinessProbe: true })), namespace: ns, rollbackOnFailure: true });
    assert.equal(bad.result?.status, 'Failed', describeRun(bad));
    assert.match(bad.result!.message, /CrashLoopBackOff.*Rolled back Deployment .*\/web to the previous revision\./);
    const d = get(f, 'apps/v1', 'Deployment', ns, 'web')!;
    assert.equal(d.spec.template.spec.containers[0].env, undefined, 'the template is the previous one again');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (get(f, 'apps/v1', 'Deployment', ns, 'web')!.metadata.annotations?.['deployment.kubernetes.io/revision'] !== '3'
      || get(f, 'apps/v1', 'Deployment', ns, 'web')!.status.availableReplicas !== 2)) await new Promise((r) => setTimeout(r, 100));
    const after = get(f, 'apps/v1', 'Deployment', ns, 'web')!;
    assert.equal(after.metadata.annotations?.['deployment.kubernetes.io/revision'], '3', 'the old ReplicaSet became revision 3, as kubectl rollout undo does');
    assert.equal(after.status.availableReplicas, 2);
    assert.match(bad.summaries[0]?.content ?? '', /\| Deployment\/web \| .* \| rolled back \|/);
  });

  it('prunes objects applied earlier for the same app that left the manifests, and lists them', async () => {
    const ns = freshNamespace(f);
    const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name} }\ndata: { a: b }`;
    const first = await runDeploy(f, { manifests: writeManifest(f, cm('keep'), cm('old'), workload({ image: `${f.image}:1.0`, name: 'worker', replicas: 1 })), namespace: ns, appName: `shop-${ns}` });
    assert.equal(first.result?.status, 'Succeeded', describeRun(first));
    f.cluster.kube.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'foreign', namespace: ns, labels: { 'aks-secure-delivery.dev/app': 'another-app' } } });
    const second = await runDeploy(f, { manifests: writeManifest(f, cm('keep')), namespace: ns, appName: `shop-${ns}`, prune: true });
    assert.equal(second.result?.status, 'Succeeded', describeRun(second));
    assert.ok(get(f, 'v1', 'ConfigMap', ns, 'keep'));
    assert.equal(get(f, 'v1', 'ConfigMap', ns, 'old'), undefined);
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'worker'), undefined);
    assert.ok(get(f, 'v1', 'ConfigMap', ns, 'foreign'), 'objects of another app are left alone');
    assert.ok(second.logLines.some((l) => l === `ConfigMap ${ns}/old pruned (applied earlier for app 'shop-${ns}', no longer in the manifests)`), describeRun(second));
    assert.match(second.summaries[0]?.content ?? '', /\| Deployment\/worker \| .* \| pruned \|/);

    const third = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:0.0-missing`, name: 'next', replicas: 1 })), namespace: ns, appName: `shop-${ns}`, prune: true });
    assert.equal(third.result?.status, 'Failed', describeRun(third));
    assert.ok(get(f, 'v1', 'ConfigMap', ns, 'keep'), 'nothing is pruned when the rollout fails');
    assert.ok(third.logLines.includes('Prune skipped: the rollout failed, so the objects of the previous deployment are kept.'));
  });

  describe('bad input', () => {
    it('names the file and line of invalid YAML', async () => {
      const file = writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n');
      const run = await runDeploy(f, { manifests: file });
      assert.equal(run.result?.status, 'Failed');
      assert.match(run.result!.message, new RegExp(`${path.basename(file)}:\\d+:\\d+: invalid YAML`));
    });

    it('names the object without a kind or name', async () => {
      const file = writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: fine }', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { labels: { a: b } }');
      const run = await runDeploy(f, { manifests: file });
      assert.equal(run.result?.status, 'Failed');
      assert.match(run.result!.message, new RegExp(`${path.basename(file)}:5: the ConfigMap has no metadata\\.name`));
    });

    it('refuses an unknown kind before applying anything', async () => {
      const ns = freshNamespace(f);
      const run = await runDeploy(f, { manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }', 'apiVersion: example.com/v1\nkind: Gadget\nmetadata: { name: g }'), namespace: ns });
      assert.equal(run.result?.status, 'Failed');
      assert.match(run.result!.message, /does not serve kind 'Gadget' in apiVersion 'example\.com\/v1'.*install the CustomResourceDefinition/);
      assert.equal(get(f, 'v1', 'ConfigMap', ns, 'a'), undefined);
    });

    it('refuses a namespace that does not exist', async () => {
      const run = await runDeploy(f, { manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a, namespace: nowhere-at-all }') });
      assert.equal(run.result?.status, 'Failed');
      assert.match(run.result!.message, /The namespace 'nowhere-at-all' does not exist .*ConfigMap nowhere-at-all\/a.*Add a Namespace object/);
    });

    it('explains an RBAC refusal', async () => {
      const ns = freshNamespace(f);
      const other = freshNamespace(f);
      const { kubeconfig } = f.cluster.serviceAccountKubeconfig([ns]);
      const file = path.join(f.dir, `sa-${ns}.kubeconfig`);
      fs.writeFileSync(file, kubeconfig);
      const run = await runDeploy(f, { kubeconfig: file, manifests: writeManifest(f, `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a, namespace: ${other} }`) });
      assert.equal(run.result?.status, 'Failed');
      assert.match(run.result!.message, new RegExp(`ConfigMap ${other}/a .*may not patch it: configmaps "a" is forbidden: User "system:serviceaccount:${ns}:deployer" cannot patch resource "configmaps" in API group "" in the namespace "${other}"\\. Grant the identity a Role`));
    });

    it('explains an unreachable API server', async () => {
      const file = path.join(f.dir, 'unreachable.kubeconfig');
      fs.writeFileSync(file, f.cluster.adminKubeconfig().replace(f.cluster.kube.url, 'https://127.0.0.1:9'));
      const run = await runDeploy(f, { kubeconfig: file, manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }') });
      assert.equal(run.result?.status, 'Failed');
      assert.match(run.result!.message, /the API server https:\/\/127\.0\.0\.1:9 could not be reached \(ECONNREFUSED\)\. Check the server address/);
    });
  });
});
