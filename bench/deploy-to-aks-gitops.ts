// deploy-to-aks, GitOps delivery: what the task adds on top of Flux. The task runs as the agent runs it (the built
// bundle) against the local environment, whose Flux fetches every second.
//   gitopsCommitToCompliantSeconds: from Flux having applied the commit and found it healthy (its reconciler's own
//     record) to the task's exit: reading ARM, judging the reading, reporting. Flux's sync interval is not in it.
//     Anchor: pipelines without feedback sleep, or poll `az k8s-configuration flux show` every 5-10 s (kalypso: 5 s).
//   gitopsNoChangeSeconds: a whole task run whose render equals the folder: no commit, no wait.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTask } from '../test/helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../test/helpers/connections';
import { OciLayout, skopeoPush, skopeoTarget } from '../test/helpers/images';
import { median, report, round } from './lib/report';
import { runBenchmark } from './lib/run';

runBenchmark(async (env) => {
  const cluster = env.aks.clusters.staging;
  const nonprod = env.registries.nonprod;
  const layout = new OciLayout(path.join(env.dir, 'bench-layout'));
  layout.tag(layout.image([256]), '1.0');
  await skopeoPush(layout, '1.0', skopeoTarget(env, nonprod, path.join(env.dir, 'bench-certs')), 'shop/web');
  cluster.kube.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
  const { id, options } = azureRmConnection(env, 'secret');
  const manifest = (replicas: number) => {
    const file = path.join(env.dir, `bench-gitops-${replicas}.yaml`);
    // A ConfigMap whose data changes, beside a Service: what is measured is the task, not the rollout.
    fs.writeFileSync(file, `apiVersion: v1
kind: ConfigMap
metadata: { name: web-settings }
data: { replicas: "${replicas}", image: ${nonprod.registry.loginServer}/shop/web:1.0 }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { selector: { app: web }, ports: [{ port: 80 }] }
`);
    return file;
  };
  const run = (file: string) => runTask('deploy-to-aks', mergeRunOptions(options, {
    caFile: env.ca.caCertPath, timeoutMs: 180_000, systemAccessToken: env.devops.accessToken,
    variables: { 'System.CollectionUri': env.devops.collectionUri, 'System.TeamProject': env.devops.project, 'Build.BuildNumber': 'bench' },
    inputs: {
      deliveryMode: 'gitops', azureSubscription: id, resourceGroup: cluster.resourceGroup, kubernetesCluster: cluster.name,
      gitRepository: 'shop-gitops', gitPath: 'clusters/staging', manifests: file, namespace: 'bench',
    },
  }));
  const reconciler = env.flux.reconcilers.staging;

  const overhead: number[] = [];
  for (const replicas of [1, 2, 1, 2, 1]) {
    const result = await run(manifest(replicas));
    const ended = Date.now();
    if (result.result?.status !== 'Succeeded' || !result.outputs.gitCommit) throw new Error(`delivery failed: ${result.result?.message}`);
    const applied = reconciler.history.find((h) => h.ready && h.revision === `main@sha1:${result.outputs.gitCommit}`);
    if (!applied) throw new Error('Flux has no record of applying the commit');
    overhead.push((ended - applied.at) / 1000);
    console.log(`commit ${result.outputs.gitCommit.slice(0, 8)}: task run ${(result.durationMs / 1000).toFixed(2)} s, exit ${((ended - applied.at) / 1000).toFixed(2)} s after Flux applied it`);
  }
  const unchanged: number[] = [];
  for (let i = 0; i < 5; i++) {
    const result = await run(manifest(1));
    if (result.result?.status !== 'Succeeded' || result.outputs.gitCommit) throw new Error(`unchanged run: ${result.result?.status} ${result.result?.message}`);
    unchanged.push(result.durationMs / 1000);
    console.log(`unchanged re-run: ${(result.durationMs / 1000).toFixed(2)} s`);
  }
  console.log(`Flux sync interval: ${reconciler.spec.syncIntervalInSeconds} s (not counted); anchor: a poll every 5-10 s, or a fixed sleep`);
  report('deploy-to-aks-gitops', { gitopsCommitToCompliantSeconds: round(median(overhead)), gitopsNoChangeSeconds: round(median(unchanged)) }, {
    gitopsCommitToCompliantSeconds: 'under 2 (anchor: 5-10 s polls)', gitopsNoChangeSeconds: 'under 1.5',
  });
});
