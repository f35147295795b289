import { strict as assert } from 'node:assert';
import { deployment, manifest, raw } from './apiserver-client';
import { fidelity, type FidelityContext } from './harness';

const SSA = 'https://kubernetes.io/docs/reference/using-api/server-side-apply/';
const SMP = 'https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/';

async function getJson(c: FidelityContext, ns: string, what: string) {
  return JSON.parse(await c.kubectl('get', '-n', ns, what, '-o', 'json', '--show-managed-fields'));
}

function image(c: FidelityContext): string {
  return `${c.f.image}:1.0`;
}

describe('Kubernetes emulator fidelity: server-side apply and patches', () => {
  fidelity('merges containers by name: a second manager applying a sidecar keeps the first manager\'s container', `${SSA}#merge-strategy`, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c))));
    const sidecar = ['apiVersion: apps/v1', 'kind: Deployment', 'metadata: {name: web}', 'spec:', '  template:', '    spec:', '      containers:',
      `      - {name: sidecar, image: "${image(c)}"}`].join('\n');
    await c.kubectl('apply', '--server-side', '--force-conflicts', '--field-manager=mesh', '-n', ns, '-f', manifest(sidecar));
    const d = await getJson(c, ns, 'deployment/web');
    assert.deepEqual(d.spec.template.spec.containers.map((x: { name: string }) => x.name), ['app', 'sidecar']);
  });

  fidelity('keeps an env var `kubectl set env` added when the unchanged manifest is applied again, without a new generation', `${SSA}#field-management`, async (c) => {
    const ns = c.namespace();
    const file = manifest(deployment('web', image(c), { env: '- {name: A, value: "1"}' }));
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', file);
    await c.kubectl('set', 'env', '-n', ns, 'deployment/web', 'B=2');
    const before = await getJson(c, ns, 'deployment/web');
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', file);
    const after = await getJson(c, ns, 'deployment/web');
    assert.deepEqual(after.spec.template.spec.containers[0].env, [{ name: 'A', value: '1' }, { name: 'B', value: '2' }]);
    assert.equal(after.metadata.generation, before.metadata.generation);
  });

  fidelity('compares quantities canonically: cpu "0.5" then 500m is no change, stored as 500m', 'https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c), { resources: '{requests: {cpu: "0.5", memory: 64Mi}}' })));
    const first = await getJson(c, ns, 'deployment/web');
    assert.equal(first.spec.template.spec.containers[0].resources.requests.cpu, '500m');
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c), { resources: '{requests: {cpu: 500m, memory: 64Mi}}' })));
    const second = await getJson(c, ns, 'deployment/web');
    assert.equal(second.metadata.generation, first.metadata.generation);
  });

  fidelity('treats an added `resources: {}` as no change (the server already stores it)', 'k8s.io/api/core/v1 types.go: Container.Resources is a struct', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c))));
    const first = await getJson(c, ns, 'deployment/web');
    assert.deepEqual(first.spec.template.spec.containers[0].resources, {});
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c), { resources: '{}' })));
    const second = await getJson(c, ns, 'deployment/web');
    assert.equal(second.metadata.generation, first.metadata.generation);
  });

  fidelity('records per-key ownership in managedFields (k:{"name":"app"} with f:image)', `${SSA}#field-management`, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c))));
    const d = await getJson(c, ns, 'deployment/web');
    const entry = d.metadata.managedFields.find((m: { manager: string }) => m.manager === 'kubectl');
    assert.equal(entry.operation, 'Apply');
    assert.equal(entry.fieldsType, 'FieldsV1');
    const container = entry.fieldsV1['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"app"}'];
    assert.deepEqual(container, { '.': {}, 'f:image': {}, 'f:name': {} });
  });

  fidelity('refuses an apply that changes a field `kubectl set image` owns, with the conflict named', `${SSA}#conflicts`, async (c) => {
    const ns = c.namespace();
    const file = manifest(deployment('web', image(c)));
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', file);
    await c.kubectl('set', 'image', '-n', ns, 'deployment/web', `app=${c.f.image}:2.0`);
    const r = await c.kubectlResult('apply', '--server-side', '-n', ns, '-f', file);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Apply failed with 1 conflict: conflict with "kubectl-set" using apps\/v1: \.spec\.template\.spec\.containers\[name="app"\]\.image/);
  });

  fidelity('answers a conflict with 409 Conflict and a FieldManagerConflict cause', `${SSA}#conflicts`, async (c) => {
    const ns = c.namespace();
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: '1' } };
    const url = `/api/v1/namespaces/${ns}/configmaps/cfg`;
    assert.equal((await raw(c, 'PATCH', `${url}?fieldManager=one`, cm, 'application/apply-patch+yaml')).status, 201);
    const r = await raw(c, 'PATCH', `${url}?fieldManager=two`, { ...cm, data: { a: '2' } }, 'application/apply-patch+yaml');
    assert.equal(r.status, 409);
    assert.equal(r.body.reason, 'Conflict');
    assert.equal(r.body.message, 'Apply failed with 1 conflict: conflict with "one": .data.a');
    assert.deepEqual(r.body.details.causes, [{ type: 'FieldManagerConflict', message: 'conflict with "one"', field: '.data.a' }]);
  });

  fidelity('lets two managers apply the same value without a conflict, and both own it', `${SSA}#conflicts`, async (c) => {
    const ns = c.namespace();
    const cm = manifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: "1"}');
    await c.kubectl('apply', '--server-side', '--field-manager=one', '-n', ns, '-f', cm);
    await c.kubectl('apply', '--server-side', '--field-manager=two', '-n', ns, '-f', cm);
    const obj = await getJson(c, ns, 'configmap/cfg');
    const owners = obj.metadata.managedFields.filter((m: { fieldsV1: { 'f:data'?: object } }) => m.fieldsV1['f:data']).map((m: { manager: string }) => m.manager);
    assert.deepEqual(owners.sort(), ['one', 'two']);
  });

  fidelity('takes ownership with --force-conflicts: the other manager no longer owns the field', `${SSA}#conflicts`, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: "1", b: "1"}'));
    await c.kubectl('apply', '--server-side', '--force-conflicts', '--field-manager=other', '-n', ns, '-f', manifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: "2"}'));
    const obj = await getJson(c, ns, 'configmap/cfg');
    const kubectl = obj.metadata.managedFields.find((m: { manager: string }) => m.manager === 'kubectl');
    assert.deepEqual(Object.keys(kubectl.fieldsV1['f:data']), ['f:b']);
    assert.equal(obj.data.a, '2');
  });

  fidelity('removes a field the manifest stops setting when no one else owns it', `${SSA}#field-management`, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {a: "1", b: "1"}}\ndata: {x: "1", y: "1"}'));
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {a: "1"}}\ndata: {x: "1"}'));
    const obj = await getJson(c, ns, 'configmap/cfg');
    assert.deepEqual(obj.data, { x: '1' });
    assert.deepEqual(obj.metadata.labels, { a: '1' });
  });

  fidelity('keeps replicas another manager set when the manifest stops setting them (the HPA hand-over)', `${SSA}#transferring-ownership`, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c), { replicas: 1 })));
    await c.kubectl('patch', '-n', ns, 'deployment/web', '--field-manager=autoscaler', '--type=merge', '-p', '{"spec":{"replicas":3}}');
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c))));
    const d = await getJson(c, ns, 'deployment/web');
    assert.equal(d.spec.replicas, 3);
  });

  fidelity('re-defaults replicas to 1 when the only owner stops setting them', `${SSA}#transferring-ownership`, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c), { replicas: 2 })));
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c))));
    assert.equal((await getJson(c, ns, 'deployment/web')).spec.replicas, 1);
  });

  fidelity('gives an Update its own managedFields entry for what it changed', `${SSA}#field-management`, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: "1"}'));
    await c.kubectl('patch', '-n', ns, 'configmap/cfg', '--type=merge', '-p', '{"data":{"b":"2"}}');
    const obj = await getJson(c, ns, 'configmap/cfg');
    const patcher = obj.metadata.managedFields.find((m: { manager: string }) => m.manager === 'kubectl-patch');
    assert.equal(patcher.operation, 'Update');
    assert.deepEqual(patcher.fieldsV1, { 'f:data': { 'f:b': {} } });
  });

  fidelity('requires a fieldManager for apply (422) and refuses force on other patches (422)', `${SSA}#using-server-side-apply-in-a-controller`, async (c) => {
    const ns = c.namespace();
    const url = `/api/v1/namespaces/${ns}/configmaps/cfg`;
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' } };
    const noManager = await raw(c, 'PATCH', url, cm, 'application/apply-patch+yaml');
    assert.equal(noManager.status, 422);
    assert.match(noManager.body.message, /fieldManager: Required value: is required for apply patch/);
    await raw(c, 'PATCH', `${url}?fieldManager=x`, cm, 'application/apply-patch+yaml');
    const forced = await raw(c, 'PATCH', `${url}?force=true`, { data: { a: '1' } }, 'application/merge-patch+json');
    assert.equal(forced.status, 422);
    assert.match(forced.body.message, /force: Forbidden: may not be specified for non-apply patch/);
  });

  fidelity('refuses application/apply-patch+json as an unsupported media type (415)', `${SSA}#api-implementation`, async (c) => {
    const ns = c.namespace();
    const r = await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/cfg?fieldManager=x`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' } }, 'application/apply-patch+json');
    assert.equal(r.status, 415);
    assert.equal(r.body.reason, 'UnsupportedMediaType');
  });

  fidelity('merges container ports by containerPort in a strategic merge patch', SMP, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c), { extra: '' }).replace('        image:', '        ports: [{containerPort: 80}]\n        image:')));
    await c.kubectl('patch', '-n', ns, 'deployment/web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"app","ports":[{"containerPort":81}]}]}}}}');
    const d = await getJson(c, ns, 'deployment/web');
    assert.deepEqual(d.spec.template.spec.containers[0].ports.map((p: { containerPort: number }) => p.containerPort), [80, 81]);
  });

  fidelity('deletes one env var with $patch: delete, keeping the others', SMP, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c), { env: '- {name: A, value: "1"}\n- {name: B, value: "2"}' })));
    await c.kubectl('patch', '-n', ns, 'deployment/web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"A","$patch":"delete"}]}]}}}}');
    const d = await getJson(c, ns, 'deployment/web');
    assert.deepEqual(d.spec.template.spec.containers[0].env, [{ name: 'B', value: '2' }]);
  });

  fidelity('drops the keys $retainKeys does not name (switching a Deployment to Recreate)', SMP, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c))));
    await c.kubectl('patch', '-n', ns, 'deployment/web', '-p', '{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}');
    const d = await getJson(c, ns, 'deployment/web');
    assert.deepEqual(d.spec.strategy, { type: 'Recreate' });
  });

  fidelity('replaces a list without a merge key (tolerations) in a strategic merge patch', SMP, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c), { extra: '      tolerations: [{key: a, operator: Exists}]' })));
    await c.kubectl('patch', '-n', ns, 'deployment/web', '-p', '{"spec":{"template":{"spec":{"tolerations":[{"key":"b","operator":"Exists"}]}}}}');
    const d = await getJson(c, ns, 'deployment/web');
    assert.deepEqual(d.spec.template.spec.tolerations, [{ key: 'b', operator: 'Exists' }]);
  });

  fidelity('replaces lists whole in a JSON merge patch', 'https://datatracker.ietf.org/doc/html/rfc7386', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', image(c), { env: '- {name: A, value: "1"}' })));
    await c.kubectl('patch', '-n', ns, 'deployment/web', '--type=merge', '-p', `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"${image(c)}","env":[{"name":"B","value":"2"}]}]}}}}`);
    const d = await getJson(c, ns, 'deployment/web');
    assert.deepEqual(d.spec.template.spec.containers[0].env, [{ name: 'B', value: '2' }]);
  });
});
