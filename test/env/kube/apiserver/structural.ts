import { KubeStatus, isPlainObject, type KObj, type ResourceType } from '../types';
import type { JsonSchema } from './schema';

/** One field error, as `field.Error` gives it: the cause's reason, the field, and the message after the field. */
export interface FieldError {
  reason: 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueNotSupported' | 'FieldValueForbidden';
  field: string;
  message: string;
}

/** A 422 Invalid as `apierrors.NewInvalid` words it: `Kind.group "name" is invalid: field: message` (several in brackets). */
export function invalidError(type: Pick<ResourceType, 'group' | 'kind'>, name: string, errors: FieldError[]): KubeStatus {
  const kind = type.group ? `${type.kind}.${type.group}` : type.kind;
  const texts = errors.map((e) => `${e.field}: ${e.message}`);
  return new KubeStatus(422, 'Invalid', `${kind} "${name}" is invalid: ${texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`}`, {
    name, group: type.group || undefined, kind: type.kind, causes: errors.map((e) => ({ reason: e.reason, message: e.message, field: e.field })),
  });
}

const JSON_TYPE: Record<string, (v: unknown) => boolean> = {
  object: isPlainObject, array: Array.isArray, string: (v) => typeof v === 'string', boolean: (v) => typeof v === 'boolean',
  integer: (v) => Number.isInteger(v), number: (v) => typeof v === 'number',
};

function goValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/**
 * A custom resource checked against its CRD's structural schema (`apiextensions-apiserver/pkg/apiserver/validation`):
 * types (`spec.size in body must be of type integer: "big"`), enums, required properties.
 */
export function validateCustom(obj: KObj, schema: JsonSchema): FieldError[] {
  const errors: FieldError[] = [];
  const walk = (v: unknown, s: JsonSchema, path: string) => {
    if (v === undefined) return;
    const intOrString = s['x-kubernetes-int-or-string'];
    if (intOrString ? !(typeof v === 'string' || Number.isInteger(v)) : s.type && JSON_TYPE[s.type] && !JSON_TYPE[s.type](v)) {
      const got = Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v === 'object' ? 'object' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;
      errors.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: "${got}": ${path} in body must be of type ${s.type}: ${goValue(v)}` });
      return;
    }
    if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
      errors.push({ reason: 'FieldValueNotSupported', field: path, message: `Unsupported value: ${goValue(v)}: supported values: ${s.enum.map(goValue).join(', ')}` });
    }
    if (isPlainObject(v)) {
      for (const r of s.required ?? []) if (v[r] === undefined) errors.push({ reason: 'FieldValueRequired', field: path ? `${path}.${r}` : r, message: 'Required value' });
      for (const [k, child] of Object.entries(v)) {
        const cs = s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
        if (cs && !(path === '' && ['apiVersion', 'kind', 'metadata'].includes(k))) walk(child, cs, path ? `${path}.${k}` : k);
      }
    } else if (Array.isArray(v) && s.items) {
      v.forEach((el, i) => walk(el, s.items!, `${path}[${i}]`));
    }
  };
  walk(obj, schema, '');
  return errors;
}

/**
 * The structural-schema rules a CRD's versions must follow (`apiextensions/validation`, "Specifying a structural
 * schema"): every property and item has a type, unless it preserves unknown fields or is int-or-string.
 */
export function nonStructural(schema: JsonSchema | undefined, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const walk = (s: JsonSchema, p: string, root: boolean) => {
    if (!s.type && !root && !s['x-kubernetes-preserve-unknown-fields'] && !s['x-kubernetes-int-or-string']) {
      errors.push({ reason: 'FieldValueRequired', field: `${p}.type`, message: 'Required value: must not be empty for specified object fields' });
    }
    for (const [k, child] of Object.entries(s.properties ?? {})) walk(child, `${p}.properties[${k}]`, false);
    if (s.items) walk(s.items, `${p}.items`, false);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${p}.additionalProperties`, false);
  };
  if (!schema) return [{ reason: 'FieldValueRequired', field: path, message: 'Required value: schemas are required' }];
  if (schema.type !== 'object') errors.push({ reason: 'FieldValueInvalid', field: `${path}.type`, message: `Invalid value: "${schema.type ?? ''}": must be object at the root` });
  walk(schema, path, true);
  return errors;
}
