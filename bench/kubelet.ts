// The local environment that runs what it deploys: how long it takes to start, and how long a Deployment of the
// sample app's image takes from `kubectl apply` to Ready (the kubelet pulls the image, unpacks it per pod and
// starts a Node process on each pod's loopback address; readiness by an HTTP probe on /healthz).
//   environmentStartSeconds: startEnvironment() from nothing to the info line (registries, Prometheus, two clusters).
//   podStartSeconds: from apply to every pod of a 3-replica Deployment Ready (median of 3, a new tag each time,
//     so every run pulls). Anchor: a real AKS node with the image cached starts such a pod in 1-2 s.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { sampleAppImage } from '../test/env/sample-app/image';
import { isReady } from '../test/env/kube/status';
import { OciLayout, skopeoPush, skopeoTarget } from '../test/helpers/images';
import { median, report, round } from './lib/report';
import { runBenchmark, stagingKubeconfig } from './lib/run';

const exec = promisify(execFile);

runBenchmark(async (env, environmentStartSeconds) => {
  console.log(`environment started in ${environmentStartSeconds.toFixed(2)} s`);
  const cluster = env.aks.clusters.staging;
  const layout = new OciLayout(path.join(env.dir, 'bench-layout'));
  const target = skopeoTarget(env, env.registries.nonprod, path.join(env.dir, 'bench-certs'));
  const image = `${env.registries.nonprod.registry.loginServer}/shop/web`;
  const kubeconfig = stagingKubeconfig(env);
  const starts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const tag = `bench-${i}`;
    layout.tag(sampleAppImage(layout, { VERSION: tag }), tag);
    await skopeoPush(layout, tag, target, 'shop/web');
    const ns = `bench-pods-${i}`;
    cluster.kube.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const file = path.join(env.dir, `bench-pods-${i}.yaml`);
    fs.writeFileSync(file, `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: ${ns} }
spec:
  replicas: 3
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
      - name: web
        image: ${image}:${tag}
        ports: [{ containerPort: 8080 }]
        readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
`);
    const t0 = Date.now();
    await exec('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', file]);
    const deadline = t0 + 60_000;
    while (Date.now() < deadline) {
      const pods = cluster.kube.list('v1', 'Pod', ns);
      if (pods.length === 3 && pods.every(isReady)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const seconds = (Date.now() - t0) / 1000;
    if (seconds >= 60) throw new Error('the pods did not become ready within 60 s');
    starts.push(seconds);
    console.log(`3 pods of ${image}:${tag} ready ${seconds.toFixed(2)} s after apply`);
  }
  report('kubelet', { podStartSeconds: round(median(starts)), environmentStartSeconds: round(environmentStartSeconds) }, {
    podStartSeconds: 'under 2', environmentStartSeconds: 'under 15',
  });
});
