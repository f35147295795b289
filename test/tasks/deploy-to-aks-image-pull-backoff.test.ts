import { strict as assert } from 'node:assert';
import { type DeployFixture, describeRun, freshNamespace, runDeploy, useDeployFixture, workload, writeManifest } from './deploy-to-aks-fixture';

/** The waiting reason of each container of the namespace's pods. */
function waitingReasons(f: DeployFixture, ns: string): string[] {
  return f.cluster.kube.list('v1', 'Pod', ns).flatMap((p) => (p.status?.containerStatuses ?? []).map((c: { state?: { waiting?: { reason?: string } } }) => c.state?.waiting?.reason ?? 'none'));
}

describe('DeployToAks@1: a pod that is already in image pull back-off', function () {
  this.timeout(90_000);
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });

  // A real kubelet reports ErrImagePull once, then ImagePullBackOff until its next pull, up to five minutes later
  // (the back-off of kubernetes/pkg/kubelet/images/image_manager.go: 10 s doubling to 300 s). A re-run of the
  // pipeline that starts watching during that back-off sees only ImagePullBackOff.
  it('fails within seconds on ImagePullBackOff seen without a preceding ErrImagePull (a re-run during the back-off)', async () => {
    const kubelet = f.cluster.kubelet;
    const pullCacheMs = kubelet.images.pullCacheMs;
    // The kubelet keeps the failed pull for two minutes instead of 1.5 s, so it stays in back-off as a real node does.
    kubelet.images.pullCacheMs = 120_000;
    try {
      const ns = freshNamespace(f);
      const manifest = writeManifest(f, workload({ image: `${f.image}:7.7-missing`, replicas: 1 }));
      const first = await runDeploy(f, { manifests: manifest, namespace: ns });
      assert.equal(first.result?.status, 'Failed', describeRun(first));
      const until = Date.now() + 10_000;
      while (!waitingReasons(f, ns).includes('ImagePullBackOff') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(waitingReasons(f, ns), ['ImagePullBackOff'], 'the pod is in back-off before the second run starts');

      const seen = new Set<string>();
      const sampler = setInterval(() => { for (const r of waitingReasons(f, ns)) seen.add(r); }, 20);
      const rerun = await runDeploy(f, { manifests: manifest, namespace: ns, rolloutTimeout: 30 }).finally(() => clearInterval(sampler));
      assert.equal(rerun.result?.status, 'Failed', describeRun(rerun));
      assert.match(rerun.result!.message, /container 'web' is in ImagePullBackOff/);
      assert.ok(rerun.durationMs < 10_000, `failed after ${rerun.durationMs} ms, not at once`);
      assert.deepEqual([...seen], ['ImagePullBackOff'], 'the kubelet reported nothing but ImagePullBackOff during the re-run');
    } finally {
      kubelet.images.pullCacheMs = pullCacheMs;
      kubelet.forgetPulls();
    }
  });
});
