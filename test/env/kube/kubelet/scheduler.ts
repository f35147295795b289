import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/**
 * The scheduler's choice for a pod without a node: a node whose labels match the pod's nodeSelector and whose
 * allocatable CPU holds the pod's requests, or the refusal message kube-scheduler writes into PodScheduled
 * (`0/1 nodes are available: 1 Insufficient cpu. preemption: …`).
 */
export function schedule(cluster: KubeCluster, pod: KObj): { nodeName: string } | { unschedulable: string } {
  const spec = pod.spec as Any;
  const nodes = cluster.list('v1', 'Node');
  const reasons: string[] = [];
  const fits = nodes.filter((n) => {
    if (!Object.entries(spec.nodeSelector ?? {}).every(([k, v]) => n.metadata.labels?.[k] === v)) { reasons.push("node(s) didn't match Pod's node affinity/selector"); return false; }
    const cpu = (spec.containers as Any[]).reduce((sum, c) => sum + cpuMillis(c.resources?.requests?.cpu), 0);
    if (cpu > cpuMillis(n.status.allocatable.cpu)) { reasons.push('Insufficient cpu'); return false; }
    return true;
  });
  if (!fits.length) {
    const counts = new Map<string, number>();
    for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
    const message = `0/${nodes.length} nodes are available: ${[...counts].map(([r, n]) => `${n} ${r}`).join(', ')}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} No preemption victims found for incoming pod.`;
    return { unschedulable: message };
  }
  return { nodeName: fits[Math.floor(Math.random() * fits.length)].metadata.name };
}

function cpuMillis(v: unknown): number {
  if (v === undefined) return 0;
  const s = String(v);
  return s.endsWith('m') ? Number(s.slice(0, -1)) : Number(s) * 1000;
}
