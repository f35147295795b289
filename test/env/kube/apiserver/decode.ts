import { KubeStatus, isPlainObject, type KObj, type ResourceType } from '../types';
import { childNode, itemNode } from './fieldset';
import { goName, goType, listSemantics, type SchemaNode } from './schema';

/** A value whose type the schema does not allow. */
interface TypeError {
  /** `spec.replicas` (JSON names from the root, no indices: as Go's encoding/json names the field). */
  jsonPath: string;
  /** `.spec.template.spec.containers[name="app"].image`, as structured-merge-diff names it. */
  smdPath: string;
  /** The Go struct holding the field (`DeploymentSpec`), or '' for custom resources. */
  struct: string;
  goType: string;
  expected: string;
  got: unknown;
}

export interface DecodeProblems {
  /** Unknown fields, as strict decoding names them: `spec.foo`, `spec.template.spec.containers[0].foo`. */
  unknown: string[];
  /** The same fields as structured-merge-diff names them: `.spec.template.spec.containers[name="app"].foo`. */
  undeclared: string[];
  types: TypeError[];
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

/** What a node expects of a value, or undefined when the value fits. */
function mismatch(node: SchemaNode, v: unknown): string | undefined {
  if (v === null) return undefined;
  switch (node.kind) {
    case 'object': case 'map': return isPlainObject(v) ? undefined : 'map';
    case 'list': return Array.isArray(v) ? undefined : 'list';
    case 'scalar':
      if (node.type === 'number') return typeof v === 'number' && (!/^int/.test(node.format ?? '') || Number.isInteger(v)) ? undefined : 'numeric (int or float)';
      if (node.type === 'boolean') return typeof v === 'boolean' ? undefined : 'boolean';
      if (node.type === 'int-or-string') return typeof v === 'number' || typeof v === 'string' ? undefined : 'string or int';
      return typeof v === 'string' ? undefined : 'string';
    case 'json': {
      const t = node.schema.type;
      if (node.schema['x-kubernetes-int-or-string']) return typeof v === 'number' || typeof v === 'string' ? undefined : 'string or int';
      if (t === 'object') return isPlainObject(v) ? undefined : 'map';
      if (t === 'array') return Array.isArray(v) ? undefined : 'list';
      if (t === 'integer') return Number.isInteger(v) ? undefined : 'numeric (int or float)';
      if (t === 'number') return typeof v === 'number' ? undefined : 'numeric (int or float)';
      if (t === 'boolean') return typeof v === 'boolean' ? undefined : 'boolean';
      if (t === 'string') return typeof v === 'string' ? undefined : 'string';
      return undefined;
    }
    default: return undefined;
  }
}

/**
 * Walks a body against the schema: its unknown fields and its values of the wrong type. Decoding a custom resource
 * checks no types (`customTypes` false): its structural schema does, later, with 422 Invalid.
 */
export function decodeProblems(body: unknown, root: SchemaNode, customTypes = true): DecodeProblems {
  const out: DecodeProblems = { unknown: [], undeclared: [], types: [] };
  const walk = (v: unknown, node: SchemaNode, json: string[], indexed: string, smd: string, struct: string) => {
    const expected = node.kind === 'json' && !customTypes ? undefined : mismatch(node, v);
    if (expected) {
      out.types.push({ jsonPath: json.join('.'), smdPath: smd, struct, goType: goType(node), expected, got: v });
      return;
    }
    if (isPlainObject(v) && node.kind !== 'any') {
      const inner = node.kind === 'object' ? goName(node.model) : struct;
      for (const [k, child] of Object.entries(v)) {
        const cn = childNode(node, k);
        const at = indexed ? `${indexed}.${k}` : k;
        if (!cn) {
          out.unknown.push(at);
          out.undeclared.push(`${smd}.${k}`);
          continue;
        }
        walk(child, cn, node.kind === 'map' ? json : [...json, k], at, `${smd}.${k}`, inner);
      }
    } else if (Array.isArray(v)) {
      const item = itemNode(node);
      if (!item) return;
      const sem = listSemantics(node);
      v.forEach((el, i) => {
        const key = sem.type === 'map' && isPlainObject(el) ? `[${(sem.keys ?? []).map((k) => `${k}=${JSON.stringify(el[k] ?? sem.keyDefaults?.[k])}`).join(',')}]` : `[${i}]`;
        walk(el, item, json, `${indexed}[${i}]`, `${smd}${key}`, struct);
      });
    }
  };
  walk(body, root, [], '', '', '');
  return out;
}

/** Removes unknown fields (what decoding with `fieldValidation` Ignore or Warn does: they are dropped). */
export function pruneUnknown(body: unknown, node: SchemaNode | undefined): void {
  if (!node || node.kind === 'any') return;
  if (isPlainObject(body)) {
    for (const [k, v] of Object.entries(body)) {
      const cn = childNode(node, k);
      if (!cn) delete body[k];
      else pruneUnknown(v, cn);
    }
  } else if (Array.isArray(body)) {
    const item = itemNode(node);
    for (const el of body) pruneUnknown(el, item);
  }
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

function gvkName(obj: KObj): string {
  const version = obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[1] : obj.apiVersion;
  return `${obj.kind} in version "${version}" cannot be handled as a ${obj.kind}`;
}

/**
 * Decoding of a create, update or patch body: a value of the wrong type is a 400 as encoding/json words it; unknown
 * fields are a 400 under Strict (`strict decoding error: unknown field "spec.foo"`), else dropped, with a warning
 * under Warn (the default). Returns the warnings to send.
 */
export function decode(obj: KObj, root: SchemaNode, validation: FieldValidation): string[] {
  const problems = decodeProblems(obj, root, false);
  const t = problems.types[0];
  if (t) {
    const got = jsonKind(t.got);
    const where = t.struct ? `Go struct field ${t.struct}.${t.jsonPath}` : `Go value`;
    throw new KubeStatus(400, 'BadRequest', `${gvkName(obj)}: json: cannot unmarshal ${got} into ${where} of type ${t.goType}`);
  }
  if (!problems.unknown.length) return [];
  if (validation === 'Strict') {
    throw new KubeStatus(400, 'BadRequest', `${gvkName(obj)}: strict decoding error: ${problems.unknown.map((u) => `unknown field "${u}"`).join(', ')}`);
  }
  pruneUnknown(obj, root);
  return validation === 'Warn' ? problems.unknown.map((u) => `unknown field "${u}"`) : [];
}

/**
 * The typed conversion of an apply body (structured-merge-diff's `ObjectToTyped`): an undeclared field or a value
 * of the wrong type fails whatever `fieldValidation` says, and the API server answers it with 500, not 400
 * (kubernetes/kubernetes#122480, #139253: `failed to create typed patch object` is a plain error).
 */
export function typedPatch(type: ResourceType, obj: KObj, root: SchemaNode): void {
  const problems = decodeProblems(obj, root);
  const errors = [
    ...problems.undeclared.map((p) => `${p}: field not declared in schema`),
    ...problems.types.map((t) => `${t.smdPath}: expected ${t.expected}, got ${describe(t.expected, t.got)}`),
  ];
  if (!errors.length) return;
  const gv = type.group ? `${type.group}/${type.version}` : `/${type.version}`;
  const what = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}; ${gv}, Kind=${type.kind}`;
  const text = errors.length === 1 ? errors[0] : `errors:\n  ${errors.join('\n  ')}`;
  throw new KubeStatus(500, '', `failed to create typed patch object (${what}): ${text}`);
}

/**
 * What structured-merge-diff's `validateScalar` prints it got: the Go type for a numeric field (`%T`), else the
 * value (`%#v`): `expected numeric (int or float), got string`, `expected string, got &value.valueUnstructured{Value:5}`.
 */
function describe(expected: string, v: unknown): string {
  if (expected.startsWith('numeric')) {
    return typeof v === 'string' ? 'string' : typeof v === 'boolean' ? 'bool' : Array.isArray(v) ? '[]interface {}' : 'map[string]interface {}';
  }
  return `&value.valueUnstructured{Value:${JSON.stringify(v)}}`;
}
