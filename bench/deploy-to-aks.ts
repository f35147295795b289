// deploy-to-aks: how fast a broken rollout fails, and how fast a deployment of 100 objects that is already rolled
// out is confirmed. The task runs as the agent runs it (the built bundle) against the local environment.
//   failureDetectionSeconds, per reason: from a new pod entering a failing state to the task's exit, for
//     ErrImagePull (a fresh rollout of a missing image) and CrashLoopBackOff; for ImagePullBackOff, the whole run of
//     a task that starts while the pod is already in back-off (a re-run of the pipeline: the kubelet holds its
//     back-off, as a real node does for up to five minutes), start-up included. Anchor, not measured: KubernetesManifest@1
//     and k8s-deploy wait for the progress deadline, whose documented default (spec.progressDeadlineSeconds) is 600 s,
//     or forever for StatefulSets and DaemonSets.
//   apply100Seconds: a whole task run that applies 100 objects (unchanged) and confirms their ready rollouts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTask } from '../test/helpers/agent';
import { sampleAppImage } from '../test/env/sample-app/image';
import { OciLayout, skopeoPush, skopeoTarget } from '../test/helpers/images';
import { median, report, round } from './lib/report';
import { runBenchmark, stagingKubeconfig } from './lib/run';


runBenchmark(async (env) => {
  const cluster = env.aks.clusters.staging;
  const kube = cluster.kube;
  const nonprod = env.registries.nonprod;
  const layout = new OciLayout(path.join(env.dir, 'bench-layout'));
  // The sample app, which the kubelet runs: EXIT_CODE in its environment makes it crash.
  layout.tag(sampleAppImage(layout, { VERSION: '1.0' }), '1.0');
  await skopeoPush(layout, '1.0', skopeoTarget(env, nonprod, path.join(env.dir, 'bench-certs')), 'shop/web');
  const image = `${nonprod.registry.loginServer}/shop/web`;
  const kubeconfig = stagingKubeconfig(env);
  let n = 0;
  const namespace = () => {
    const name = `bench-${++n}`;
    kube.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    return name;
  };
  const deployment = (name: string, img: string, env2 = '') => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: 2
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
      - name: ${name}
        image: ${img}
${env2}`;
  const run = (manifests: string, ns: string) => runTask('deploy-to-aks', {
    caFile: env.ca.caCertPath, timeoutMs: 120_000,
    inputs: { connectionType: 'kubeconfig', kubeconfig, manifests, namespace: ns, rolloutTimeout: 600 },
  });

  // ---- failure detection
  const reasonsIn = (ns: string) => kube.list('v1', 'Pod', ns).flatMap((p) => (p.status?.containerStatuses ?? []).map((cs: { state?: { waiting?: { reason?: string } } }) => cs.state?.waiting?.reason ?? ''));
  const manifestFile = (ns: string, manifest: string) => {
    const file = path.join(env.dir, `bench-fail-${ns}.yaml`);
    fs.writeFileSync(file, manifest);
    return file;
  };
  /** Seconds from a pod of `ns` first showing `reason` to the end of the task run that deploys `file`. */
  const detect = async (what: string, file: string, ns: string): Promise<number> => {
    let since: number | undefined;
    const timer = setInterval(() => { if (!since && reasonsIn(ns).includes(what)) since = Date.now(); }, 5);
    const result = await run(file, ns);
    const ended = Date.now();
    clearInterval(timer);
    if (result.result?.status !== 'Failed' || !since || !result.result.message.includes(what)) throw new Error(`${what}: expected a failure on it, got ${result.result?.status}: ${result.result?.message}`);
    return (ended - since) / 1000;
  };
  const detection: Record<string, number[]> = { ErrImagePull: [], ImagePullBackOff: [], CrashLoopBackOff: [] };
  const images = cluster.kubelet.images;
  for (let i = 0; i < 3; i++) {
    let ns = namespace();
    detection.ErrImagePull.push(await detect('ErrImagePull', manifestFile(ns, deployment('web', `${image}:0.${i}-missing`)), ns));
    ns = namespace();
    detection.CrashLoopBackOff.push(await detect('CrashLoopBackOff', manifestFile(ns, deployment('web', `${image}:1.0`, '        env: [{ name: EXIT_CODE, value: "1" }]\n        readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }')), ns));
    // ImagePullBackOff: the pod is in back-off before the run starts, so the whole run is what the user waits.
    const pullCacheMs = images.pullCacheMs;
    images.pullCacheMs = 120_000;
    try {
      ns = namespace();
      const file = manifestFile(ns, deployment('web', `${image}:9.${i}-missing`));
      await run(file, ns);
      const until = Date.now() + 10_000;
      while (!reasonsIn(ns).includes('ImagePullBackOff') && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const rerun = await run(file, ns);
      if (rerun.result?.status !== 'Failed' || !rerun.result.message.includes('ImagePullBackOff')) throw new Error(`ImagePullBackOff: got ${rerun.result?.status}: ${rerun.result?.message}`);
      detection.ImagePullBackOff.push(rerun.durationMs / 1000);
    } finally {
      images.pullCacheMs = pullCacheMs;
    }
    for (const [what, values] of Object.entries(detection)) console.log(`${what.padEnd(20)} failed ${values.at(-1)!.toFixed(2)} s after the pod entered it`);
  }

  // ---- 100 objects, already rolled out
  const ns = namespace();
  const docs: string[] = [];
  for (let i = 0; i < 5; i++) docs.push(deployment(`web-${i}`, `${image}:1.0`));
  for (let i = 0; i < 5; i++) docs.push(`apiVersion: v1\nkind: Service\nmetadata: { name: web-${i} }\nspec: { selector: { app: web-${i} }, ports: [{ port: 80 }] }`);
  for (let i = 0; i < 90; i++) docs.push(`apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings-${i} }\ndata: { index: "${i}" }`);
  const file = path.join(env.dir, 'bench-100.yaml');
  fs.writeFileSync(file, docs.join('\n---\n'));
  const first = await run(file, ns);
  if (first.result?.status !== 'Succeeded') throw new Error(`first apply failed: ${first.result?.message}`);
  const apply: number[] = [];
  for (let i = 0; i < 3; i++) {
    const again = await run(file, ns);
    if (again.result?.status !== 'Succeeded') throw new Error(`apply failed: ${again.result?.message}`);
    apply.push(again.durationMs / 1000);
  }
  console.log(`apply 100 objects (first run, creating them and rolling out): ${(first.durationMs / 1000).toFixed(2)} s`);
  console.log('anchor (documented, not measured): KubernetesManifest@1 / k8s-deploy report a broken rollout at the progress deadline, spec.progressDeadlineSeconds, 600 s by default');
  const perReason = Object.fromEntries(Object.entries(detection).map(([what, values]) => [`failureDetectionSeconds.${what}`, round(median(values))]));
  report('deploy-to-aks', { failureDetectionSeconds: round(Math.max(...Object.values(perReason))), ...perReason, apply100Seconds: round(median(apply)) }, {
    failureDetectionSeconds: 'under 5, the slowest reason (anchors: the documented 600 s default progress deadline)', apply100Seconds: 'under 3',
  });
});
