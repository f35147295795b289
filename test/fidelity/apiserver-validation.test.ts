import { strict as assert } from 'node:assert';
import { deployment, manifest, raw } from './apiserver-client';
import { fidelity, type FidelityContext } from './harness';

const FIELD_VALIDATION = 'https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation';
const CRD = 'https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/';

function deploymentBody(name: string, image: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } }, ...spec },
  };
}

async function widgetCrd(c: FidelityContext, schema: string, extra = ''): Promise<void> {
  const crd = [
    'apiVersion: apiextensions.k8s.io/v1', 'kind: CustomResourceDefinition', 'metadata: {name: widgets.fidelity.example.com}', 'spec:',
    '  group: fidelity.example.com', '  scope: Namespaced', '  names: {plural: widgets, singular: widget, kind: Widget}', '  versions:',
    '  - name: v1', '    served: true', '    storage: true', ...(extra ? [extra] : []), '    schema:', '      openAPIV3Schema:', ...schema.split('\n').map((l) => `        ${l}`),
  ].join('\n');
  await c.kubectl('apply', '--server-side', '--force-conflicts', '-f', manifest(crd));
  await c.kubectl('wait', '--for=condition=Established', 'crd/widgets.fidelity.example.com', '--timeout=20s');
}

const WIDGET_SCHEMA = [
  'type: object', 'properties:', '  spec:', '    type: object', '    required: [size]', '    properties:',
  '      size: {type: integer}', '      color: {type: string, enum: [red, blue]}', '  status:', '    type: object', '    properties:', '      phase: {type: string}',
].join('\n');

describe('Kubernetes emulator fidelity: validation', () => {
  fidelity('answers a server-side apply with an unknown field with 500 "field not declared in schema"', 'kubernetes/kubernetes#122480 (structuredmerge.go: failed to create typed patch object)', async (c) => {
    const ns = c.namespace();
    const r = await c.kubectlResult('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { extra: '  foo: bar' })));
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`Error from server: failed to create typed patch object \\(${ns}/web; apps/v1, Kind=Deployment\\): \\.spec\\.foo: field not declared in schema`));
  });

  fidelity('answers a server-side apply with replicas: "two" with 500 and the typed-patch message', 'sigs.k8s.io/structured-merge-diff typed/validate.go validateScalar', async (c) => {
    const ns = c.namespace();
    const r = await raw(c, 'PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/web?fieldManager=t&fieldValidation=Strict`, deploymentBody('web', `${c.f.image}:1.0`, { replicas: 'two' }), 'application/apply-patch+yaml');
    assert.equal(r.status, 500);
    assert.equal(r.body.message, `failed to create typed patch object (${ns}/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string`);
  });

  fidelity('refuses an unknown field on create with fieldValidation=Strict (kubectl create), 400 strict decoding error', FIELD_VALIDATION, async (c) => {
    const ns = c.namespace();
    const r = await c.kubectlResult('create', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { extra: '  foo: bar' })));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(BadRequest\): error when creating ".*": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo"/);
  });

  fidelity('warns of an unknown field with --validate=warn and drops it', FIELD_VALIDATION, async (c) => {
    const ns = c.namespace();
    const r = await c.kubectlResult('create', '--validate=warn', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { extra: '  foo: bar' })));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Warning: unknown field "spec.foo"/);
    const d = JSON.parse(await c.kubectl('get', '-n', ns, 'deployment/web', '-o', 'json'));
    assert.equal(d.spec.foo, undefined);
  });

  fidelity('sends a Warning header for an unknown field when fieldValidation is not set (Warn is the default)', FIELD_VALIDATION, async (c) => {
    const ns = c.namespace();
    const r = await raw(c, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, date: { a: '1' } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.warning, '299 - "unknown field \\"date\\""');
  });

  fidelity('drops an unknown field silently with fieldValidation=Ignore', FIELD_VALIDATION, async (c) => {
    const ns = c.namespace();
    const r = await raw(c, 'POST', `/api/v1/namespaces/${ns}/configmaps?fieldValidation=Ignore`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, date: { a: '1' } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.warning, undefined);
    assert.equal(r.body.date, undefined);
  });

  fidelity('refuses a value of the wrong type on create with 400, as encoding/json words it', 'https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation', async (c) => {
    const ns = c.namespace();
    const r = await raw(c, 'POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deploymentBody('web', `${c.f.image}:1.0`, { replicas: 'two' }));
    assert.equal(r.status, 400);
    assert.equal(r.body.reason, 'BadRequest');
    assert.equal(r.body.message, 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32');
  });

  fidelity('refuses a name that is not a DNS-1123 subdomain, with 422 and the regex', 'https://kubernetes.io/docs/concepts/overview/working-with-objects/names/', async (c) => {
    const ns = c.namespace();
    const r = await c.kubectlResult('apply', '--server-side', '-n', ns, '-f', manifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character/);
  });

  fidelity('refuses a label value that is not a valid label, with 422 FieldValueInvalid', 'https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set', async (c) => {
    const ns = c.namespace();
    const r = await raw(c, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', labels: { tier: 'front end' } } });
    assert.equal(r.status, 422);
    assert.equal(r.body.details.causes[0].field, 'metadata.labels');
    assert.match(r.body.message, /metadata.labels: Invalid value: "front end": a valid label must be an empty string or consist of alphanumeric characters/);
  });

  fidelity('refuses an unsupported strategy type with the supported values', 'k8s.io/api/apps/v1 DeploymentStrategyType enum', async (c) => {
    const ns = c.namespace();
    const r = await raw(c, 'POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deploymentBody('web', `${c.f.image}:1.0`, { strategy: { type: 'BlueGreen' } }));
    assert.equal(r.status, 422);
    assert.match(r.body.message, /spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"/);
    assert.equal(r.body.details.causes[0].reason, 'FieldValueNotSupported');
  });

  fidelity('refuses to change a Deployment selector: field is immutable', 'https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#label-selector-updates', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`)));
    const changed = deployment('web', `${c.f.image}:1.0`).replace('selector: {matchLabels: {app: web}}', 'selector: {matchLabels: {app: web, v: "2"}}').replace('labels: {app: web}', 'labels: {app: web, v: "2"}');
    const r = await c.kubectlResult('apply', '--server-side', '-n', ns, '-f', manifest(changed));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The Deployment "web" is invalid: spec.selector: Invalid value: v1.LabelSelector\{MatchLabels:map\[string\]string\{"app":"web", "v":"2"\}, MatchExpressions:\[\]v1.LabelSelectorRequirement\(nil\)\}: field is immutable/);
  });

  fidelity('refuses to change a Job template: field is immutable', 'https://kubernetes.io/docs/concepts/workloads/controllers/job/', async (c) => {
    const ns = c.namespace();
    const job = (arg: string) => ['apiVersion: batch/v1', 'kind: Job', 'metadata: {name: once}', 'spec:', '  template:', '    spec:', '      restartPolicy: Never',
      `      containers: [{name: run, image: "${c.f.image}:1.0", args: ["${arg}"]}]`].join('\n');
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(job('a')));
    const r = await c.kubectlResult('apply', '--server-side', '-n', ns, '-f', manifest(job('b')));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The Job "once" is invalid: spec.template: Invalid value: .*: field is immutable/);
  });

  fidelity('refuses to change a Service clusterIP: may not change once set', 'https://kubernetes.io/docs/concepts/services-networking/service/#choosing-your-own-ip-address', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest('apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80, targetPort: 8080}]}'));
    const svc = JSON.parse(await c.kubectl('get', '-n', ns, 'service/web', '-o', 'json'));
    const other = svc.spec.clusterIP.replace(/\d+$/, (d: string) => String((Number(d) % 250) + 1));
    const r = await c.kubectlResult('patch', '-n', ns, 'service/web', '-p', JSON.stringify({ spec: { clusterIP: other, clusterIPs: [other] } }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`The Service "web" is invalid: spec.clusterIPs\\[0\\]: Invalid value: \\[\\]string\\{"${other.replace(/\./g, '\\.')}"\\}: may not change once set`));
  });

  fidelity('refuses to change StatefulSet fields other than the allowed ones', 'https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/', async (c) => {
    const ns = c.namespace();
    const sts = (policy: string) => ['apiVersion: apps/v1', 'kind: StatefulSet', 'metadata: {name: db}', 'spec:', '  replicas: 0', `  podManagementPolicy: ${policy}`,
      '  selector: {matchLabels: {app: db}}', '  template:', '    metadata: {labels: {app: db}}', '    spec:', `      containers: [{name: db, image: "${c.f.image}:1.0"}]`].join('\n');
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(sts('OrderedReady')));
    const r = await c.kubectlResult('apply', '--server-side', '-n', ns, '-f', manifest(sts('Parallel')));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The StatefulSet "db" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden/);
  });

  fidelity('refuses to change the data of an immutable ConfigMap', 'https://kubernetes.io/docs/concepts/configuration/configmap/#configmap-immutable', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\nimmutable: true\ndata: {a: "1"}'));
    const r = await c.kubectlResult('apply', '--server-side', '-n', ns, '-f', manifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\nimmutable: true\ndata: {a: "2"}'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The ConfigMap "cfg" is invalid: data: Forbidden: field is immutable when `immutable` is set/);
  });

  fidelity('refuses a CRD whose schema is not structural (a property without a type)', `${CRD}#specifying-a-structural-schema`, async (c) => {
    const crd = ['apiVersion: apiextensions.k8s.io/v1', 'kind: CustomResourceDefinition', 'metadata: {name: gadgets.fidelity.example.com}', 'spec:',
      '  group: fidelity.example.com', '  scope: Namespaced', '  names: {plural: gadgets, kind: Gadget}', '  versions:',
      '  - name: v1', '    served: true', '    storage: true', '    schema:', '      openAPIV3Schema:', '        type: object', '        properties:', '          spec: {description: untyped}'].join('\n');
    const r = await c.kubectlResult('apply', '--server-side', '-f', manifest(crd));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /spec.versions\[0\].schema.openAPIV3Schema.properties\[spec\].type: Required value: must not be empty for specified object fields/);
  });

  fidelity('refuses a custom resource whose field has the wrong type, as its structural schema says', `${CRD}#validation`, async (c) => {
    const ns = c.namespace();
    await widgetCrd(c, WIDGET_SCHEMA);
    const r = await c.kubectlResult('create', '-n', ns, '-f', manifest('apiVersion: fidelity.example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: big}'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /The Widget "w" is invalid: spec.size: Invalid value: "string": spec.size in body must be of type integer: "big"/);
  });

  fidelity('refuses a custom resource value outside its enum, and one missing a required field', `${CRD}#validation`, async (c) => {
    const ns = c.namespace();
    await widgetCrd(c, WIDGET_SCHEMA);
    const pink = await c.kubectlResult('create', '-n', ns, '-f', manifest('apiVersion: fidelity.example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1, color: pink}'));
    assert.match(pink.stderr, /spec.color: Unsupported value: "pink": supported values: "red", "blue"/);
    const none = await c.kubectlResult('create', '-n', ns, '-f', manifest('apiVersion: fidelity.example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {color: red}'));
    assert.match(none.stderr, /spec.size: Required value/);
  });

  fidelity('prunes unknown fields of a custom resource (Ignore), and refuses them under Strict', `${CRD}#field-pruning`, async (c) => {
    const ns = c.namespace();
    await widgetCrd(c, WIDGET_SCHEMA);
    const body = { apiVersion: 'fidelity.example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 1, shape: 'round' } };
    const strict = await raw(c, 'POST', `/apis/fidelity.example.com/v1/namespaces/${ns}/widgets?fieldValidation=Strict`, body);
    assert.equal(strict.status, 400);
    assert.match(strict.body.message, /strict decoding error: unknown field "spec.shape"/);
    const ignored = await raw(c, 'POST', `/apis/fidelity.example.com/v1/namespaces/${ns}/widgets?fieldValidation=Ignore`, body);
    assert.equal(ignored.status, 201);
    assert.deepEqual(ignored.body.spec, { size: 1 });
  });

  fidelity('keeps unknown fields under x-kubernetes-preserve-unknown-fields', `${CRD}#controlling-pruning`, async (c) => {
    const ns = c.namespace();
    await widgetCrd(c, 'type: object\nproperties:\n  spec:\n    type: object\n    x-kubernetes-preserve-unknown-fields: true');
    const r = await raw(c, 'POST', `/apis/fidelity.example.com/v1/namespaces/${ns}/widgets?fieldValidation=Strict`,
      { apiVersion: 'fidelity.example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { anything: { goes: [1, 2] } } });
    assert.equal(r.status, 201, r.text);
    assert.deepEqual(r.body.spec, { anything: { goes: [1, 2] } });
  });

  fidelity('ignores status in writes to a custom resource with the status subresource, and serves /status', `${CRD}#status-subresource`, async (c) => {
    const ns = c.namespace();
    await widgetCrd(c, WIDGET_SCHEMA, '    subresources: {status: {}}');
    const base = `/apis/fidelity.example.com/v1/namespaces/${ns}/widgets`;
    const created = await raw(c, 'POST', base, { apiVersion: 'fidelity.example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 1 }, status: { phase: 'Done' } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.status, undefined);
    const status = await raw(c, 'PATCH', `${base}/w/status`, { status: { phase: 'Done' } }, 'application/merge-patch+json');
    assert.equal(status.status, 200, status.text);
    assert.equal(status.body.status.phase, 'Done');
  });
});
