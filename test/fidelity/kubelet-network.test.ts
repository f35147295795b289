import { strict as assert } from 'node:assert';
import { workload, writeManifest } from '../tasks/deploy-to-aks-fixture';
import { fidelity } from './harness';
import { deploy, get, service, until } from './workloads';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

function route(ns: string, weights: [string, number][], path = '/'): string {
  return [
    'apiVersion: gateway.networking.k8s.io/v1', 'kind: HTTPRoute', 'metadata: { name: web }', 'spec:',
    '  parentRefs: [{ name: gateway, namespace: gateway-system }]', '  rules:',
    `  - matches: [{ path: { type: PathPrefix, value: ${path} } }]`,
    `    backendRefs: [${weights.map(([name, w]) => `{ name: ${name}, port: 80, weight: ${w} }`).join(', ')}]`,
  ].join('\n').replace('metadata: { name: web }', `metadata: { name: web, namespace: ${ns} }`);
}

describe('Kubernetes emulator fidelity: Services and the gateway', () => {
  fidelity('lists the Gateway API kinds and the managed GatewayClass', 'kubectl api-resources; https://gateway-api.sigs.k8s.io/reference/spec/', async (c) => {
    const out = await until('the Gateway API CRDs', async () => {
      const text = await c.kubectl('api-resources', '--api-group=gateway.networking.k8s.io');
      return /httproutes/.test(text) ? text : undefined;
    });
    assert.match(out, /^gatewayclasses\s+gc\s+gateway\.networking\.k8s\.io\/v1\s+false\s+GatewayClass$/m);
    assert.match(out, /^gateways\s+gtw\s+gateway\.networking\.k8s\.io\/v1\s+true\s+Gateway$/m);
    const gw = JSON.parse(await c.kubectl('get', 'gateway', '-n', 'gateway-system', 'gateway', '-o', 'json'));
    assert.equal(gw.spec.gatewayClassName, 'approuting-istio');
    assert.match(gw.status.addresses[0].value, /^127\./);
    assert.equal(`http://${gw.status.addresses[0].value}:80`, c.f.env.info.clusters.staging.gateway, 'the info line names the gateway');
  });

  fidelity('splits an HTTPRoute\'s requests by weight: 90/10 gives the canary 10 % ± 5 % of 1,000', 'https://gateway-api.sigs.k8s.io/guides/traffic-splitting/', async (c) => {
    const ns = c.namespace();
    const stable = workload({ image: `${c.f.image}:1.0`, name: 'stable', replicas: 1 });
    const canary = workload({ image: `${c.f.image}:2.0`, name: 'canary', replicas: 1 });
    await deploy(c, ns, [stable, service('stable')], 1, 'stable');
    await deploy(c, ns, [canary, service('canary')], 1, 'canary');
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', writeManifest(c.f, route(ns, [['stable', 90], ['canary', 10]])));
    const gateway = c.f.env.info.clusters.staging.gateway;
    await until('the route to answer', async () => ((await get(`${gateway}/api/x`)).status === 200 ? true : undefined));
    const versions = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const v = JSON.parse((await get(`${gateway}/api/x`)).body).version as string;
      versions.set(v, (versions.get(v) ?? 0) + 1);
    }
    const share = (versions.get('2.0') ?? 0) / 1000;
    assert.ok(share >= 0.05 && share <= 0.15, `canary share ${share}`);
    const status = JSON.parse(await c.kubectl('get', 'httproute', '-n', ns, 'web', '-o', 'json')).status.parents[0];
    assert.deepEqual(status.conditions.map((x: Any) => [x.type, x.status]), [['Accepted', 'True'], ['ResolvedRefs', 'True']]);
  }, 120_000);

  fidelity('reports an HTTPRoute backend that does not exist as ResolvedRefs False, and answers 500 for it', 'https://gateway-api.sigs.k8s.io/reference/spec/#httpbackendref', async (c) => {
    const ns = c.namespace();
    await c.kubectl('apply', '--server-side', '-n', ns, '-f', writeManifest(c.f, route(ns, [['missing', 1]], `/${ns}`)));
    const status = await until('route status', async () => JSON.parse(await c.kubectl('get', 'httproute', '-n', ns, 'web', '-o', 'json')).status?.parents?.[0]);
    const resolved = status.conditions.find((x: Any) => x.type === 'ResolvedRefs');
    assert.equal(resolved.status, 'False');
    assert.equal(resolved.reason, 'BackendNotFound');
    assert.equal((await get(`${c.f.env.info.clusters.staging.gateway}/${ns}/x`)).status, 500);
  });

  fidelity('gives a LoadBalancer Service a loopback ingress address that answers', 'https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer', async (c) => {
    const ns = c.namespace();
    await deploy(c, ns, [workload({ image: `${c.f.image}:1.0`, replicas: 1 }), service('web', 80, '\n  type: LoadBalancer')], 1);
    const ip = await until('an ingress address', async () => JSON.parse(await c.kubectl('get', 'service', '-n', ns, 'web', '-o', 'json')).status?.loadBalancer?.ingress?.[0]?.ip);
    assert.match(ip, /^127\./);
    const table = await c.kubectl('get', 'service', '-n', ns);
    assert.match(table, new RegExp(`^web\\s+LoadBalancer\\s+127\\.[\\d.]+\\s+${ip.replace(/\./g, '\\.')}\\s+80/TCP`, 'm'));
    const answer = await until('an answer through the load balancer', async () => { const r = await get(`http://${ip}/healthz`); return r.status === 200 ? r : undefined; });
    assert.match(answer.body, /healthy/);
  });
});
