import { randomBytes, randomUUID } from 'node:crypto';
import type { Exchange } from '../../http';
import { applyDefaults, validate, type ObjectLookup } from '../defaults';
import {
  KubeStatus, clone, deepEqual, groupVersion, matchesFieldSelector, matchesLabelSelector, notFound, subresourcesOf, type KObj, type ResourceType,
} from '../types';
import { applyConfiguration, recordUpdate } from './apply';
import { decode, typedPatch, type FieldValidation } from './decode';
import { deleteOptionsOf, qualified, staleError, type DeleteOptions } from './deletion';
import { customRoot, rootNode } from './fieldset';
import type { JsonSchema, SchemaNode } from './schema';
import { jsonPatch, mergePatch, strategicMerge } from './patch';
import { now, stripVolatile, type Store } from './store';
import { toTable, wantsTable } from './tables';
import type { Watches } from './watch';

/** What the handlers need of the API server they serve. */
export interface ApiContext extends ObjectLookup {
  readonly store: Store;
  /** GET handlers of subresources other than status, by "resource/subresource" (the kubelet serves pods/log). */
  readonly subresources: Map<string, (x: Exchange, obj: KObj) => void | Promise<void>>;
  readonly watches: Watches;
  admit(obj: KObj, operation: 'CREATE' | 'UPDATE', dryRun: boolean): void;
  deleteObject(obj: KObj, options: DeleteOptions): { code: number; body: unknown };
  /** Stores an object (and removes it when it was marked for deletion and nothing holds it any more). */
  put(obj: KObj): KObj;
}

/** One resource request once routed: its type, namespace, name and subresource. */
export interface Target {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Kinds whose spec changes do not bump `metadata.generation`. */
const NO_GENERATION = ['Namespace', 'Node', 'Event', 'Pod'];

/** The verbs of the REST API on one resource type: get, list, watch, create, update, patch, delete. */
export class Handlers {
  constructor(private readonly api: ApiContext) {}

  /** An object as the server keeps it: defaulted (a Service's clusterIP from the cluster's block), quantities canonical. */
  private readonly normalise = (obj: KObj): KObj => {
    applyDefaults(obj, this.api);
    return obj;
  };

  /** GET of a subresource that a component serves (the kubelet's pods/log); false when no component serves it. */
  async subresource(x: Exchange, t: Target): Promise<boolean> {
    const handler = this.api.subresources.get(`${t.type.resource}/${t.subresource}`);
    if (!handler || x.method !== 'GET' || !t.name) return false;
    const obj = this.api.store.byKey(this.api.store.key(t.type, t.namespace, t.name));
    if (!obj) throw notFound(t.type, t.name);
    await handler(x, obj);
    return true;
  }

  get(x: Exchange, t: Target): void {
    const obj = this.api.store.byKey(this.api.store.key(t.type, t.namespace, t.name!));
    if (!obj) throw notFound(t.type, t.name!);
    this.sendObjects(x, t.type, [obj], obj);
  }

  list(x: Exchange, t: Target): void {
    const labelSelector = x.query('labelSelector');
    const fieldSelector = x.query('fieldSelector');
    const items = this.api.store.ofType(t.type, t.namespace).filter((o) => matchesLabelSelector(o.metadata.labels, labelSelector) && matchesFieldSelector(o, fieldSelector));
    items.sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
    this.sendObjects(x, t.type, items, undefined, String(this.api.store.rv));
  }

  watch(x: Exchange, t: Target): void {
    this.api.watches.serve(x, t.type, t.namespace);
  }

  async create(x: Exchange, t: Target): Promise<void> {
    const { type, namespace } = t;
    const dryRun = dryRunOf(x);
    const body = await bodyOf(x);
    checkBody(type, body, namespace, undefined);
    const warnings = decode(body, this.rootFor(type), fieldValidationOf(x));
    const ns = namespace && this.api.get('v1', 'Namespace', undefined, namespace);
    if (ns && ns.metadata.deletionTimestamp) {
      throw new KubeStatus(403, 'Forbidden', `${qualified(type)} "${body.metadata.name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, {
        name: body.metadata.name, group: type.group || undefined, kind: type.resource,
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
      });
    }
    const key = this.api.store.key(type, namespace, body.metadata.name);
    if (this.api.store.has(key)) {
      throw new KubeStatus(409, 'AlreadyExists', `${type.group ? `${type.resource}.${type.group}` : type.resource} "${body.metadata.name}" already exists`, { name: body.metadata.name, group: type.group || undefined, kind: type.resource });
    }
    const created = this.write(type, undefined, body, x.query('fieldManager') ?? 'kubectl-create', 'Update', dryRun);
    sendWithWarnings(x, 201, created, warnings);
  }

  async update(x: Exchange, t: Target): Promise<void> {
    const { type, namespace } = t;
    const name = t.name!;
    const dryRun = dryRunOf(x);
    const body = await bodyOf(x);
    checkBody(type, body, namespace, name);
    const warnings = decode(body, this.rootFor(type), fieldValidationOf(x));
    const key = this.api.store.key(type, namespace, name);
    const live = this.api.store.byKey(key);
    if (!live) throw notFound(type, name);
    if (body.metadata.resourceVersion && body.metadata.resourceVersion !== live.metadata.resourceVersion) throw staleError(type, name);
    sendWithWarnings(x, 200, this.write(type, live, body, x.query('fieldManager') ?? 'kubectl-replace', 'Update', dryRun, t.subresource), warnings);
  }

  async delete(x: Exchange, t: Target): Promise<void> {
    const { type, namespace, name } = t;
    if (!name) throw new KubeStatus(405, 'MethodNotAllowed', 'deletecollection is not supported by this server');
    dryRunOf(x);
    const text = await x.text();
    let body: unknown;
    try { body = text ? JSON.parse(text) : undefined; } catch { throw new KubeStatus(400, 'BadRequest', 'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml'); }
    const obj = this.api.store.byKey(this.api.store.key(type, namespace, name));
    if (!obj) throw notFound(type, name);
    const { code, body: answer } = this.api.deleteObject(obj, deleteOptionsOf((n) => x.query(n), body));
    x.sendJson(code, answer);
  }

  async patch(x: Exchange, t: Target): Promise<void> {
    const { type, namespace, subresource } = t;
    const name = t.name!;
    const contentType = (x.header('content-type') ?? '').split(';')[0].trim();
    const dryRun = dryRunOf(x);
    const key = this.api.store.key(type, namespace, name);
    const live = this.api.store.byKey(key);
    if (contentType === 'application/apply-patch+yaml') {
      const manager = x.query('fieldManager');
      if (!manager) throw new KubeStatus(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
      const force = x.query('force') === 'true';
      const body = await bodyOf(x);
      checkBody(type, body, namespace, name);
      const root = this.rootFor(type);
      typedPatch(type, body, root);
      if (live && body.metadata.resourceVersion && body.metadata.resourceVersion !== live.metadata.resourceVersion) throw staleError(type, name);
      const next = applyConfiguration(live, body, manager, force, this.normalise, root, subresource);
      return x.sendJson(live ? 200 : 201, this.write(type, live, next, manager, 'Apply', dryRun, subresource));
    }
    if (x.query('force') !== undefined) throw new KubeStatus(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch');
    const patchTypes = ['application/merge-patch+json', 'application/json-patch+json', ...(type.crd ? [] : ['application/strategic-merge-patch+json'])];
    if (!patchTypes.includes(contentType)) {
      throw new KubeStatus(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
    }
    if (!live) throw notFound(type, name);
    let merged: KObj;
    if (contentType === 'application/json-patch+json') {
      const ops = JSON.parse(await x.text()) as { op: string; path: string; value?: unknown }[];
      merged = jsonPatch(clone(live), ops) as KObj;
    } else {
      const patch = await bodyOf(x);
      merged = (contentType === 'application/strategic-merge-patch+json' ? strategicMerge(clone(live), patch, this.rootFor(type)) : mergePatch(clone(live), patch)) as KObj;
    }
    merged.metadata.name = name;
    if (merged.metadata.resourceVersion && merged.metadata.resourceVersion !== live.metadata.resourceVersion) throw staleError(type, name);
    const warnings = decode(merged, this.rootFor(type), fieldValidationOf(x));
    sendWithWarnings(x, 200, this.write(type, live, merged, x.query('fieldManager') ?? 'kubectl-patch', 'Update', dryRun, subresource), warnings);
  }

  /**
   * Defaults, validates, admits and stores (unless dry run) a new state of an object. A write to the main resource
   * keeps the live status; a write to `/status` keeps everything but the status.
   */
  private write(type: ResourceType, live: KObj | undefined, next: KObj, manager: string, operation: 'Apply' | 'Update', dryRun: boolean, subresource?: string): KObj {
    let obj = clone(next);
    if (subresource === 'status' && live) obj = { ...clone(live), status: obj.status, metadata: { ...clone(live.metadata), managedFields: obj.metadata.managedFields } };
    else if (subresourcesOf(type).includes('status')) {
      // With a status subresource, writes to the main resource leave the status as it is (and a create starts without one).
      if (live?.status !== undefined) obj.status = clone(live.status);
      else delete obj.status;
    }
    for (const f of ['uid', 'creationTimestamp', 'generation', 'resourceVersion'] as const) {
      if (live) obj.metadata[f] = live.metadata[f];
      else delete obj.metadata[f];
    }
    if (obj.metadata.generateName && !obj.metadata.name) obj.metadata.name = `${obj.metadata.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
    this.normalise(obj);
    validate(type, obj, this.api, live);
    this.api.admit(obj, live ? 'UPDATE' : 'CREATE', dryRun);
    const specChanged = !live || !deepEqual(withoutMeta(live), withoutMeta(obj));
    if (live && specChanged && !NO_GENERATION.includes(obj.kind)) obj.metadata.generation = (live.metadata.generation ?? 1) + 1;
    if (operation === 'Update') recordUpdate(live, obj, manager, this.rootFor(type), subresource);
    if (live && deepEqual(stripVolatile(live), stripVolatile(obj))) return live;
    if (dryRun) {
      obj.metadata.uid ??= randomUUID();
      obj.metadata.creationTimestamp ??= now();
      obj.metadata.generation ??= 1;
      return obj;
    }
    if (obj.kind === 'CustomResourceDefinition') {
      obj.status ??= { conditions: [], acceptedNames: { kind: '', plural: '' }, storedVersions: [] };
    }
    if (type.kind === 'Namespace') obj.status ??= { phase: 'Active' };
    return this.api.put(obj);
  }

  /** The schema of a type: the generated model of a built-in kind, or the structural schema of a custom resource. */
  private rootFor(type: ResourceType): SchemaNode {
    if (!type.crd) return rootNode(groupVersion(type), type.kind);
    const crd = this.api.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, type.crd);
    const version = (crd?.spec?.versions ?? []).find((v: { name: string }) => v.name === type.version);
    const schema = version?.schema?.openAPIV3Schema as JsonSchema | undefined;
    return schema ? customRoot(schema) : { kind: 'any' };
  }

  private sendObjects(x: Exchange, type: ResourceType, items: KObj[], single?: KObj, listRv?: string): void {
    if (wantsTable(x.header('accept'))) {
      const rv = listRv ?? single?.metadata.resourceVersion ?? String(this.api.store.rv);
      return x.sendJson(200, toTable(type, items, rv, /includeObject=Object/.test(x.req.url ?? '')));
    }
    if (single) return x.sendJson(200, single);
    x.sendJson(200, { kind: `${type.kind}List`, apiVersion: groupVersion(type), metadata: { resourceVersion: listRv ?? String(this.api.store.rv) }, items });
  }
}


function withoutMeta(o: KObj): unknown {
  const c = clone(o) as Record<string, unknown>;
  delete c.metadata;
  delete c.status;
  return c;
}

async function bodyOf(x: Exchange): Promise<KObj> {
  const text = await x.text();
  try {
    const obj = JSON.parse(text) as KObj;
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('not an object');
    return obj;
  } catch (err) {
    throw new KubeStatus(400, 'BadRequest', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (${(err as Error).message})`);
  }
}

function checkBody(type: ResourceType, obj: KObj, namespace: string | undefined, name: string | undefined): void {
  if (!obj.apiVersion || !obj.kind) throw new KubeStatus(400, 'BadRequest', "Object 'Kind' is missing in the body");
  if (obj.apiVersion !== groupVersion(type) || obj.kind !== type.kind) {
    throw new KubeStatus(400, 'BadRequest', `the API version in the data (${obj.apiVersion}) does not match the expected API version (${groupVersion(type)})`);
  }
  obj.metadata ??= { name: '' };
  if (name !== undefined && obj.metadata.name !== name) {
    throw new KubeStatus(400, 'BadRequest', `the name of the object (${obj.metadata.name ?? ''}) does not match the name on the URL (${name})`);
  }
  if (type.namespaced) {
    if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== namespace) {
      throw new KubeStatus(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.namespace = namespace;
  }
}

/** `fieldValidation`: Strict, Warn (the default when unset) or Ignore. */
function fieldValidationOf(x: Exchange): FieldValidation {
  const v = x.query('fieldValidation') ?? 'Warn';
  if (!['Strict', 'Warn', 'Ignore'].includes(v)) throw new KubeStatus(400, 'BadRequest', `fieldValidation parameter unsupported: ${v}`);
  return v as FieldValidation;
}

/** Warnings go in `Warning` headers (`299 - "<text>"`, RFC 7234), which kubectl prints as `Warning: <text>`. */
function sendWithWarnings(x: Exchange, status: number, body: unknown, warnings: string[]): void {
  if (warnings.length) x.res.setHeader('Warning', warnings.map((w) => `299 - ${JSON.stringify(w)}`));
  x.sendJson(status, body);
}

function dryRunOf(x: Exchange): boolean {
  const v = x.query('dryRun');
  if (v !== undefined && v !== 'All') throw new KubeStatus(400, 'BadRequest', `Invalid dry run value: ${v}; only All is supported`);
  return v === 'All';
}
