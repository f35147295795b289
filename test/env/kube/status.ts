import type { KObj } from './types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** A timestamp as the API server writes it (RFC 3339, seconds). */
export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Whether two statuses differ in more than their condition timestamps (so an unchanged status is not written). */
export function sameStatus(a: unknown, b: unknown): boolean {
  const strip = (v: unknown) => JSON.stringify(v, (k, val: unknown) => (k === 'lastUpdateTime' || k === 'lastTransitionTime' || k === 'lastProbeTime' ? undefined : val));
  return strip(a) === strip(b);
}

/** Whether a pod's Ready condition is True. */
export function isReady(p: KObj): boolean {
  return (p.status?.conditions ?? []).some((x: Any) => x.type === 'Ready' && x.status === 'True');
}
