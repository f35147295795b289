import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { parse } from 'yaml';
import { deployment, manifest, raw } from './apiserver-client';
import { fidelity, type FidelityContext } from './harness';

const CONCEPTS = 'https://kubernetes.io/docs/reference/using-api/api-concepts/';

/** A kubeconfig for a read-only user of the staging cluster (a bearer token), beside the admin's. */
function viewerKubeconfig(c: FidelityContext, namespaces?: string[]): string {
  const admin = parse(fs.readFileSync(c.f.adminKubeconfigPath, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
  const token = c.f.cluster.kube.issueToken({ name: 'viewer', groups: ['system:authenticated'], readOnly: true, namespaces });
  const file = path.join(path.dirname(manifest('')), 'viewer.kubeconfig');
  fs.writeFileSync(file, [
    'apiVersion: v1', 'kind: Config', 'clusters:', '- cluster:', `    certificate-authority-data: ${admin.clusters[0].cluster['certificate-authority-data']}`,
    `    server: ${admin.clusters[0].cluster.server}`, '  name: c', 'users:', '- name: viewer', '  user:', `    token: ${token}`,
    'contexts:', '- context: {cluster: c, user: viewer}', '  name: v', 'current-context: v',
  ].join('\n'));
  return file;
}

async function configMaps(c: FidelityContext, ns: string, names: string[], labels: Record<string, string> = {}): Promise<void> {
  for (const name of names) await raw(c, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, labels } });
}

/** Opens a watch and collects its events until `stop` is called. */
function watchEvents(c: FidelityContext, urlPath: string): { events: { type: string; object: { metadata: { name: string } } }[]; stop: () => void; ready: Promise<void> } {
  const config = parse(fs.readFileSync(c.f.adminKubeconfigPath, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const events: { type: string; object: { metadata: { name: string } } }[] = [];
  let buffer = '';
  let req: ReturnType<typeof https.request> | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    req = https.request(new URL(urlPath, config.clusters[0].cluster.server), {
      ca: Buffer.from(config.clusters[0].cluster['certificate-authority-data'], 'base64'),
      cert: Buffer.from(config.users[0].user['client-certificate-data'], 'base64'), key: Buffer.from(config.users[0].user['client-key-data'], 'base64'),
    }, (res) => {
      resolve();
      res.on('data', (d: Buffer) => {
        buffer += d.toString('utf8');
        let i: number;
        while ((i = buffer.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buffer.slice(0, i)));
          buffer = buffer.slice(i + 1);
        }
      });
    });
    req.on('error', (e) => (events.length ? undefined : reject(e)));
    req.end();
  });
  return { events, stop: () => req?.destroy(), ready };
}

describe('Kubernetes emulator fidelity: discovery, subresources, list and watch', () => {
  fidelity('discovers autoscaling/v2 HorizontalPodAutoscalers, Endpoints and EndpointSlices', 'kubectl api-resources', async (c) => {
    const out = await c.kubectl('api-resources');
    assert.match(out, /^horizontalpodautoscalers\s+hpa\s+autoscaling\/v2\s+true\s+HorizontalPodAutoscaler$/m);
    assert.match(out, /^endpoints\s+ep\s+v1\s+true\s+Endpoints$/m);
    assert.match(out, /^endpointslices\s+discovery\.k8s\.io\/v1\s+true\s+EndpointSlice$/m);
    assert.match(out, /^selfsubjectaccessreviews\s+authorization\.k8s\.io\/v1\s+false\s+SelfSubjectAccessReview$/m);
  });

  fidelity('lists the scale subresource of Deployments as autoscaling/v1 Scale in discovery', 'https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/#get-read-scale-of-the-specified-deployment', async (c) => {
    const r = await raw(c, 'GET', '/apis/apps/v1');
    const scale = r.body.resources.find((x: { name: string }) => x.name === 'deployments/scale');
    assert.deepEqual({ kind: scale.kind, group: scale.group, version: scale.version }, { kind: 'Scale', group: 'autoscaling', version: 'v1' });
  });

  fidelity('scales a Deployment with kubectl scale through the scale subresource, which then owns replicas', 'https://kubernetes.io/docs/reference/kubectl/generated/kubectl_scale/', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { replicas: 0 })));
    assert.match(await c.kubectl('scale', '-n', ns, 'deployment/web', '--replicas=2'), /deployment.apps\/web scaled/);
    const d = JSON.parse(await c.kubectl('get', '-n', ns, 'deployment/web', '-o', 'json', '--show-managed-fields'));
    assert.equal(d.spec.replicas, 2);
    const scaler = d.metadata.managedFields.find((m: { subresource?: string }) => m.subresource === 'scale');
    assert.equal(scaler.manager, 'kubectl');
    assert.deepEqual(scaler.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
  });

  fidelity('reads the scale subresource: spec.replicas, status.replicas and the selector as a string', 'https://kubernetes.io/docs/reference/kubernetes-api/autoscaling/', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { replicas: 0 })));
    const r = await raw(c, 'GET', `/apis/apps/v1/namespaces/${ns}/deployments/web/scale`);
    assert.equal(r.body.kind, 'Scale');
    assert.equal(r.body.apiVersion, 'autoscaling/v1');
    assert.equal(r.body.spec.replicas, 0);
    assert.equal(r.body.status.selector, 'app=web');
  });

  fidelity('keeps replicas an autoscaler set through the scale subresource when the manifest stops setting them', 'https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { replicas: 1 })));
    const r = await raw(c, 'PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/web/scale?fieldManager=horizontal-pod-autoscaler`, { spec: { replicas: 3 } }, 'application/merge-patch+json');
    assert.equal(r.status, 200, r.text);
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`)));
    assert.equal(c.f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web')!.spec.replicas, 3);
  });

  fidelity('explains deployment.spec.strategy from the OpenAPI v3 schemas (kubectl explain)', 'https://kubernetes.io/docs/reference/kubectl/generated/kubectl_explain/', async (c) => {
    const out = await c.kubectl('explain', 'deployment.spec.strategy');
    assert.match(out, /^KIND:\s+Deployment$/m);
    assert.match(out, /^VERSION:\s+v1$/m);
    assert.match(out, /^FIELD: strategy <DeploymentStrategy>$/m);
    assert.match(out, /DeploymentStrategy describes how to replace existing pods with new ones\./);
    assert.match(out, /^\s+rollingUpdate\s+<RollingUpdateDeployment>$/m);
    assert.match(out, /^\s+type\s+<string>$/m);
  });

  fidelity('explains a field with its type and required marker (kubectl explain pod.spec.containers)', 'https://kubernetes.io/docs/reference/kubectl/generated/kubectl_explain/', async (c) => {
    const out = await c.kubectl('explain', 'pod.spec.containers');
    assert.match(out, /^FIELD: containers <\[\]Container>$/m);
    assert.match(out, /^\s+name\s+<string> -required-$/m);
    assert.match(out, /^\s+image\s+<string>$/m);
  });

  fidelity('prints kubectl\'s columns for ConfigMaps (DATA) and ReplicaSets (DESIRED CURRENT READY)', 'k8s.io/kubernetes pkg/printers/internalversion/printers.go', async (c) => {
    const ns = c.namespace();
    await raw(c, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: '1', b: '2' } });
    assert.match(await c.kubectl('get', '-n', ns, 'configmaps'), /^NAME\s+DATA\s+AGE\ncfg\s+2\s+\d+s$/m);
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { replicas: 0 })));
    for (let i = 0; i < 50 && !c.f.cluster.kube.list('apps/v1', 'ReplicaSet', ns).length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(await c.kubectl('get', '-n', ns, 'replicasets'), /^NAME\s+DESIRED\s+CURRENT\s+READY\s+AGE\nweb-\w+\s+0\s+0\s+0\s+\d+s$/m);
  });

  fidelity('answers kubectl auth can-i from the cluster\'s authorization: yes for the admin', 'https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access', async (c) => {
    const ns = c.namespace();
    assert.equal((await c.kubectl('auth', 'can-i', 'create', 'deployments', '-n', ns)).trim(), 'yes');
  });

  fidelity('answers kubectl auth can-i no (exit 1) for a read-only user, and yes for what it may read', 'https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access', async (c) => {
    const ns = c.namespace();
    const kubeconfig = viewerKubeconfig(c);
    const no = await c.kubectlResult('--kubeconfig', kubeconfig, 'auth', 'can-i', 'delete', 'pods', '-n', ns);
    assert.equal(no.code, 1);
    assert.equal(no.stdout.trim(), 'no');
    const yes = await c.kubectlResult('--kubeconfig', kubeconfig, 'auth', 'can-i', 'list', 'pods', '-n', ns);
    assert.equal(yes.stdout.trim(), 'yes');
  });

  fidelity('pages a list with limit and continue (kubectl get --chunk-size)', `${CONCEPTS}#retrieving-large-results-sets-in-chunks`, async (c) => {
    const ns = c.namespace();
    await configMaps(c, ns, ['a', 'b', 'c', 'd', 'e']);
    const first = await raw(c, 'GET', `/api/v1/namespaces/${ns}/configmaps?limit=2`);
    assert.deepEqual(first.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['a', 'b']);
    assert.equal(first.body.metadata.remainingItemCount, 3);
    const second = await raw(c, 'GET', `/api/v1/namespaces/${ns}/configmaps?limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`);
    assert.deepEqual(second.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['c', 'd']);
    const out = await c.kubectl('get', '-n', ns, 'configmaps', '--chunk-size=2', '-o', 'name');
    assert.deepEqual(out.trim().split('\n'), ['configmap/a', 'configmap/b', 'configmap/c', 'configmap/d', 'configmap/e']);
  });

  fidelity('refuses a malformed label selector with 400 BadRequest', 'https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors', async (c) => {
    const ns = c.namespace();
    const r = await c.kubectlResult('get', '-n', ns, 'pods', '-l', 'bad selector');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(BadRequest\): Unable to find "\/v1, Resource=pods" that match label selector "bad selector", field selector "": found 'selector', expected: in, notin, =, ==, !=, gt, lt/);
  });

  fidelity('refuses a field selector on a field the kind cannot be selected by', 'https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/#supported-fields', async (c) => {
    const ns = c.namespace();
    const r = await c.kubectlResult('get', '-n', ns, 'configmaps', '--field-selector', 'data.a=1');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(BadRequest\): .*field label not supported: data\.a/);
  });

  fidelity('selects pods by a supported field (status.phase)', 'https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/#supported-fields', async (c) => {
    const ns = c.namespace();
    const r = await c.kubectlResult('get', '-n', ns, 'pods', '--field-selector', 'status.phase=Running');
    assert.equal(r.code, 0, r.stderr);
  });

  fidelity('sends DELETED to a label-selector watch when an object is relabelled out of it, ADDED when back in', `${CONCEPTS}#efficient-detection-of-changes`, async (c) => {
    const ns = c.namespace();
    await configMaps(c, ns, ['cfg'], { tier: 'web' });
    const w = watchEvents(c, `/api/v1/namespaces/${ns}/configmaps?watch=true&labelSelector=tier%3Dweb`);
    await w.ready;
    try {
      await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/cfg`, { metadata: { labels: { tier: 'db' } } }, 'application/merge-patch+json');
      await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/cfg`, { metadata: { labels: { tier: 'web' } } }, 'application/merge-patch+json');
      const deadline = Date.now() + 5000;
      while (w.events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(w.events.map((e) => e.type), ['ADDED', 'DELETED', 'ADDED']);
    } finally {
      w.stop();
    }
  });

  fidelity('refuses a pod over a pods: 0 ResourceQuota with 403 exceeded quota', 'https://kubernetes.io/docs/concepts/policy/resource-quotas/', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest('apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: none}\nspec: {hard: {pods: "0"}}'));
    const pod = `apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: app, image: "${c.f.image}:1.0"}]}`;
    const r = await c.kubectlResult('apply', '--server-side', '-n', ns, '-f', manifest(pod));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(Forbidden\): .*pods "p" is forbidden: exceeded quota: none, requested: pods=1, used: pods=0, limited: pods=0/);
  });
});
