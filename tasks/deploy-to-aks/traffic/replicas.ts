import { percent, type TrafficSplitReport } from './split';

/**
 * Pod counts for a canary of `percentage` % beside `stable` pods when traffic follows the replica share: canary and
 * baseline get c pods each, so the canary's share is c / (stable + 2c); c = stable · p / (100 − 2p), rounded up
 * to at least one pod. Example: 4 stable pods at 10 % give c = 0.5 → 1, a share of 1/6 = 16.7 %.
 */
export function replicaSplit(stable: number, percentage: number): { canary: number; baseline: number; share: number } {
  const exact = (stable * percentage) / (100 - 2 * percentage);
  const canary = Math.max(1, Math.ceil(exact - 1e-9));
  return { canary, baseline: canary, share: canary / (stable + 2 * canary) };
}

/** The split kube-proxy gives: each pod of the Service an equal chance per connection. */
export function replicaReport(service: string, stable: number, canary: number, baseline: number, percentage: number): TrafficSplitReport {
  const total = stable + canary + baseline;
  return {
    method: 'replicas',
    words: `the canary gets ${canary} of the ${total} pods behind Service ${service} (${percent(canary / total)} of connections, ${percentage} % asked; the baseline as much)`,
    rows: [
      { backend: `${service} (stable pods)`, pods: stable, share: stable / total },
      { backend: `${service} (baseline pods)`, pods: baseline, share: baseline / total },
      { backend: `${service} (canary pods)`, pods: canary, share: canary / total },
    ],
  };
}
