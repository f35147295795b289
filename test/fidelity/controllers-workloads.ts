import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KObj } from '../env/kube/types';
import type { FidelityContext } from './harness';

/** What the controller fidelity cases share: manifests written to files for `kubectl apply -f`, and samplers. */

export interface PodTemplateOptions {
  image: string;
  /** Seconds before the pod's container listens (and its readiness probe, every second, passes). */
  readyAfter?: number;
  /** A crashing build: the sample app exits with this code at once (EXIT_CODE). */
  exitCode?: number;
  env?: Record<string, string>;
  serviceAccountName?: string;
  /**
   * Seconds the container keeps running after SIGTERM (a shell that traps it, beside the sample app, which drains
   * for a second and exits): the pod stays Terminating that long.
   */
  shutdownSeconds?: number;
  terminationGracePeriodSeconds?: number;
}

export function podTemplate(app: string, o: PodTemplateOptions): Record<string, unknown> {
  // The sample app starts listening after STARTUP_DELAY_SECONDS; a readiness probe on /healthz sees it then.
  const env = { ...o.env, ...(o.readyAfter ? { STARTUP_DELAY_SECONDS: String(o.readyAfter) } : {}), ...(o.exitCode !== undefined ? { EXIT_CODE: String(o.exitCode) } : {}) };
  const probe = o.readyAfter || o.exitCode !== undefined ? { readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 } } : {};
  return {
    metadata: { labels: { app } },
    spec: {
      ...(o.serviceAccountName ? { serviceAccountName: o.serviceAccountName } : {}),
      ...(o.terminationGracePeriodSeconds !== undefined ? { terminationGracePeriodSeconds: o.terminationGracePeriodSeconds } : {}),
      containers: [{
        name: app, image: o.image, ...(Object.keys(env).length ? { env: Object.entries(env).map(([name, value]) => ({ name, value })) } : {}), ...probe,
        ...(o.shutdownSeconds ? { command: ['sh', '-c', `trap 'sleep ${o.shutdownSeconds}; exit 0' TERM; node server.js & wait`] } : {}),
      }],
    },
  };
}

/** A Deployment manifest (JSON is YAML) with the given spec fields beside selector and template. */
export function deploymentManifest(name: string, spec: Record<string, unknown>, template: PodTemplateOptions): KObj {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: { replicas: 2, ...spec, selector: { matchLabels: { app: name } }, template: podTemplate(name, template) },
  };
}

export function statefulSetManifest(name: string, spec: Record<string, unknown>, template: PodTemplateOptions): KObj {
  return {
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name },
    spec: { replicas: 3, serviceName: name, ...spec, selector: { matchLabels: { app: name } }, template: podTemplate(name, template) },
  };
}

export function daemonSetManifest(name: string, spec: Record<string, unknown>, template: PodTemplateOptions): KObj {
  return {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name },
    spec: { ...spec, selector: { matchLabels: { app: name } }, template: podTemplate(name, template) },
  };
}

/** `kubectl apply -f` of the objects, server-side, into the namespace. */
export async function apply(c: FidelityContext, ns: string, ...objects: KObj[]): Promise<string> {
  const file = path.join(c.f.dir, `fid-${randomBytes(4).toString('hex')}.json`);
  fs.writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  // --validate=false until the emulator serves OpenAPI v3, which kubectl's client-side validation reads.
  return c.kubectl('apply', '--server-side', '--force-conflicts', '--validate=false', '-n', ns, '-f', file);
}

/** Parsed `kubectl get -o json`. */
export async function getJson(c: FidelityContext, ns: string, ...what: string[]): Promise<KObj> {
  return JSON.parse(await c.kubectl('get', '-n', ns, ...what, '-o', 'json')) as KObj;
}

/** The Deployment's ReplicaSets as the store holds them, oldest first. */
export function replicaSetsOf(c: FidelityContext, ns: string, deployment: string): KObj[] {
  const d = c.f.cluster.kube.get('apps/v1', 'Deployment', ns, deployment);
  return c.f.cluster.kube.list('apps/v1', 'ReplicaSet', ns, (rs) => (rs.metadata.ownerReferences ?? []).some((r: { uid: string }) => r.uid === d?.metadata.uid))
    .sort((a, b) => Number(a.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0) - Number(b.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0));
}

/** Calls `sample` every few milliseconds until the returned stop function is called; returns what it collected. */
export function sampler<T>(sample: () => T, everyMs = 10): () => T[] {
  const seen: T[] = [];
  const timer = setInterval(() => seen.push(sample()), everyMs);
  return () => {
    clearInterval(timer);
    seen.push(sample());
    return seen;
  };
}

/** Polls every 50 ms until `check` gives a truthy value, and returns that value. */
export async function until<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
