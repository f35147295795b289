/**
 * The leaf fields of an applied configuration as (path, value) pairs: map keys are walked, lists and scalars are
 * leaves. Paths join keys with NUL so that dots in label keys stay unambiguous. Identity fields are left out.
 */
export function fieldsOf(config: unknown): [string, unknown][] {
  const out: [string, unknown][] = [];
  const walk = (value: unknown, path: string[]) => {
    if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
      return;
    }
    const joined = path.join('\u0000');
    if (['apiVersion', 'kind', 'metadata\u0000name', 'metadata\u0000namespace'].includes(joined)) return;
    out.push([joined, value]);
  };
  walk(config, []);
  return out;
}
