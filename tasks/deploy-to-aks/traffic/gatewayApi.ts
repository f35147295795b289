import { UserError } from '../../common/errors';
import type { KObj } from '../kubeClient';
import { BACKENDS_BEFORE_ANNOTATION } from '../strategies/labels';
import type { ClusterObjects } from '../strategies/objects';
import { percent, type TrafficSplitReport } from './split';

export const HTTP_ROUTE_VERSION = 'gateway.networking.k8s.io/v1';

interface BackendRef { name: string; port?: number; weight?: number; kind?: string; group?: string; namespace?: string }
interface Rule { backendRefs?: BackendRef[]; [key: string]: unknown }

/** HTTPRoute weights are relative (share = weight / sum): stable 100 − 2p, baseline p, canary p. */
export function canaryWeights(percentage: number): { stable: number; baseline: number; canary: number } {
  return { stable: 100 - 2 * percentage, baseline: percentage, canary: percentage };
}

const isService = (ref: BackendRef) => (ref.kind ?? 'Service') === 'Service' && !ref.group;

/**
 * Reads the HTTPRoute and checks that it routes to the app: every rule that has backendRefs must point only at
 * the app's Services (`allowed`), and at least one must. Anything else is refused before a change, with the fix.
 */
export async function readRoute(objects: ClusterObjects, name: string, namespace: string, allowed: string[]): Promise<KObj> {
  const route = await objects.get(HTTP_ROUTE_VERSION, 'HTTPRoute', namespace, name);
  if (!route) throw new UserError(`Input 'httpRoute': there is no HTTPRoute '${name}' in namespace '${namespace}'. Create it (its backendRefs pointing at Service '${allowed[0]}'), or correct the name.`);
  const rules: Rule[] = route.spec?.rules ?? [];
  const refs = rules.flatMap((r) => r.backendRefs ?? []);
  const foreign = refs.filter((ref) => !isService(ref) || !allowed.includes(ref.name) || (ref.namespace && ref.namespace !== namespace));
  if (refs.length === 0 || foreign.length) {
    const seen = refs.length ? refs.map((r) => `${r.kind ?? 'Service'} ${r.name}`).join(', ') : 'no backendRefs';
    throw new UserError(`Input 'httpRoute': HTTPRoute ${namespace}/${name} routes to ${seen}, not to the app's Service '${allowed[0]}'. Point its backendRefs at Service '${allowed[0]}' (the task adds the stable, baseline and canary Services itself), or name the HTTPRoute of this app.`);
  }
  return route;
}

/** The rules with every backendRef to the app replaced by weighted refs to `backends` (name → weight). */
export function weightedRules(rules: Rule[], allowed: string[], backends: Record<string, number>): Rule[] {
  return rules.map((rule) => {
    const refs = rule.backendRefs ?? [];
    const ours = refs.find((ref) => isService(ref) && allowed.includes(ref.name));
    if (!ours) return rule;
    return { ...rule, backendRefs: Object.entries(backends).map(([name, weight]) => ({ name, port: ours.port, weight })) };
  });
}

/** Gives the route the weighted backends, remembering what it had before (once, so a second deploy keeps the first's). */
export async function routeTo(objects: ClusterObjects, route: KObj, allowed: string[], backends: Record<string, number>): Promise<void> {
  const before = route.metadata.annotations?.[BACKENDS_BEFORE_ANNOTATION] ?? JSON.stringify((route.spec?.rules ?? []).map((r: Rule) => r.backendRefs ?? null));
  await objects.merge(route, {
    metadata: { annotations: { [BACKENDS_BEFORE_ANNOTATION]: before } },
    spec: { rules: weightedRules(route.spec?.rules ?? [], allowed, backends) },
  });
}

/** Gives the route back the backendRefs it had before the task weighted it; false when it had nothing to restore. */
export async function restoreRoute(objects: ClusterObjects, route: KObj): Promise<boolean> {
  const saved = route.metadata.annotations?.[BACKENDS_BEFORE_ANNOTATION];
  if (!saved) return false;
  const before = JSON.parse(saved) as (BackendRef[] | null)[];
  const rules = (route.spec?.rules ?? []).map((r: Rule, i: number) => (before[i] ? { ...r, backendRefs: before[i] } : r));
  await objects.merge(route, { metadata: { annotations: { [BACKENDS_BEFORE_ANNOTATION]: null } }, spec: { rules } });
  return true;
}

export function gatewayReport(route: string, rows: { backend: string; pods: number; weight: number }[]): TrafficSplitReport {
  const total = rows.reduce((s, r) => s + r.weight, 0);
  const canary = rows.find((r) => r.backend.endsWith('-canary'));
  return {
    method: 'gatewayApi',
    words: canary
      ? `HTTPRoute ${route} sends ${percent(canary.weight / total)} of requests to the canary (weight ${canary.weight} of ${total}), as much to the baseline, the rest to stable`
      : `HTTPRoute ${route} sends all requests to ${rows.map((r) => r.backend).join(', ')}`,
    rows: rows.map((r) => ({ ...r, share: total ? r.weight / total : 0 })),
  };
}
