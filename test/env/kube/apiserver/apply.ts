import { KubeStatus, clone, type KObj, type ResourceType } from '../types';
import { isPlainObject } from './patch';
import { now } from './store';

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

/** Server-side apply's bookkeeping: per object key, the last configuration each field manager applied. */
export class FieldManagers {
  private readonly applied = new Map<string, Map<string, KObj>>();

  forget(key: string): void {
    this.applied.delete(key);
  }

  /**
   * Merges a manager's intent into the live object (the next state, not yet stored): refuses conflicts with other
   * managers unless forced, and removes fields the manager set before and no longer sets (unless others own them).
   */
  merge(type: ResourceType, key: string, live: KObj | undefined, body: KObj, manager: string, force: boolean): KObj {
    const managers = this.applied.get(key) ?? new Map<string, KObj>();
    if (live && !force) {
      const mine = new Map(fieldsOf(body));
      for (const [other, config] of managers) {
        if (other === manager) continue;
        const conflicts = [...fieldsOf(config)].filter(([p, v]) => mine.has(p) && JSON.stringify(mine.get(p)) !== JSON.stringify(v)).map(([p]) => p);
        if (conflicts.length) {
          throw new KubeStatus(409, 'Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${conflicts.map((c) => `conflict with "${other}": ${c}`).join('\n')}`, {
            name: body.metadata.name, group: type.group || undefined, kind: type.resource,
            causes: conflicts.map((c) => ({ type: 'FieldManagerConflict', message: `conflict with "${other}"`, field: c })),
          });
        }
      }
    }
    const next = live ? clone(live) : ({ apiVersion: body.apiVersion, kind: body.kind, metadata: { name: body.metadata.name, namespace: body.metadata.namespace } } as KObj);
    const previous = managers.get(manager);
    if (previous) {
      const keep = new Set(fieldsOf(body).map(([p]) => p));
      const othersOwn = new Set([...managers].filter(([m]) => m !== manager).flatMap(([, c]) => fieldsOf(c).map(([p]) => p)));
      for (const [p] of fieldsOf(previous)) if (!keep.has(p) && !othersOwn.has(p)) removePath(next, p);
    }
    return mergeApply(next, body) as KObj;
  }

  /** Records what a manager applied, once the result is stored. */
  remember(key: string, manager: string, body: KObj): void {
    const managers = this.applied.get(key) ?? new Map<string, KObj>();
    managers.set(manager, clone(body));
    this.applied.set(key, managers);
  }

  /** The `metadata.managedFields` of an object about to be written by `manager`. */
  managedFields(key: string, obj: KObj, next: KObj, manager: string, operation: 'Apply' | 'Update'): unknown[] {
    const managers = new Map(this.applied.get(key) ?? []);
    if (operation === 'Apply') managers.set(manager, next);
    const entries: unknown[] = [...managers].map(([m, config]) => ({
      manager: m, operation: 'Apply', apiVersion: obj.apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: fieldsV1(config),
    }));
    if (operation === 'Update') entries.push({ manager, operation: 'Update', apiVersion: obj.apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: fieldsV1(next) });
    return entries;
  }
}

/** Apply semantics for our purposes: maps merge recursively, lists and scalars are replaced. */
function mergeApply(live: unknown, intent: unknown): unknown {
  if (isPlainObject(live) && isPlainObject(intent)) {
    const out: Record<string, unknown> = { ...live };
    for (const [k, v] of Object.entries(intent)) out[k] = k in live ? mergeApply(live[k], v) : clone(v);
    return out;
  }
  return clone(intent);
}

function removePath(obj: Record<string, unknown>, path: string): void {
  const parts = path.split('\u0000');
  let cur: unknown = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    if (!isPlainObject(cur)) return;
    cur = cur[parts[i]];
  }
  if (isPlainObject(cur)) delete cur[parts[parts.length - 1]];
}

/** The FieldsV1 set of a configuration: `f:<name>` for each map key, down to lists and scalars. */
function fieldsV1(config: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isPlainObject(config)) return out;
  for (const [k, v] of Object.entries(config)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    if (k === 'name' || k === 'namespace') {
      if (isPlainObject(config) && 'uid' in config) continue;
    }
    out[`f:${k}`] = isPlainObject(v) ? fieldsV1(v) : {};
  }
  return out;
}
