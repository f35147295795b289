import { KubeStatus, clone, deepEqual, isPlainObject } from '../types';
import { childNode, itemNode } from './fieldset';
import { listSemantics, type SchemaNode } from './schema';

/** RFC 7386 JSON merge patch: maps merge, `null` deletes, everything else (lists included) is replaced. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * Strategic merge patch (`staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go`): as a merge patch,
 * except that lists with a patch merge key merge element by element on it (`$patch: delete` removes one), lists
 * of scalars with `patchStrategy: merge` are unions (`$deleteFromPrimitiveList/<field>` removes values), `$patch:
 * replace` replaces a map or list whole, and `$retainKeys` drops the keys of a map it does not name.
 */
export function strategicMerge(target: unknown, patch: unknown, node: SchemaNode | undefined): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const rest = { ...patch };
    delete rest.$patch;
    return clone(rest);
  }
  if (patch.$patch === 'delete') return undefined;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = (out[field] as unknown[]).filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (k.startsWith('$')) continue;
    const child = childNode(node, k);
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = mergeList(out[k], v, child);
    else {
      const merged = strategicMerge(out[k], v, child);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  if (Array.isArray(patch.$retainKeys)) {
    for (const k of Object.keys(out)) if (!(patch.$retainKeys as string[]).includes(k)) delete out[k];
  }
  return out;
}

function mergeList(target: unknown, patch: unknown[], node: SchemaNode | undefined): unknown[] {
  const sem = listSemantics(node);
  const live = Array.isArray(target) ? target.map((t) => clone(t)) : [];
  if (patch.some((p) => isPlainObject(p) && p.$patch === 'replace')) return clone(patch.filter((p) => !(isPlainObject(p) && p.$patch === 'replace')));
  if (sem.mergeScalars) return [...live, ...patch.filter((p) => !live.some((l) => deepEqual(l, p)))];
  const key = sem.mergeKey;
  if (!key) return clone(patch);
  for (const item of patch) {
    if (!isPlainObject(item)) continue;
    const i = live.findIndex((t) => isPlainObject(t) && deepEqual(t[key], item[key]));
    if (item.$patch === 'delete') {
      if (i >= 0) live.splice(i, 1);
      continue;
    }
    if (i >= 0) live[i] = strategicMerge(live[i], item, itemNode(node));
    else live.push(strategicMerge(undefined, item, itemNode(node)));
  }
  return live;
}

/** RFC 6902 JSON patch: add, replace, remove and test (what kubectl sends, e.g. for rollout undo). */
export function jsonPatch(target: unknown, ops: { op: string; path: string; value?: unknown }[]): unknown {
  if (!Array.isArray(ops)) throw new KubeStatus(400, 'BadRequest', 'a JSON patch must be a list of operations');
  let doc = target;
  for (const op of ops) {
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (parts.length === 0) { doc = clone(op.value); continue; }
    let parent: unknown = doc;
    for (const p of parts.slice(0, -1)) {
      parent = Array.isArray(parent) ? parent[Number(p)] : isPlainObject(parent) ? parent[p] : undefined;
      if (parent === undefined) throw new KubeStatus(422, 'Invalid', `the server rejected our request due to an error in our request: doc is missing path: "${op.path}"`);
    }
    const last = parts[parts.length - 1];
    if (op.op === 'test') {
      const current = Array.isArray(parent) ? parent[Number(last)] : (parent as Record<string, unknown>)[last];
      if (JSON.stringify(current) !== JSON.stringify(op.value)) throw new KubeStatus(422, 'Invalid', `testing value ${op.path} failed`);
    } else if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, clone(op.value));
      else if (op.op === 'replace') parent[i] = clone(op.value);
      else if (op.op === 'remove') parent.splice(i, 1);
    } else if (isPlainObject(parent)) {
      if (op.op === 'add' || op.op === 'replace') parent[last] = clone(op.value);
      else if (op.op === 'remove') delete parent[last];
    }
    if (!['add', 'replace', 'remove', 'test'].includes(op.op)) throw new KubeStatus(422, 'Invalid', `unsupported JSON patch operation ${op.op}`);
  }
  return doc;
}
