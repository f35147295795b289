import { strict as assert } from 'node:assert';
import { workload } from '../tasks/deploy-to-aks-fixture';
import { fidelity } from './harness';
import { deploy, get, until } from './workloads';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** A Deployment of the sample image whose pods carry Kubernetes' recommended labels and, if `scrape`, the scrape annotations. */
function annotated(image: string, name: string, scrape: boolean): string {
  const annotations = scrape ? ', annotations: { prometheus.io/scrape: "true", prometheus.io/port: "8080", prometheus.io/path: /metrics }' : '';
  return workload({ image, name, replicas: 2 })
    .replace(`    metadata: { labels: { app: ${name} } }`, `    metadata: { labels: { app: ${name}, app.kubernetes.io/name: ${name}, track: stable }${annotations} }`);
}

describe('Kubernetes emulator fidelity: Prometheus scrapes the deployed pods', () => {
  fidelity('lists one target per ready annotated pod in /api/v1/targets, with namespace, pod and the pod\'s labels sanitised', 'https://prometheus.io/docs/prometheus/latest/configuration/configuration/#kubernetes_sd_config', async (c) => {
    const ns = c.namespace();
    const pods = await deploy(c, ns, [annotated(`${c.f.image}:1.0`, 'web', true)], 2);
    await deploy(c, ns, [annotated(`${c.f.image}:1.0`, 'quiet', false)], 2, 'quiet');
    const prometheus = c.f.env.info.prometheus;
    const targets = await until('both pods scraped', async () => {
      const body = JSON.parse((await get(`${prometheus}/api/v1/targets?state=active`)).body);
      const mine = (body.data.activeTargets as Any[]).filter((t) => t.labels.namespace === ns);
      return mine.length === 2 && mine.every((t) => t.health === 'up') ? mine : undefined;
    }, 30_000);
    assert.deepEqual(targets.map((t) => t.labels.pod).sort(), pods.map((p) => p.metadata.name).sort(), 'one target per annotated pod, none for the others');
    for (const t of targets) {
      assert.equal(t.labels.job, 'kubernetes-pods');
      assert.equal(t.labels.app_kubernetes_io_name, 'web');
      assert.equal(t.labels.track, 'stable');
      assert.equal(t.scrapeUrl, `http://${pods.find((p) => p.metadata.name === t.labels.pod).status.podIP}:8080/metrics`);
    }
    for (const p of pods) await get(`http://${p.status.podIP}:8080/api/hello`);
    const series = await until('the pods\' request counters', async () => {
      const q = encodeURIComponent(`http_requests_total{namespace="${ns}",code="200"}`);
      const result = JSON.parse((await get(`${prometheus}/api/v1/query?query=${q}`)).body).data.result as Any[];
      return result.length === 2 ? result : undefined;
    }, 20_000);
    assert.ok(series.every((s) => s.metric.app_kubernetes_io_name === 'web'));
  });

  fidelity('drops the target of a pod that is deleted', 'https://prometheus.io/docs/prometheus/latest/configuration/configuration/#file_sd_config', async (c) => {
    const ns = c.namespace();
    await deploy(c, ns, [annotated(`${c.f.image}:1.0`, 'web', true)], 2);
    const prometheus = c.f.env.info.prometheus;
    const active = async () => (JSON.parse((await get(`${prometheus}/api/v1/targets?state=active`)).body).data.activeTargets as Any[]).filter((t) => t.labels.namespace === ns);
    await until('two targets', async () => ((await active()).length === 2 ? true : undefined), 30_000);
    await c.kubectl('patch', 'deployment', '-n', ns, 'web', '--type=merge', '-p', '{"spec":{"replicas":1}}');
    await until('one target', async () => ((await active()).length === 1 ? true : undefined), 30_000);
  });
});
