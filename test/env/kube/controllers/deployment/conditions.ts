import type { KObj } from '../../types';
import { type Any } from '../objects';
import { now } from '../../status';

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/**
 * SetDeploymentCondition: a condition with the same status and reason is left as it is (its lastUpdateTime too,
 * which is what the progress deadline counts from); otherwise it is replaced, keeping lastTransitionTime while the
 * status stays the same.
 */
export function setCondition(d: Record<string, Any>, next: Condition, touch = false): void {
  d.status ??= {};
  const conditions: Any[] = d.status.conditions ?? [];
  const current = conditions.find((c) => c.type === next.type);
  if (current && current.status === next.status && current.reason === next.reason && !touch) return;
  const t = now();
  const written = { ...next, lastUpdateTime: t, lastTransitionTime: current && current.status === next.status ? current.lastTransitionTime : t };
  d.status.conditions = [...conditions.filter((c) => c.type !== next.type), written];
}

export function removeCondition(d: Record<string, Any>, type: string): void {
  if (d.status?.conditions) d.status.conditions = (d.status.conditions as Any[]).filter((c) => c.type !== type);
}

export function condition(d: KObj, type: string): Any {
  return ((d.status?.conditions ?? []) as Any[]).find((c) => c.type === type);
}

/** A progressDeadlineSeconds of MaxInt32 means no deadline (HasProgressDeadline). */
export function hasProgressDeadline(d: KObj): boolean {
  const deadline = d.spec.progressDeadlineSeconds;
  return deadline !== undefined && deadline !== 2147483647;
}
