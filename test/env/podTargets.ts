import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KubeCluster } from './kube/cluster';
import { isReady } from './kube/status';
import { startTicking } from './ticker';
import type { KObj } from './kube/types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** A label name as Prometheus makes one valid (strutil.SanitizeLabelName): every character outside [a-zA-Z0-9_] becomes _. */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * One scrape target of Prometheus' file-based discovery for a pod, as the usual `kubernetes-pods` job makes it
 * from Kubernetes discovery and relabelling: the address `<podIP>:<prometheus.io/port>` (else the first
 * containerPort), the path from `prometheus.io/path` (default /metrics), and the labels `namespace`, `pod` and the
 * pod's own labels with their names sanitised (app.kubernetes.io/name → app_kubernetes_io_name).
 */
export function podTarget(pod: KObj, cluster: string): { targets: string[]; labels: Record<string, string> } {
  const annotations = (pod.metadata.annotations ?? {}) as Record<string, string>;
  const firstPort = ((pod.spec.containers ?? []) as Any[]).flatMap((c) => c.ports ?? [])[0]?.containerPort;
  const port = annotations['prometheus.io/port'] ?? String(firstPort ?? 80);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries((pod.metadata.labels ?? {}) as Record<string, string>)) labels[sanitizeLabelName(k)] = v;
  return {
    targets: [`${pod.status!.podIP}:${port}`],
    labels: {
      ...labels, namespace: pod.metadata.namespace!, pod: pod.metadata.name, cluster,
      __metrics_path__: annotations['prometheus.io/path'] ?? '/metrics', __scheme__: annotations['prometheus.io/scheme'] ?? 'http',
    },
  };
}

/**
 * Keeps Prometheus' `file_sd_configs` file of each cluster current: one target per ready pod annotated
 * `prometheus.io/scrape: "true"`, rewritten (atomically, by rename, as file discovery expects) as pods come, become
 * ready, and go.
 */
export class PodTargets {
  private ticking?: { stop(): void };
  private readonly written = new Map<string, string>();

  constructor(private readonly dir: string, private readonly clusters: { name: string; kube: KubeCluster }[]) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** The files Prometheus reads (a glob for its configuration). */
  get glob(): string {
    return path.join(this.dir, '*.json');
  }

  start(tickMs = 250): void {
    this.sync();
    this.ticking = startTicking(() => this.sync(), () => tickMs);
  }

  stop(): void {
    this.ticking?.stop();
  }

  sync(): void {
    for (const c of this.clusters) {
      const pods = c.kube.list('v1', 'Pod', undefined, (p) => p.metadata.annotations?.['prometheus.io/scrape'] === 'true' && isReady(p) && !!p.status?.podIP && !p.metadata.deletionTimestamp);
      const content = JSON.stringify(pods.map((p) => podTarget(p, c.name)), null, 1);
      if (this.written.get(c.name) === content) continue;
      const file = path.join(this.dir, `${c.name}.json`);
      fs.writeFileSync(`${file}.tmp`, content);
      fs.renameSync(`${file}.tmp`, file);
      this.written.set(c.name, content);
    }
  }
}
