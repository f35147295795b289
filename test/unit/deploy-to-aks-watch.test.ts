import { strict as assert } from 'node:assert';
import { KubeConfig } from '@kubernetes/client-node';
import type { Environment } from '../env';
import type { KubeCluster } from '../env/kube/cluster';
import { sharedEnvironment } from '../helpers/environment';
import { silentLog, type TaskLog } from '../../tasks/common/log';
import { KubeClient } from '../../tasks/deploy-to-aks/kubeClient';
import { ListWatch, waitForRollouts } from '../../tasks/deploy-to-aks/rollout';

/** ListWatch against the emulator: the watch goes on through everything an API server and a network do to it. */
describe('deploy-to-aks list-and-watch', function () {
  this.timeout(60_000);
  let env: Environment;
  let kube: KubeCluster;
  let client: KubeClient;
  const debug: string[] = [];
  const log: TaskLog = { ...silentLog, debug: (m) => debug.push(m) };
  const ns = `watch-${Date.now().toString(36)}`;

  before(async () => {
    env = await sharedEnvironment();
    kube = env.aks.clusters.staging.kube;
    kube.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const kc = new KubeConfig();
    kc.loadFromString(env.aks.clusters.staging.adminKubeconfig());
    client = new KubeClient(kc, log, 'staging');
  });
  afterEach(() => {
    kube.faults.clear();
    kube.expiredWatch = 'event';
    debug.length = 0;
  });
  after(() => {
    client.close();
    const namespace = kube.get('v1', 'Namespace', undefined, ns);
    if (namespace) kube.remove(namespace);
  });

  const cm = (name: string, value: string) => kube.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { value } });

  async function watching(body: (lw: ListWatch, seen: () => Promise<void>) => Promise<void>): Promise<ListWatch> {
    const controller = new AbortController();
    let notify = () => undefined as void;
    const lw = new ListWatch(client, `/api/v1/namespaces/${ns}/configmaps`, {}, () => notify(), log);
    const running = lw.run(controller.signal);
    const seen = () => new Promise<void>((resolve) => { notify = resolve; });
    try {
      await body(lw, seen);
    } finally {
      controller.abort();
      await running;
    }
    return lw;
  }

  async function until(lw: ListWatch, name: string, value: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (lw.items.get(name)?.data?.value !== value) {
      if (Date.now() > deadline) throw new Error(`${name} never became ${value}: ${JSON.stringify(lw.items.get(name)?.data)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('keeps its items current through dropped watches and both forms of 410 Gone', async () => {
    cm('a', '1');
    const lw = await watching(async (w) => {
      await until(w, 'a', '1');
      const deadline = Date.now() + 5000;
      while (kube.openWatches === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(kube.dropWatches() >= 1, 'a watch was open and is dropped');
      cm('a', '2');
      await until(w, 'a', '2');
      kube.compact();
      kube.dropWatches();
      cm('a', '3');
      await until(w, 'a', '3');
      kube.expiredWatch = 'http';
      kube.compact();
      kube.dropWatches();
      cm('a', '4');
      await until(w, 'a', '4');
    });
    assert.ok(lw.relists >= 3, `listed again after each 410 (${lw.relists} lists)`);
    assert.equal(debug.filter((d) => d.includes('(410 Gone); listing again')).length, 2, debug.join('\n'));
  });

  it('backs off on 429 and 5xx from watch and list requests, and goes on', async () => {
    cm('b', '1');
    await watching(async (w) => {
      await until(w, 'b', '1');
      kube.faults.failNext('429', 2, { match: /watch=true/, retryAfterSeconds: 0 });
      kube.faults.failNext('503', 1, { match: /watch=true/ });
      kube.faults.failNext('drop', 1, { match: /watch=true/ });
      kube.dropWatches();
      cm('b', '2');
      await until(w, 'b', '2');
      const deadline = Date.now() + 10_000;
      while (kube.faults.served.drop === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      cm('b', '3');
      await until(w, 'b', '3');
    });
    assert.equal(kube.faults.served['429'], 2);
    assert.equal(kube.faults.served['503'], 1);
    assert.equal(kube.faults.served.drop, 1);
  });

  it('ends the wait at rolloutTimeout when the workload cannot be listed at all', async () => {
    kube.faults.setRates({ rate500: 1, match: new RegExp(`^GET /apis/apps/v1/namespaces/${ns}/deployments`) });
    const workload = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'unlisted', namespace: ns } };
    const started = Date.now();
    const [result] = await waitForRollouts(client, [{ applied: workload, manifest: workload }], log, { timeoutSeconds: 1 });
    assert.equal(result.status, 'timeout');
    assert.match(result.message, /rolloutTimeout \(1 s\)/);
    assert.ok(kube.faults.served['500'] > 0, 'the list requests failed');
    assert.ok(Date.now() - started < 20_000, `the wait ended ${Date.now() - started} ms after it began`);
  });

  it('sees deletions', async () => {
    cm('c', '1');
    await watching(async (w) => {
      await until(w, 'c', '1');
      kube.remove(kube.get('v1', 'ConfigMap', ns, 'c')!);
      const deadline = Date.now() + 5000;
      while (w.items.has('c') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(w.items.has('c'), false);
    });
  });
});
