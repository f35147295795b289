import { strict as assert } from 'node:assert';
import { deployment, manifest, raw } from './apiserver-client';
import { fidelity, type FidelityContext } from './harness';

const CONCURRENCY = 'https://kubernetes.io/docs/reference/using-api/api-concepts/#concurrency-control-and-consistency';
const GC = 'https://kubernetes.io/docs/concepts/architecture/garbage-collection/';
const FINALIZERS = 'https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/';

async function configMap(c: FidelityContext, ns: string, name = 'cfg', extra: Record<string, unknown> = {}) {
  const r = await raw(c, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...extra }, data: { a: '1' } });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Kubernetes emulator fidelity: concurrency and deletion', () => {
  fidelity('refuses a PUT with a stale resourceVersion: 409 Conflict, "the object has been modified"', CONCURRENCY, async (c) => {
    const ns = c.namespace();
    const cm = await configMap(c, ns);
    await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/cfg`, { data: { a: '2' } }, 'application/merge-patch+json');
    const r = await raw(c, 'PUT', `/api/v1/namespaces/${ns}/configmaps/cfg`, { ...cm, data: { a: '3' } });
    assert.equal(r.status, 409);
    assert.equal(r.body.reason, 'Conflict');
    assert.equal(r.body.message, 'Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your changes to the latest version and try again');
  });

  fidelity('refuses a merge patch carrying a stale resourceVersion', CONCURRENCY, async (c) => {
    const ns = c.namespace();
    const cm = await configMap(c, ns);
    await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/cfg`, { data: { a: '2' } }, 'application/merge-patch+json');
    const r = await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/cfg`, { metadata: { resourceVersion: cm.metadata.resourceVersion }, data: { a: '3' } }, 'application/merge-patch+json');
    assert.equal(r.status, 409);
    assert.match(r.body.message, /the object has been modified/);
  });

  fidelity('refuses a server-side apply carrying a stale resourceVersion', CONCURRENCY, async (c) => {
    const ns = c.namespace();
    const cm = await configMap(c, ns);
    await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/cfg`, { data: { a: '2' } }, 'application/merge-patch+json');
    const r = await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/cfg?fieldManager=x&force=true`,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', resourceVersion: cm.metadata.resourceVersion }, data: { b: '1' } }, 'application/apply-patch+yaml');
    assert.equal(r.status, 409);
    assert.equal(r.body.details.kind, 'configmaps');
  });

  fidelity('names the group in the conflict message of a grouped resource (deployments.apps)', CONCURRENCY, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { replicas: 0 })));
    const d = JSON.parse(await c.kubectl('get', '-n', ns, 'deployment/web', '-o', 'json'));
    await c.kubectl('label', '-n', ns, 'deployment/web', 'x=1');
    const r = await raw(c, 'PUT', `/apis/apps/v1/namespaces/${ns}/deployments/web`, d);
    assert.equal(r.status, 409);
    assert.match(r.body.message, /^Operation cannot be fulfilled on deployments\.apps "web": the object has been modified/);
  });

  fidelity('refuses a delete whose resourceVersion precondition is stale', CONCURRENCY, async (c) => {
    const ns = c.namespace();
    const cm = await configMap(c, ns);
    await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/cfg`, { data: { a: '2' } }, 'application/merge-patch+json');
    const r = await raw(c, 'DELETE', `/api/v1/namespaces/${ns}/configmaps/cfg`, { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { resourceVersion: cm.metadata.resourceVersion } });
    assert.equal(r.status, 409);
    assert.match(r.body.message, /Precondition failed: ResourceVersion in precondition: \d+, ResourceVersion in object meta: \d+/);
    assert.equal((await raw(c, 'GET', `/api/v1/namespaces/${ns}/configmaps/cfg`)).status, 200);
  });

  fidelity('refuses a delete whose uid precondition names another object', CONCURRENCY, async (c) => {
    const ns = c.namespace();
    await configMap(c, ns);
    const r = await raw(c, 'DELETE', `/api/v1/namespaces/${ns}/configmaps/cfg`, { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } });
    assert.equal(r.status, 409);
    assert.match(r.body.message, /Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: /);
  });

  fidelity('does not delete with kubectl delete --dry-run=server (dry run sent in the DeleteOptions body)', 'https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run', async (c) => {
    const ns = c.namespace();
    await configMap(c, ns);
    const out = await c.kubectl('delete', '-n', ns, 'configmap/cfg', '--dry-run=server');
    assert.match(out, /configmap "cfg" deleted \(server dry run\)/);
    assert.equal((await raw(c, 'GET', `/api/v1/namespaces/${ns}/configmaps/cfg`)).status, 200);
  });

  fidelity('holds an object with a finalizer: deletionTimestamp set, 202, gone once the finalizer is removed', FINALIZERS, async (c) => {
    const ns = c.namespace();
    await configMap(c, ns, 'cfg', { finalizers: ['example.com/hold'] });
    const r = await raw(c, 'DELETE', `/api/v1/namespaces/${ns}/configmaps/cfg`);
    assert.equal(r.status, 202);
    assert.ok(r.body.metadata.deletionTimestamp);
    const held = await raw(c, 'GET', `/api/v1/namespaces/${ns}/configmaps/cfg`);
    assert.equal(held.status, 200);
    await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/cfg`, { metadata: { finalizers: null } }, 'application/merge-patch+json');
    await until('the configmap to go', async () => ((await raw(c, 'GET', `/api/v1/namespaces/${ns}/configmaps/cfg`)).status === 404 ? true : undefined));
  });

  fidelity('deletes a ReplicaSet\'s pods in the background (the garbage collector, by ownerReferences)', `${GC}#background-deletion`, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { replicas: 1 })));
    await until('a pod', () => (c.f.cluster.kube.list('v1', 'Pod', ns).length ? true : undefined));
    await c.kubectl('delete', '-n', ns, 'deployment/web', '--cascade=background');
    await until('the ReplicaSets and pods to go', () => (c.f.cluster.kube.list('apps/v1', 'ReplicaSet', ns).length === 0 && c.f.cluster.kube.list('v1', 'Pod', ns).length === 0 ? true : undefined));
  });

  fidelity('keeps the ReplicaSets with --cascade=orphan, their ownerReferences removed', `${GC}#orphaned-dependents`, async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { replicas: 0 })));
    await until('a ReplicaSet', () => c.f.cluster.kube.list('apps/v1', 'ReplicaSet', ns)[0]);
    await c.kubectl('delete', '-n', ns, 'deployment/web', '--cascade=orphan');
    assert.equal(c.f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web'), undefined);
    const rs = await until('the orphaned ReplicaSet', () => c.f.cluster.kube.list('apps/v1', 'ReplicaSet', ns).find((r) => !r.metadata.ownerReferences?.length));
    assert.ok(rs);
  });

  fidelity('deletes the dependents first with --cascade=foreground, the owner held by foregroundDeletion meanwhile', `${GC}#foreground-deletion`, async (c) => {
    const ns = c.namespace();
    const owner = await configMap(c, ns, 'owner');
    await configMap(c, ns, 'dependent', { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid, blockOwnerDeletion: true }], finalizers: ['example.com/slow'] });
    const r = await raw(c, 'DELETE', `/api/v1/namespaces/${ns}/configmaps/owner`, { propagationPolicy: 'Foreground' });
    assert.equal(r.status, 202);
    assert.deepEqual(r.body.metadata.finalizers, ['foregroundDeletion']);
    await until('the dependent to be deleting', () => (c.f.cluster.kube.get('v1', 'ConfigMap', ns, 'dependent')?.metadata.deletionTimestamp ? true : undefined));
    assert.ok(c.f.cluster.kube.get('v1', 'ConfigMap', ns, 'owner'), 'the owner waits for its blocking dependent');
    await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/dependent`, { metadata: { finalizers: null } }, 'application/merge-patch+json');
    await until('the owner to go', () => (c.f.cluster.kube.get('v1', 'ConfigMap', ns, 'owner') ? undefined : true));
  });

  fidelity('deletes a pod on a node gracefully: deletionTimestamp and deletionGracePeriodSeconds, 202 with the pod', 'https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', manifest(deployment('web', `${c.f.image}:1.0`, { replicas: 1 })));
    const pod = await until('a scheduled pod', () => c.f.cluster.kube.list('v1', 'Pod', ns).find((p) => p.spec.nodeName));
    const r = await raw(c, 'DELETE', `/api/v1/namespaces/${ns}/pods/${pod.metadata.name}`, { gracePeriodSeconds: 20 });
    assert.equal(r.status, 202);
    assert.equal(r.body.kind, 'Pod');
    assert.equal(r.body.metadata.deletionGracePeriodSeconds, 20);
    assert.ok(Date.parse(r.body.metadata.deletionTimestamp) > Date.now() + 10_000);
  });

  fidelity('turns a deleted namespace Terminating, deletes its contents, then the namespace', 'https://kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace', async (c) => {
    const ns = c.namespace();
    await configMap(c, ns, 'held', { finalizers: ['example.com/hold'] });
    const r = await raw(c, 'DELETE', `/api/v1/namespaces/${ns}`);
    assert.equal(r.status, 202);
    assert.equal(r.body.status.phase, 'Terminating');
    await until('the content to be deleting', () => (c.f.cluster.kube.get('v1', 'ConfigMap', ns, 'held')?.metadata.deletionTimestamp ? true : undefined));
    const refused = await raw(c, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late' } });
    assert.equal(refused.status, 403);
    assert.match(refused.body.message, new RegExp(`unable to create new content in namespace ${ns} because it is being terminated`));
    assert.equal((await raw(c, 'GET', `/api/v1/namespaces/${ns}`)).body.status.phase, 'Terminating');
    await raw(c, 'PATCH', `/api/v1/namespaces/${ns}/configmaps/held`, { metadata: { finalizers: null } }, 'application/merge-patch+json');
    await until('the namespace to go', async () => ((await raw(c, 'GET', `/api/v1/namespaces/${ns}`)).status === 404 ? true : undefined));
  });
});
