import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ResourceType } from '../types';
import { attributes, goName, modelOf, nodeOf, type SchemaNode } from './schema';

/**
 * OpenAPI v3 schemas of the built-in kinds, for `kubectl explain`: built from the models `@kubernetes/client-node`
 * generates from the published spec, with the descriptions and required fields its declaration files keep.
 */
interface Declared {
  description?: string;
  fields: Map<string, { description?: string; required: boolean }>;
}

const declared = new Map<string, Declared>();
let modelsDir: string | undefined;

function declarationOf(model: string): Declared {
  let d = declared.get(model);
  if (d) return d;
  modelsDir ??= path.join(path.dirname(require.resolve('@kubernetes/client-node')), 'gen', 'models');
  d = { fields: new Map() };
  try {
    const text = fs.readFileSync(path.join(modelsDir, `${model}.d.ts`), 'utf8');
    const head = /\/\*\*\n\* ([\s\S]*?)\n\*\/\nexport declare class/.exec(text);
    d.description = head?.[1].replace(/\\"/g, '"');
    const field = /(?:\/\*\*\n\s*\* ([\s\S]*?)\n\s*\*\/\n)?\s*'([^']+)'(\??): /g;
    let m: RegExpExecArray | null;
    while ((m = field.exec(text))) d.fields.set(m[2], { description: m[1]?.replace(/\\"/g, '"'), required: m[3] !== '?' });
  } catch {
    // A model without a declaration file: types only.
  }
  declared.set(model, d);
  return d;
}

export function schemaName(model: string): string {
  return `io.k8s.${model.toLowerCase()}.${goName(model)}`;
}

function propertySchema(node: SchemaNode, refs: Set<string>): Record<string, unknown> {
  switch (node.kind) {
    case 'object':
      refs.add(node.model);
      return { allOf: [{ $ref: `#/components/schemas/${schemaName(node.model)}` }], default: {} };
    case 'list': return { type: 'array', items: propertySchema(node.of, refs) };
    case 'map': return { type: 'object', additionalProperties: propertySchema(node.of, refs) };
    case 'scalar':
      if (node.type === 'date') return { type: 'string', format: 'date-time' };
      if (node.type === 'int-or-string') return { 'x-kubernetes-int-or-string': true, format: 'int-or-string' };
      return { type: node.type === 'number' ? (/^int/.test(node.format ?? '') ? 'integer' : 'number') : node.type, ...(node.format ? { format: node.format } : {}) };
    default: return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  }
}

function modelSchema(model: string, refs: Set<string>): Record<string, unknown> {
  const d = declarationOf(model);
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const a of attributes(model)) {
    const node = nodeOf(a.type, a.format, model, a.baseName);
    const f = d.fields.get(a.name);
    const ref = node.kind === 'object' ? declarationOf(node.model).description : undefined;
    properties[a.baseName] = { ...propertySchema(node, refs), ...(f?.description ?? ref ? { description: f?.description ?? ref } : {}) };
    if (f?.required) required.push(a.baseName);
  }
  return { type: 'object', ...(d.description ? { description: d.description } : {}), properties, ...(required.length ? { required } : {}) };
}

/** `components.schemas` of one group version's document: its kinds and every type they refer to. */
export function schemasFor(types: ResourceType[]): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  const refs = new Set<string>();
  for (const t of types) {
    const model = modelOf(t.group ? `${t.group}/${t.version}` : t.version, t.kind);
    if (!model) continue;
    schemas[schemaName(model)] = { ...modelSchema(model, refs), 'x-kubernetes-group-version-kind': [{ group: t.group, kind: t.kind, version: t.version }] };
  }
  const done = new Set(Object.keys(schemas));
  while (refs.size) {
    const model = refs.values().next().value as string;
    refs.delete(model);
    if (done.has(schemaName(model))) continue;
    done.add(schemaName(model));
    schemas[schemaName(model)] = modelSchema(model, refs);
  }
  return schemas;
}
