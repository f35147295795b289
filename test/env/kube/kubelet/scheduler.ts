import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/**
 * The scheduler's choice for a pod without a node: a node whose labels match the pod's nodeSelector and whose
 * allocatable CPU and memory hold the pod's requests, or the refusal message kube-scheduler writes into
 * PodScheduled (`0/2 nodes are available: 2 Insufficient memory. preemption: …`). A pod whose
 * PersistentVolumeClaim does not exist is refused before any node is looked at, as the VolumeBinding plugin's
 * PreFilter does (`0/2 nodes are available: persistentvolumeclaim "data" not found. …`).
 */
export function schedule(cluster: KubeCluster, pod: KObj): { nodeName: string } | { unschedulable: string } {
  const spec = pod.spec as Any;
  const nodes = cluster.list('v1', 'Node');
  const preemption = `preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`;
  for (const v of (spec.volumes ?? []) as Any[]) {
    const claim = v.persistentVolumeClaim?.claimName;
    if (claim && !cluster.get('v1', 'PersistentVolumeClaim', pod.metadata.namespace, claim)) {
      return { unschedulable: `0/${nodes.length} nodes are available: persistentvolumeclaim "${claim}" not found. ${preemption}` };
    }
  }
  const requests = (resource: string, parse: (v: unknown) => number) => (spec.containers as Any[]).reduce((sum, c) => sum + parse(c.resources?.requests?.[resource]), 0);
  const reasons: string[] = [];
  const fits = nodes.filter((n) => {
    if (!Object.entries(spec.nodeSelector ?? {}).every(([k, v]) => n.metadata.labels?.[k] === v)) { reasons.push("node(s) didn't match Pod's node affinity/selector"); return false; }
    if (requests('cpu', cpuMillis) > cpuMillis(n.status.allocatable.cpu)) { reasons.push('Insufficient cpu'); return false; }
    if (requests('memory', bytes) > bytes(n.status.allocatable.memory)) { reasons.push('Insufficient memory'); return false; }
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

const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, m: 1e-3 };

/** A memory quantity in bytes ("512Mi", "1G", "1e9"). */
function bytes(v: unknown): number {
  if (v === undefined) return 0;
  const m = /^([0-9.e+]+)([a-zA-Z]*)$/.exec(String(v));
  return m ? Number(m[1]) * (UNITS[m[2]] ?? 1) : 0;
}

/**
 * The FailedMount message for a pod whose ConfigMap or Secret volume does not exist (the kubelet keeps such a pod
 * in ContainerCreating until it appears), or undefined when every volume can be mounted.
 */
export function missingVolume(cluster: KubeCluster, pod: KObj): string | undefined {
  for (const v of ((pod.spec as Any).volumes ?? []) as Any[]) {
    const cm = v.configMap;
    if (cm && !cm.optional && !cluster.get('v1', 'ConfigMap', pod.metadata.namespace, cm.name)) return `MountVolume.SetUp failed for volume "${v.name}" : configmap "${cm.name}" not found`;
    const secret = v.secret;
    if (secret && !secret.optional && !cluster.get('v1', 'Secret', pod.metadata.namespace, secret.secretName)) return `MountVolume.SetUp failed for volume "${v.name}" : secret "${secret.secretName}" not found`;
  }
  return undefined;
}
