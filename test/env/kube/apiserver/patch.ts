import { KubeStatus, clone } from '../types';

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/**
 * RFC 7386 JSON merge patch; as a strategic merge patch, lists of objects with a `name` (containers, env, ports,
 * volumes…) are merged element by element on that key, as their patchMergeKey says.
 */
export function mergePatch(target: unknown, patch: unknown, strategic = false): unknown {
  if (strategic && Array.isArray(patch) && Array.isArray(target) && patch.every((p) => isPlainObject(p) && typeof p.name === 'string')) {
    const out = target.map((t) => clone(t));
    for (const item of patch as Record<string, unknown>[]) {
      const i = out.findIndex((t) => isPlainObject(t) && t.name === item.name);
      if (item.$patch === 'delete') { if (i >= 0) out.splice(i, 1); continue; }
      if (i >= 0) out[i] = mergePatch(out[i], item, true);
      else out.push(mergePatch(undefined, item, true));
    }
    return out;
  }
  if (!isPlainObject(patch)) return clone(patch);
  if (strategic && patch.$patch === 'replace') {
    const rest = { ...patch };
    delete rest.$patch;
    return clone(rest);
  }
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v, strategic);
  }
  return out;
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
