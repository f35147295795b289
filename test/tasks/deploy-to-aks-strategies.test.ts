import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ManagedProcess, freePort } from '../env/processes';
import { runTask } from '../helpers/agent';
import { type DeployFixture, describeRun, freshNamespace, get, runDeploy, useDeployFixture, workload, writeManifest } from './deploy-to-aks-fixture';

const exec = promisify(execFile);
const TRACK = 'aks-secure-delivery.dev/track';
const COLOUR = 'aks-secure-delivery.dev/colour';
const service = 'apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }';

describe('DeployToAks@1: canary and blue-green strategies', function () {
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });

  /** What kubectl lists of a kind in the namespace, as `kind/name` (kubectl is the judge, not the emulator's store). */
  const kubectl = async (ns: string, kind: string): Promise<string[]> => {
    const { stdout } = await exec('kubectl', ['--kubeconfig', f.adminKubeconfigPath, 'get', kind, '-n', ns, '-o', 'name']);
    return stdout.split('\n').filter(Boolean).sort();
  };
  const manifests = (image: string, replicas = 4) => writeManifest(f, workload({ image, replicas, readinessProbe: true }), service);
  const canary = (ns: string, image: string, inputs: Record<string, string> = {}) =>
    runDeploy(f, { manifests: manifests(image), namespace: ns, strategy: 'canary', ...inputs });

  it('deploys a canary beside a baseline of the stable version, labelled apart, with the replica share in log and summary', async () => {
    const ns = freshNamespace(f);
    const stable = await runDeploy(f, { manifests: manifests(`${f.image}:1.0`), namespace: ns });
    assert.equal(stable.result?.status, 'Succeeded', describeRun(stable));
    const stableBefore = get(f, 'apps/v1', 'Deployment', ns, 'web')!;

    const run = await canary(ns, `${f.image}:2.0`, { percentage: '10' });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    const c = get(f, 'apps/v1', 'Deployment', ns, 'web-canary')!;
    const b = get(f, 'apps/v1', 'Deployment', ns, 'web-baseline')!;
    assert.equal(c.spec.template.spec.containers[0].image, `${f.image}:2.0`);
    assert.equal(b.spec.template.spec.containers[0].image, `${f.image}:1.0`, 'the baseline runs the stable pod template');
    // 4 stable pods at 10 %: c = 4·10/80 = 0.5, rounded up to 1 pod each.
    assert.deepEqual([c.spec.replicas, b.spec.replicas], [1, 1]);
    assert.deepEqual([c.spec.template.metadata.labels[TRACK], b.spec.template.metadata.labels[TRACK], c.metadata.labels?.[TRACK]], ['canary', 'baseline', 'canary']);
    assert.equal(c.spec.template.metadata.labels.app, 'web', 'canary pods join the stable Service');
    const pods = f.cluster.kube.list('v1', 'Pod', ns);
    assert.deepEqual(pods.map((p) => p.metadata.labels?.[TRACK] ?? 'stable').sort(), ['baseline', 'canary', 'stable', 'stable', 'stable', 'stable']);
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web')!.metadata.generation, stableBefore.metadata.generation, 'stable not changed');
    assert.deepEqual(JSON.parse(run.outputs.canaryWorkloads), [{ kind: 'Deployment', namespace: ns, name: 'web-canary' }]);
    assert.deepEqual(JSON.parse(run.outputs.baselineWorkloads), [{ kind: 'Deployment', namespace: ns, name: 'web-baseline' }]);
    assert.ok(run.logLines.some((l) => l.includes('10 % of 4 stable pods rounds up to 1 canary pod: a share of 16.7 %')), describeRun(run));
    const summary = run.summaries[0]?.content ?? '';
    assert.match(summary, /\*\*Traffic\*\*: the canary gets 1 of the 6 pods behind Service web \(16\.7 % of connections, 10 % asked; the baseline as much\)/);
    assert.match(summary, /\| web \(canary pods\) \| 1 \| — \| 16\.7 % \|/);
    assert.deepEqual(await kubectl(ns, 'deployments'), ['deployment.apps/web', 'deployment.apps/web-baseline', 'deployment.apps/web-canary']);
  });

  it('rejects twice in a row: traffic back to stable, canary and baseline gone, stable untouched; the second is a quiet success', async function () {
    this.timeout(240_000);
    const ns = freshNamespace(f);
    assert.equal((await runDeploy(f, { manifests: manifests(`${f.image}:1.0`), namespace: ns })).result?.status, 'Succeeded');
    const stableBefore = get(f, 'apps/v1', 'Deployment', ns, 'web')!;
    assert.equal((await canary(ns, `${f.image}:2.0`)).result?.status, 'Succeeded');
    // A second deploy replaces the first canary.
    const again = await canary(ns, `${f.image}:2.0`, { percentage: '20' });
    assert.equal(again.result?.status, 'Succeeded', describeRun(again));
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web-canary')!.spec.replicas, 2, '4·20/60 = 1.33 → 2');
    for (const [i, expected] of [[1, /Rejected the canary of web/], [2, /Nothing to reject: no canary of web is running/]] as const) {
      const run = await canary(ns, `${f.image}:2.0`, { action: 'reject' });
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      assert.match(run.result!.message, expected, `reject #${i}`);
      assert.deepEqual(await kubectl(ns, 'deployments'), ['deployment.apps/web']);
    }
    const stableAfter = get(f, 'apps/v1', 'Deployment', ns, 'web')!;
    assert.deepEqual([stableAfter.metadata.generation, stableAfter.spec.template.spec.containers[0].image], [stableBefore.metadata.generation, `${f.image}:1.0`]);
  });

  it('promotes: the new version rolls out as stable, canary and baseline removed; a second promote says there is nothing to promote', async function () {
    this.timeout(240_000);
    const ns = freshNamespace(f);
    assert.equal((await runDeploy(f, { manifests: manifests(`${f.image}:1.0`), namespace: ns })).result?.status, 'Succeeded');
    assert.equal((await canary(ns, `${f.image}:2.0`)).result?.status, 'Succeeded');
    const run = await canary(ns, `${f.image}:2.0`, { action: 'promote' });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.match(run.result!.message, /^Promoted: Deployed .* canary and baseline removed\.$/);
    const stable = get(f, 'apps/v1', 'Deployment', ns, 'web')!;
    assert.deepEqual([stable.spec.template.spec.containers[0].image, stable.spec.template.metadata.labels[TRACK]], [`${f.image}:2.0`, 'stable']);
    assert.deepEqual(await kubectl(ns, 'deployments'), ['deployment.apps/web']);
    assert.deepEqual(JSON.parse(run.outputs.canaryWorkloads), []);
    const second = await canary(ns, `${f.image}:2.0`, { action: 'promote' });
    assert.equal(second.result?.status, 'Failed');
    assert.match(second.result!.message, /Action 'promote': no canary of web is running \(no Deployment web-canary\), so there is nothing to promote\. Run the canary with action deploy first/);
  });

  it('makes a first deployment the stable version, since there is nothing to compare a canary with', async () => {
    const ns = freshNamespace(f);
    const run = await canary(ns, `${f.image}:1.0`);
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.match(run.result!.message, /^First deployment, so no canary: /);
    assert.deepEqual(await kubectl(ns, 'deployments'), ['deployment.apps/web']);
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web')!.spec.template.metadata.labels[TRACK], 'stable');
  });

  it('a failed canary, then reject, leaves nothing behind', async () => {
    const ns = freshNamespace(f);
    assert.equal((await runDeploy(f, { manifests: manifests(`${f.image}:1.0`), namespace: ns })).result?.status, 'Succeeded');
    const bad = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 4, env: { EXIT_CODE: '3' }, readinessProbe: true }), service), namespace: ns, strategy: 'canary' });
    assert.equal(bad.result?.status, 'Failed');
    assert.match(bad.result!.message, /web-canary failed: .*CrashLoopBackOff.* Reject the canary to remove it \(the stable version was not changed\)/);
    const reject = await canary(ns, `${f.image}:1.0`, { action: 'reject' });
    assert.equal(reject.result?.status, 'Succeeded', describeRun(reject));
    assert.deepEqual(await kubectl(ns, 'deployments'), ['deployment.apps/web']);
    assert.deepEqual(await kubectl(ns, 'services'), ['service/web']);
  });

  it('refuses before any change: StatefulSets, an unreachable percentage, gatewayApi without an HTTPRoute', async () => {
    const ns = freshNamespace(f);
    const sts = await runDeploy(f, { manifests: writeManifest(f, workload({ kind: 'StatefulSet', name: 'db', image: `${f.image}:1.0` })), namespace: ns, strategy: 'canary' });
    assert.equal(sts.result?.status, 'Failed');
    assert.match(sts.result!.message, /canary works on Deployments only, and the manifests hold StatefulSet db .*: a StatefulSet's pods own their names and volumes/);
    const pct = await canary(ns, `${f.image}:2.0`, { percentage: '60' });
    assert.match(pct.result!.message, /Input 'percentage': 60 % cannot be reached: .* at most 49 %/);
    const route = await canary(ns, `${f.image}:2.0`, { trafficSplit: 'gatewayApi' });
    assert.match(route.result!.message, /Input 'httpRoute' is required when trafficSplit is gatewayApi/);
    assert.deepEqual(await kubectl(ns, 'deployments'), []);
  });

  it('blue-green: deploy behind the preview Service, promote switches the live Service, reject leaves the live colour; each twice', async function () {
    this.timeout(300_000);
    const ns = freshNamespace(f);
    const bg = (image: string, action: string, delay = '0') => runDeploy(f, { manifests: manifests(image, 2), namespace: ns, strategy: 'blueGreen', action, scaleDownDelaySeconds: delay });
    /** Requests to the live Service's clusterIP, one after another, while `step` runs: what failed, and how many were sent. */
    const underTraffic = async <T>(step: () => Promise<T>): Promise<{ result: T; sent: number; failures: string[] }> => {
      const ip = get(f, 'v1', 'Service', ns, 'web')!.spec.clusterIP;
      let stop = false;
      let sent = 0;
      const failures: string[] = [];
      const traffic = (async () => {
        while (!stop) {
          sent++;
          try {
            const res = await fetch(`http://${ip}/api/x`);
            await res.arrayBuffer();
            if (res.status !== 200) failures.push(`status ${res.status}`);
          } catch (err) {
            failures.push(String((err as Error).cause ?? err));
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      try {
        return { result: await step(), sent, failures };
      } finally {
        stop = true;
        await traffic;
      }
    };
    const first = await bg(`${f.image}:1.0`, 'deploy');
    assert.equal(first.result?.status, 'Succeeded', describeRun(first));
    assert.match(first.result!.message, /blue is up behind Service web-preview; nothing is live yet/);
    assert.ok(first.logLines.some((l) => l.includes('No live colour yet (a first deployment of web)')));
    assert.equal(first.outputs.activeColour, '');
    assert.deepEqual(await kubectl(ns, 'services'), ['service/web-preview']);
    assert.equal(get(f, 'v1', 'Service', ns, 'web-preview')!.spec.selector[COLOUR], 'blue');

    const promoted = await bg(`${f.image}:1.0`, 'promote');
    assert.equal(promoted.result?.status, 'Succeeded', describeRun(promoted));
    assert.equal(promoted.outputs.activeColour, 'blue');
    assert.deepEqual(get(f, 'v1', 'Service', ns, 'web')!.spec.selector, { app: 'web', [COLOUR]: 'blue' });
    const twice = await bg(`${f.image}:1.0`, 'promote');
    assert.equal(twice.result?.status, 'Failed');
    assert.match(twice.result!.message, /no preview colour of web is waiting \(blue is live already\)/);

    const green = await bg(`${f.image}:2.0`, 'deploy');
    assert.equal(green.result?.status, 'Succeeded', describeRun(green));
    assert.deepEqual(await kubectl(ns, 'deployments'), ['deployment.apps/web-blue', 'deployment.apps/web-green']);
    assert.equal(get(f, 'v1', 'Service', ns, 'web')!.spec.selector[COLOUR], 'blue', 'deploy does not touch the live Service');
    for (const expected of [/Rejected green: removed; blue stays live/, /Nothing to reject/]) {
      const { result: reject, failures } = await underTraffic(() => bg(`${f.image}:2.0`, 'reject'));
      assert.deepEqual(failures, [], 'no request to the live colour fails during reject');
      assert.equal(reject.result?.status, 'Succeeded', describeRun(reject));
      assert.match(reject.result!.message, expected);
      assert.deepEqual(await kubectl(ns, 'deployments'), ['deployment.apps/web-blue']);
      assert.equal(get(f, 'v1', 'Service', ns, 'web')!.spec.selector[COLOUR], 'blue');
    }
    const next = await bg(`${f.image}:2.0`, 'deploy');
    assert.equal(next.result?.status, 'Succeeded', describeRun(next));
    const { result: switched, sent, failures } = await underTraffic(() => bg(`${f.image}:2.0`, 'promote', '2'));
    assert.equal(switched.result?.status, 'Succeeded', describeRun(switched));
    assert.match(switched.result!.message, /Promoted green: Service web sends all traffic to it; blue removed after 2 s/);
    assert.deepEqual(failures, [], `no request fails during the switch (${sent} sent)`);
    assert.ok(sent > 20, `${sent} requests sent during the switch`);
    assert.deepEqual(await kubectl(ns, 'deployments'), ['deployment.apps/web-green']);
    assert.match(switched.summaries[0]?.content ?? '', /Live colour: green\./);
  });
});

describe('DeployToAks@1: canary with Gateway API weights', function () {
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });

  // The cluster's shared Gateway (AKS app routing's Gateway API mode) honours the route's weights.
  const route = (backend: string, host: string) => `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: shop }\nspec:\n  parentRefs: [{ name: gateway, namespace: gateway-system }]\n  hostnames: [${host}]\n  rules:\n  - backendRefs: [{ name: ${backend}, port: 80 }]`;
  /** Sends requests through the gateway and counts the answering pods by their Deployment. */
  const through = async (host: string, n: number): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      // fetch does not send a Host header of its own choosing; node:http does.
      const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        http.get(`${f.cluster.gateway.sharedGatewayUrl()}/api/x`, { headers: { host }, agent: false }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => { text += d.toString(); });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        }).on('error', reject);
      });
      const pod = status === 200 ? (JSON.parse(text) as { pod?: string }).pod : undefined;
      const workload = (pod ?? `status ${status}`).replace(/-[a-z0-9]+-[a-z0-9]+$/, '');
      counts[workload] = (counts[workload] ?? 0) + 1;
    }
    return counts;
  };
  const service = 'apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }';

  it('weights the HTTPRoute to stable, baseline and canary Services it creates, and restores it on reject', async () => {
    const ns = freshNamespace(f);
    const host = `${ns}.shop.example`;
    const first = await runDeploy(f, { manifests: writeManifest(f, route('web', host), service, workload({ image: `${f.image}:1.0`, replicas: 4 })), namespace: ns });
    assert.equal(first.result?.status, 'Succeeded', describeRun(first));
    const manifests = writeManifest(f, service, workload({ image: `${f.image}:2.0`, replicas: 4 }));
    const inputs = { manifests, namespace: ns, strategy: 'canary', trafficSplit: 'gatewayApi', httpRoute: 'shop', percentage: '10' };
    const run = await runDeploy(f, inputs);
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    const weighted = get(f, 'gateway.networking.k8s.io/v1', 'HTTPRoute', ns, 'shop')!;
    assert.deepEqual(weighted.spec.rules[0].backendRefs, [
      { name: 'web-stable', port: 80, weight: 80 }, { name: 'web-baseline', port: 80, weight: 10 }, { name: 'web-canary', port: 80, weight: 10 },
    ]);
    assert.deepEqual(get(f, 'v1', 'Service', ns, 'web-canary')!.spec.selector, { app: 'web', [TRACK]: 'canary' });
    assert.deepEqual(get(f, 'v1', 'Service', ns, 'web-stable')!.spec.selector, { app: 'web', [TRACK]: 'stable' });
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web')!.spec.template.metadata.labels[TRACK], 'stable', 'stable pods are labelled for their Service');
    assert.match(run.summaries[0]?.content ?? '', /HTTPRoute shop sends 10 % of requests to the canary \(weight 10 of 100\)/);
    assert.match(run.summaries[0]?.content ?? '', /\| web-canary \| 1 \| 10 \| 10 % \|/);
    // Measured through the gateway: weight 10 of 100 is 10 % of requests (400 requests: σ = 1.5 %).
    const counts = await through(host, 400);
    const share = (counts['web-canary'] ?? 0) / 400;
    assert.ok(share > 0.05 && share < 0.16, `canary share ${share}: ${JSON.stringify(counts)}`);
    assert.ok((counts['web-baseline'] ?? 0) > 20 && (counts.web ?? 0) > 240, JSON.stringify(counts));

    const reject = await runDeploy(f, { ...inputs, action: 'reject' });
    assert.equal(reject.result?.status, 'Succeeded', describeRun(reject));
    assert.deepEqual(get(f, 'gateway.networking.k8s.io/v1', 'HTTPRoute', ns, 'shop')!.spec.rules[0].backendRefs, [{ name: 'web', port: 80 }]);
    assert.equal(get(f, 'gateway.networking.k8s.io/v1', 'HTTPRoute', ns, 'shop')!.metadata.annotations?.['aks-secure-delivery.dev/backends-before'], undefined);
    const { stdout } = await exec('kubectl', ['--kubeconfig', f.adminKubeconfigPath, 'get', 'services,deployments', '-n', ns, '-o', 'name']);
    assert.deepEqual(stdout.split('\n').filter(Boolean).sort(), ['deployment.apps/web', 'service/web']);
  });

  it('refuses an HTTPRoute whose backends are not the app\'s Services, before any change', async () => {
    const ns = freshNamespace(f);
    assert.equal((await runDeploy(f, { manifests: writeManifest(f, route('other', `${ns}.shop.example`), service, workload({ image: `${f.image}:1.0` })), namespace: ns })).result?.status, 'Succeeded');
    const run = await runDeploy(f, { manifests: writeManifest(f, service, workload({ image: `${f.image}:2.0` })), namespace: ns, strategy: 'canary', trafficSplit: 'gatewayApi', httpRoute: 'shop' });
    assert.equal(run.result?.status, 'Failed');
    assert.match(run.result!.message, /Input 'httpRoute': HTTPRoute .*\/shop routes to Service other, not to the app's Service 'web'\. Point its backendRefs at Service 'web'/);
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web-canary'), undefined);
  });
});

describe('DeployToAks@1 with AcceptanceGate@1: the canary judged against its baseline on real pods', function () {
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });
  const LABEL = 'aks_secure_delivery_dev_track';
  const service = 'apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }';

  /**
   * Prometheus scraping the namespace's pods on their loopback IPs, with the track label as a target label (what a
   * pod-scraping Prometheus keeps through a labelmap), and traffic through the app's Service while the gate runs.
   */
  async function judge(ns: string): Promise<{ status?: string; message?: string }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-gate-'));
    const pods = f.cluster.kube.list('v1', 'Pod', ns).filter((p) => p.status?.podIP && p.metadata.labels?.[TRACK]);
    fs.writeFileSync(path.join(dir, 'pods.json'), JSON.stringify(pods.map((p) => ({ targets: [`${p.status.podIP}:8080`], labels: { [LABEL]: p.metadata.labels![TRACK], pod: p.metadata.name } }))));
    fs.writeFileSync(path.join(dir, 'prometheus.yml'), `global: { scrape_interval: 1s, scrape_timeout: 1s }\nscrape_configs:\n  - job_name: pods\n    file_sd_configs: [{ files: ['${dir}/pods.json'] }]\n`);
    const port = await freePort();
    const prometheus = ManagedProcess.start('prometheus', 'prometheus', [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], path.join(dir, 'prometheus.log'));
    const ip = get(f, 'v1', 'Service', ns, 'web')!.spec.clusterIP;
    let stop = false;
    // Six independent clients, so that one slow answer does not hold the others back, each request on a connection
    // of its own: the Service spreads connections, not requests, over its pods, so kept-alive connections could
    // leave the baseline or the canary without traffic for the whole gate.
    const request = () => new Promise<void>((resolve) => {
      http.get(`http://${ip}/api/x`, { agent: false }, (res) => res.resume().once('end', resolve).once('error', () => resolve())).once('error', () => setTimeout(resolve, 50));
    });
    const traffic = Promise.all(Array.from({ length: 6 }, async () => {
      while (!stop) await request();
    }));
    try {
      await prometheus.waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok, 30_000);
      // A window with only a few requests says little: at a 40 % error ratio, four requests all succeed one time in
      // eight, and one such zero among the first values is enough for Mann-Whitney to see no shift. So, as a canary
      // query should, each side counts only in a window with at least 20 requests (a slow machine gives fewer).
      const requests = `http_requests_total{${LABEL}="{{version}}"}`;
      const ratio = `(sum(rate(http_requests_total{code="500",${LABEL}="{{version}}"}[4s]) or rate(${requests}[4s]) * 0) / sum(rate(${requests}[4s]))) and on() (sum(increase(${requests}[4s])) >= 20)`;
      // The initial delay outlasts the 4 s rate window and the first scrapes of the new pods, so no sample predates the
      // canary's traffic (zeros from before it would pull the interval down to zero and pass a bad canary).
      const gate = `initialDelay: 8\ninterval: 1\nrequiredSuccesses: 3\ntimeout: 60\nchecks:\n  - name: error ratio\n    compare: { url: "http://127.0.0.1:${port}", query: '${ratio}', direction: increase, minSamples: 5 }\n`;
      const run = await runTask('acceptance-gate', { inputs: { gate }, timeoutMs: 90_000 });
      return { status: run.result?.status, message: run.result?.message };
    } finally {
      stop = true;
      await traffic;
      await prometheus.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  const deploy = (ns: string, env: Record<string, string>, inputs: Record<string, string> = {}) =>
    runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:2.0`, replicas: 2, readinessProbe: true, env }), service), namespace: ns, strategy: 'canary', percentage: '25', ...inputs });

  it('passes a good canary, which is then promoted; fails a canary with a higher error ratio, which is rejected with stable untouched', async function () {
    this.timeout(400_000);
    const ns = freshNamespace(f);
    const stable = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 2, readinessProbe: true }), service), namespace: ns });
    assert.equal(stable.result?.status, 'Succeeded', describeRun(stable));
    const stablePods = () => f.cluster.kube.list('v1', 'Pod', ns).filter((p) => !p.metadata.labels?.[TRACK] || p.metadata.labels[TRACK] === 'stable').map((p) => p.metadata.uid).sort();
    const before = stablePods();

    assert.equal((await deploy(ns, { ERROR_RATIO: '0.4' })).result?.status, 'Succeeded');
    const bad = await judge(ns);
    assert.equal(bad.status, 'Failed', bad.message);
    assert.match(bad.message!, /'error ratio' High: canary median 0\.\d+, baseline median 0: shift/);
    const reject = await deploy(ns, { ERROR_RATIO: '0.4' }, { action: 'reject' });
    assert.equal(reject.result?.status, 'Succeeded', describeRun(reject));
    assert.deepEqual(stablePods(), before, 'the stable pods never changed');

    assert.equal((await deploy(ns, {})).result?.status, 'Succeeded');
    const good = await judge(ns);
    assert.equal(good.status, 'Succeeded', good.message);
    const promote = await deploy(ns, {}, { action: 'promote' });
    assert.equal(promote.result?.status, 'Succeeded', describeRun(promote));
    assert.equal(get(f, 'apps/v1', 'Deployment', ns, 'web')!.spec.template.spec.containers[0].image, `${f.image}:2.0`);
  });
});
