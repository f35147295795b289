/**
 * Whether two pod templates are the same as the controllers compare them (EqualIgnoreHash in
 * pkg/controller/deployment/util): the pod-template-hash label the Deployment controller adds is ignored, and the
 * comparison is semantic, so a null, an empty map and an empty list equal an absent field (the server writes
 * `creationTimestamp: null` and `resources: {}` where a manifest has nothing).
 */
export function sameTemplate(a: unknown, b: unknown): boolean {
  return JSON.stringify(normalised(a, [])) === JSON.stringify(normalised(b, []));
}

function normalised(v: unknown, path: string[]): unknown {
  if (Array.isArray(v)) return v.length ? v.map((x) => normalised(x, path)) : undefined;
  if (!v || typeof v !== 'object') return v;
  const keys = Object.keys(v).sort().filter((k) => !(k === 'pod-template-hash' && path.join('.') === 'metadata.labels'));
  const entries = keys.map((k) => [k, normalised((v as Record<string, unknown>)[k], [...path, k])] as const).filter(([, x]) => x !== undefined && x !== null);
  return entries.length ? Object.fromEntries(entries) : undefined;
}
