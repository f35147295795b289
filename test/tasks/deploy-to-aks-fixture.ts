import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Environment } from '../env';
import type { AksCluster } from '../env/aks';
import type { KubeCluster } from '../env/kube/cluster';
import type { KObj } from '../env/kube/types';
import { runTask, type RunOptions, type TaskRun } from '../helpers/agent';
import { mergeRunOptions } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { OciLayout, skopeoPush, skopeoTarget } from '../helpers/images';
import { sampleAppImage } from '../env/sample-app/image';

export interface DeployFixture {
  env: Environment;
  cluster: AksCluster;
  /** `127.0.0.1:<port>/shop/web`, pushed with tags 1.0 and 2.0. */
  image: string;
  dir: string;
  adminKubeconfigPath: string;
}

let fixture: Promise<DeployFixture> | undefined;

/** The shared environment, with an image in the non-production registry and a kubeconfig file for staging. */
export function deployFixture(): Promise<DeployFixture> {
  fixture ??= (async () => {
    const env = await sharedEnvironment();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-to-aks-'));
    const nonprod = env.registries.nonprod;
    const layout = new OciLayout(path.join(dir, 'layout'));
    // The sample app, which the kubelet runs: each container's env picks how it behaves (EXIT_CODE, …).
    layout.tag(sampleAppImage(layout, { VERSION: '1.0' }), '1.0');
    layout.tag(sampleAppImage(layout, { VERSION: '2.0' }), '2.0');
    const target = skopeoTarget(env, nonprod, path.join(dir, 'certs'));
    await skopeoPush(layout, '1.0', target, 'shop/web');
    await skopeoPush(layout, '2.0', target, 'shop/web');
    const cluster = env.aks.clusters.staging;
    const adminKubeconfigPath = path.join(dir, 'admin.kubeconfig');
    fs.writeFileSync(adminKubeconfigPath, cluster.adminKubeconfig(), { mode: 0o600 });
    return { env, cluster, image: `${nonprod.registry.loginServer}/shop/web`, dir, adminKubeconfigPath };
  })();
  return fixture;
}

const created: { kube: KubeCluster; name: string }[] = [];

/**
 * Registers the hooks every DeployToAks@1 suite needs: the fixture before the first test, and after each test its
 * namespaces deleted, faults cleared and admission policies removed. `ready` receives the fixture.
 */
export function useDeployFixture(ready: (f: DeployFixture) => void): void {
  let fixture: DeployFixture | undefined;
  before(async function () {
    this.timeout(120_000);
    fixture = await deployFixture();
    ready(fixture);
  });
  afterEach(() => {
    cleanNamespaces();
    fixture?.env.clearFaults();
    if (fixture) fixture.cluster.kube.policies.length = 0;
  });
}

/** A fresh namespace in the cluster (staging unless given), for one test; `cleanNamespaces` deletes it. */
export function freshNamespace(f: DeployFixture, prefix = 't', kube: KubeCluster = f.cluster.kube): string {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  kube.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } });
  created.push({ kube, name });
  return name;
}

/**
 * Deletes the namespaces tests made (and those their manifests made, named after them), with everything in them,
 * so that no workload of a finished test keeps crashing and writing events for the rest of the run.
 */
export function cleanNamespaces(): void {
  for (const { kube, name } of created.splice(0)) {
    for (const ns of kube.list('v1', 'Namespace', undefined, (n) => n.metadata.name === name || n.metadata.name.startsWith(`${name}-`))) kube.remove(ns);
  }
}

/** Writes YAML documents to a new file and returns its path. */
export function writeManifest(f: DeployFixture, ...docs: string[]): string {
  const file = path.join(f.dir, `m-${randomBytes(4).toString('hex')}.yaml`);
  fs.writeFileSync(file, docs.join('\n---\n'));
  return file;
}

export interface WorkloadOptions {
  kind?: 'Deployment' | 'StatefulSet' | 'DaemonSet';
  name?: string;
  image: string;
  replicas?: number;
  env?: Record<string, string>;
  /** A readiness probe on the sample app's /healthz, every second (with STARTUP_DELAY_SECONDS: a slow start). */
  readinessProbe?: boolean;
  extraSpec?: string;
  extraContainer?: string;
  namespace?: string;
}

export function workload(o: WorkloadOptions): string {
  const kind = o.kind ?? 'Deployment';
  const name = o.name ?? 'web';
  const env = Object.entries(o.env ?? {});
  return [
    'apiVersion: apps/v1',
    `kind: ${kind}`,
    'metadata:',
    `  name: ${name}`,
    ...(o.namespace ? [`  namespace: ${o.namespace}`] : []),
    'spec:',
    ...(kind === 'DaemonSet' ? [] : [`  replicas: ${o.replicas ?? 2}`]),
    ...(kind === 'StatefulSet' ? [`  serviceName: ${name}`] : []),
    ...(o.extraSpec ? o.extraSpec.split('\n').map((l) => `  ${l}`) : []),
    `  selector: { matchLabels: { app: ${name} } }`,
    '  template:',
    `    metadata: { labels: { app: ${name} } }`,
    '    spec:',
    '      containers:',
    `      - name: ${name}`,
    `        image: ${o.image}`,
    ...(env.length ? ['        env:', ...env.map(([k, v]) => `        - { name: ${k}, value: "${v}" }`)] : []),
    ...(o.readinessProbe ? ['        readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }'] : []),
    ...(o.extraContainer ? o.extraContainer.split('\n').map((l) => `        ${l}`) : []),
  ].join('\n');
}

/** Runs the built task against staging through a kubeconfig file (the admin's client certificate). */
export function runDeploy(f: DeployFixture, inputs: Record<string, string | boolean | number | undefined>, extra: Partial<RunOptions> = {}): Promise<TaskRun> {
  return runTask('deploy-to-aks', mergeRunOptions({
    caFile: f.env.ca.caCertPath,
    timeoutMs: 60_000,
    inputs: { connectionType: 'kubeconfig', kubeconfig: f.adminKubeconfigPath, ...inputs },
  }, extra));
}

export function get(f: DeployFixture, apiVersion: string, kind: string, namespace: string | undefined, name: string): KObj | undefined {
  return f.cluster.kube.get(apiVersion, kind, namespace, name);
}

/** Everything a person would read about a run: result, log and stderr. */
export function describeRun(run: TaskRun): string {
  return `${run.result?.status}: ${run.result?.message}\n${run.logLines.join('\n')}\n${run.stderr}`;
}
