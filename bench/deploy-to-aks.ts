// deploy-to-aks: how fast a broken rollout fails, and how fast a deployment of 100 objects that is already rolled
// out is confirmed. The task runs as the agent runs it (the built bundle) against the local environment.
//   failureDetectionSeconds: from a new pod entering a failing state (ErrImagePull / ImagePullBackOff /
//     CrashLoopBackOff) to the task's exit. Anchor: KubernetesManifest@1 and k8s-deploy wait for the progress
//     deadline, 600 s by default (or forever for StatefulSets and DaemonSets).
//   apply100Seconds: a whole task run that applies 100 objects (unchanged) and confirms their ready rollouts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startEnvironment } from '../test/env';
import { runTask } from '../test/helpers/agent';
import { sampleAppImage } from '../test/env/sample-app/image';
import { OciLayout, skopeoPush, skopeoTarget } from '../test/helpers/images';
import { median, report, round } from './lib/report';

const FATAL = new Set(['ErrImagePull', 'ImagePullBackOff', 'CrashLoopBackOff']);

async function main(): Promise<void> {
  const env = await startEnvironment();
  try {
    const cluster = env.aks.clusters.staging;
    const kube = cluster.kube;
    const nonprod = env.registries.nonprod;
    const layout = new OciLayout(path.join(env.dir, 'bench-layout'));
    // The sample app, which the kubelet runs as a process: the container's env decides how it behaves (EXIT_CODE…).
    layout.tag(sampleAppImage(layout, { VERSION: '1.0' }), '1.0');
    await skopeoPush(layout, '1.0', skopeoTarget(env, nonprod, path.join(env.dir, 'bench-certs')), 'shop/web');
    const image = `${nonprod.registry.loginServer}/shop/web`;
    const kubeconfig = path.join(env.dir, 'bench.kubeconfig');
    fs.writeFileSync(kubeconfig, cluster.adminKubeconfig());
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
    const detection: number[] = [];
    const cases = [
      ['ImagePullBackOff', deployment('web', `${image}:0.0-missing`)],
      ['CrashLoopBackOff', deployment('web', `${image}:1.0`, '        env: [{ name: EXIT_CODE, value: "1" }]\n        readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }')],
    ];
    for (let i = 0; i < 3; i++) {
      for (const [what, manifest] of cases) {
        const ns = namespace();
        const file = path.join(env.dir, `bench-fail-${ns}.yaml`);
        fs.writeFileSync(file, manifest);
        let failingSince: number | undefined;
        const timer = setInterval(() => {
          if (failingSince) return;
          const failing = kube.list('v1', 'Pod', ns).some((p) => (p.status?.containerStatuses ?? []).some((cs: { state?: { waiting?: { reason: string } } }) => FATAL.has(cs.state?.waiting?.reason ?? '')));
          if (failing) failingSince = Date.now();
        }, 5);
        const result = await run(file, ns);
        const ended = Date.now();
        clearInterval(timer);
        if (result.result?.status !== 'Failed' || !failingSince) throw new Error(`${what}: expected a failure, got ${result.result?.status}: ${result.result?.message}`);
        detection.push((ended - failingSince) / 1000);
        console.log(`${what.padEnd(20)} failed ${((ended - failingSince) / 1000).toFixed(2)} s after the pod entered a failing state (task run ${(result.durationMs / 1000).toFixed(2)} s)`);
      }
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
    console.log('anchor: KubernetesManifest@1 / k8s-deploy report a broken rollout after the 600 s progress deadline');
    report('deploy-to-aks', { failureDetectionSeconds: round(median(detection)), apply100Seconds: round(median(apply)) }, {
      failureDetectionSeconds: 'under 5 (anchors: 600)', apply100Seconds: 'under 3',
    });
  } finally {
    await env.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
