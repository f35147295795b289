import { clone, deepEqual, isPlainObject } from '../types';
import { fieldNode, listSemantics, modelOf, type JsonSchema, type ListSemantics, type SchemaNode } from './schema';

/**
 * Field sets as structured-merge-diff keeps them: each member is a path of elements, `f:<field>` for a field of a
 * map, `k:{"name":"app"}` for an element of a list with keys, `v:"x"` for an element of a set. Members are kept as
 * their elements joined by newlines; `metadata.managedFields[].fieldsV1` is the same set as a tree.
 */
export type FieldSet = Set<string>;

const SEP = '\n';

/** Fields never owned: identity and what the server alone writes (structured-merge-diff's "stripped" fields). */
const STRIPPED = new Set(['f:apiVersion', 'f:kind', 'f:metadata\nf:name', 'f:metadata\nf:namespace', 'f:metadata\nf:uid',
  'f:metadata\nf:resourceVersion', 'f:metadata\nf:generation', 'f:metadata\nf:creationTimestamp', 'f:metadata\nf:managedFields',
  'f:metadata\nf:selfLink', 'f:metadata\nf:deletionTimestamp', 'f:metadata\nf:deletionGracePeriodSeconds']);

export function rootNode(apiVersion: string, kind: string): SchemaNode {
  const model = modelOf(apiVersion, kind);
  return model ? { kind: 'object', model } : { kind: 'any' };
}

/** The root node of a custom resource: its CRD's schema, with the standard metadata. */
export function customRoot(schema: JsonSchema): SchemaNode {
  const properties = { apiVersion: { type: 'string' }, kind: { type: 'string' }, ...schema.properties };
  return { kind: 'json', schema: { ...schema, type: 'object', properties } };
}

/**
 * The node of a child: a declared field of a model, the values of a map, a property of a structural schema, or
 * anything below an untyped node or one that preserves unknown fields. Undefined: the field is not declared.
 */
export function childNode(node: SchemaNode | undefined, field: string): SchemaNode | undefined {
  if (!node || node.kind === 'any') return { kind: 'any' };
  if (node.kind === 'object') return fieldNode(node.model, field);
  if (node.kind === 'map') return node.of;
  if (node.kind === 'json') {
    if (node.schema.properties?.apiVersion && field === 'metadata') return { kind: 'object', model: 'V1ObjectMeta' };
    const s = node.schema.properties?.[field] ?? (typeof node.schema.additionalProperties === 'object' ? node.schema.additionalProperties : undefined);
    if (s) return { kind: 'json', schema: s };
    return node.schema['x-kubernetes-preserve-unknown-fields'] || node.schema.additionalProperties === true ? { kind: 'any' } : undefined;
  }
  return undefined;
}

/** The node of a list's elements. */
export function itemNode(node: SchemaNode | undefined): SchemaNode | undefined {
  if (node?.kind === 'list') return node.of;
  if (node?.kind === 'json') return node.schema.items ? { kind: 'json', schema: node.schema.items } : { kind: 'any' };
  return node?.kind === 'any' ? node : undefined;
}

function keyOf(item: Record<string, unknown>, list: ListSemantics): string {
  const key: Record<string, unknown> = {};
  for (const k of [...(list.keys ?? [])].sort()) key[k] = item[k] ?? list.keyDefaults?.[k];
  return `k:${JSON.stringify(key)}`;
}

function elementOf(list: unknown[], el: string, sem: ListSemantics): number {
  if (el.startsWith('v:')) return list.findIndex((v) => JSON.stringify(v) === el.slice(2));
  return list.findIndex((v) => isPlainObject(v) && keyOf(v, sem) === el);
}

/** The set of fields an object (or an applied configuration) sets. */
export function fieldSetOf(obj: unknown, root: SchemaNode): FieldSet {
  const out: FieldSet = new Set();
  const walk = (value: unknown, node: SchemaNode | undefined, path: string[]) => {
    const p = path.join(SEP);
    if (STRIPPED.has(p)) return;
    if (isPlainObject(value) && Object.keys(value).length > 0) {
      for (const [k, v] of Object.entries(value)) walk(v, childNode(node, k), [...path, `f:${k}`]);
      return;
    }
    if (Array.isArray(value)) {
      const sem = listSemantics(node);
      if (sem.type === 'map') {
        for (const item of value) {
          if (!isPlainObject(item)) continue;
          const el = [...path, keyOf(item, sem)];
          out.add(el.join(SEP));
          for (const [k, v] of Object.entries(item)) walk(v, childNode(itemNode(node), k), [...el, `f:${k}`]);
        }
        return;
      }
      if (sem.type === 'set') {
        for (const item of value) out.add([...path, `v:${JSON.stringify(item)}`].join(SEP));
        return;
      }
    }
    if (path.length) out.add(p);
  };
  walk(obj, root, []);
  return out;
}

/** Walks to the list or map holding a member's last element; undefined when it is not there. */
function locate(obj: unknown, member: string, root: SchemaNode): { parent: unknown; last: string; node: SchemaNode | undefined } | undefined {
  const els = member.split(SEP);
  let cur: unknown = obj;
  let node: SchemaNode | undefined = root;
  for (const el of els.slice(0, -1)) {
    if (el.startsWith('f:')) {
      if (!isPlainObject(cur)) return undefined;
      cur = cur[el.slice(2)];
      node = childNode(node, el.slice(2));
    } else {
      if (!Array.isArray(cur)) return undefined;
      const i = elementOf(cur, el, listSemantics(node));
      if (i < 0) return undefined;
      cur = cur[i];
      node = itemNode(node);
    }
  }
  return { parent: cur, last: els[els.length - 1], node };
}

/** The value of a member in an object (undefined: absent). */
export function valueAt(obj: unknown, member: string, root: SchemaNode): unknown {
  const at = locate(obj, member, root);
  if (!at) return undefined;
  if (at.last.startsWith('f:')) return isPlainObject(at.parent) ? at.parent[at.last.slice(2)] : undefined;
  if (!Array.isArray(at.parent)) return undefined;
  const i = elementOf(at.parent, at.last, listSemantics(at.node));
  return i < 0 ? undefined : at.parent[i];
}

/**
 * Removes a member from an object; a map or list it leaves empty goes too when `mayRemove` says no one keeps it
 * (structured-merge-diff drops fields emptied by a removal).
 */
export function removeMember(obj: unknown, member: string, root: SchemaNode, mayRemove: (parent: string) => boolean = () => false): void {
  const at = locate(obj, member, root);
  if (!at) return;
  if (at.last.startsWith('f:')) {
    if (isPlainObject(at.parent)) delete at.parent[at.last.slice(2)];
  } else if (Array.isArray(at.parent)) {
    const i = elementOf(at.parent, at.last, listSemantics(at.node));
    if (i >= 0) at.parent.splice(i, 1);
  }
  const parent = member.split(SEP).slice(0, -1).join(SEP);
  const left = parent ? valueAt(obj, parent, root) : undefined;
  const empty = Array.isArray(left) ? left.length === 0 : isPlainObject(left) && Object.keys(left).length === 0;
  if (parent && empty && mayRemove(parent)) removeMember(obj, parent, root, mayRemove);
}

/** The members whose value differs between two objects (added, changed or removed), as Compare reports them. */
export function changedMembers(before: unknown, after: unknown, root: SchemaNode): { changed: FieldSet; removed: FieldSet } {
  const was = fieldSetOf(before, root);
  const now = fieldSetOf(after, root);
  const changed: FieldSet = new Set();
  for (const m of now) {
    if (m.split(SEP).pop()!.startsWith('k:') || m.split(SEP).pop()!.startsWith('v:')) {
      if (!was.has(m)) changed.add(m);
      continue;
    }
    if (!was.has(m) || !deepEqual(valueAt(before, m, root), valueAt(after, m, root))) changed.add(m);
  }
  const removed: FieldSet = new Set([...was].filter((m) => !now.has(m)));
  return { changed, removed };
}

/**
 * Merges an applied configuration into an object as structured-merge-diff does: maps field by field, lists with
 * keys element by element (new elements appended), sets as a union, atomic lists and scalars replaced.
 */
export function mergeApplied(live: unknown, config: unknown, node: SchemaNode | undefined): unknown {
  if (isPlainObject(live) && isPlainObject(config)) {
    const out: Record<string, unknown> = { ...live };
    for (const [k, v] of Object.entries(config)) out[k] = k in live ? mergeApplied(live[k], v, childNode(node, k)) : clone(v);
    return out;
  }
  if (Array.isArray(live) && Array.isArray(config)) {
    const sem = listSemantics(node);
    if (sem.type === 'map') {
      const out = live.map((x) => clone(x));
      for (const item of config) {
        if (!isPlainObject(item)) continue;
        const i = out.findIndex((x) => isPlainObject(x) && keyOf(x, sem) === keyOf(item, sem));
        if (i >= 0) out[i] = mergeApplied(out[i], item, itemNode(node));
        else out.push(clone(item));
      }
      return out;
    }
    if (sem.type === 'set') return [...live, ...config.filter((c) => !live.some((l) => deepEqual(l, c)))];
  }
  return clone(config);
}

/** `fieldsV1`: the set as the tree the API serves (`{"f:spec":{"f:replicas":{}}}`, `"."` for a member with children). */
export function toFieldsV1(set: FieldSet): Record<string, unknown> {
  const root: Record<string, Record<string, unknown>> = {};
  for (const member of [...set].sort()) {
    let cur: Record<string, unknown> = root;
    for (const el of member.split(SEP)) cur = (cur[el] ??= {}) as Record<string, unknown>;
  }
  const mark = (tree: Record<string, unknown>, path: string[]) => {
    for (const [k, v] of Object.entries(tree)) {
      const child = v as Record<string, unknown>;
      const p = [...path, k];
      if (Object.keys(child).length && set.has(p.join(SEP))) child['.'] = {};
      mark(child, p);
    }
  };
  mark(root, []);
  return root;
}

export function fromFieldsV1(tree: unknown): FieldSet {
  const out: FieldSet = new Set();
  const walk = (t: unknown, path: string[]) => {
    if (!isPlainObject(t)) return;
    const keys = Object.keys(t).filter((k) => k !== '.');
    if (path.length && (keys.length === 0 || '.' in t)) out.add(path.join(SEP));
    for (const k of keys) walk(t[k], [...path, k]);
  };
  walk(tree, []);
  return out;
}

/** A member as structured-merge-diff prints it in a conflict: `.spec.containers[name="app"].image`. */
export function memberPath(member: string): string {
  return member.split(SEP).map((el) => {
    if (el.startsWith('f:')) return `.${el.slice(2)}`;
    if (el.startsWith('v:')) return `[=${el.slice(2)}]`;
    const key = JSON.parse(el.slice(2)) as Record<string, unknown>;
    return `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
  }).join('');
}
