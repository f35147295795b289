import { randomBytes, randomUUID } from 'node:crypto';
import type { Exchange } from '../../http';
import { applyDefaults, validate, type ObjectLookup } from '../defaults';
import {
  KubeStatus, clone, deepEqual, groupVersion, matchesFieldSelector, matchesLabelSelector, notFound, type KObj, type ResourceType,
} from '../types';
import { applyConfiguration, recordUpdate } from './apply';
import { rootNode } from './fieldset';
import { jsonPatch, mergePatch, strategicMerge } from './patch';
import { now, stripVolatile, type Store } from './store';
import { toTable, wantsTable } from './tables';
import type { Watches } from './watch';

/** What the handlers need of the API server they serve. */
export interface ApiContext extends ObjectLookup {
  readonly store: Store;
  readonly watches: Watches;
  admit(obj: KObj, operation: 'CREATE' | 'UPDATE', dryRun: boolean): void;
  remove(obj: KObj): void;
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
    const key = this.api.store.key(type, namespace, body.metadata.name);
    if (this.api.store.has(key)) {
      throw new KubeStatus(409, 'AlreadyExists', `${type.group ? `${type.resource}.${type.group}` : type.resource} "${body.metadata.name}" already exists`, { name: body.metadata.name, group: type.group || undefined, kind: type.resource });
    }
    x.sendJson(201, this.write(type, undefined, body, x.query('fieldManager') ?? 'kubectl-create', 'Update', dryRun));
  }

  async update(x: Exchange, t: Target): Promise<void> {
    const { type, namespace } = t;
    const name = t.name!;
    const dryRun = dryRunOf(x);
    const body = await bodyOf(x);
    checkBody(type, body, namespace, name);
    const key = this.api.store.key(type, namespace, name);
    const live = this.api.store.byKey(key);
    if (!live) throw notFound(type, name);
    if (body.metadata.resourceVersion && body.metadata.resourceVersion !== live.metadata.resourceVersion) {
      throw new KubeStatus(409, 'Conflict', `Operation cannot be fulfilled on ${type.resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    x.sendJson(200, this.write(type, live, body, x.query('fieldManager') ?? 'kubectl-replace', 'Update', dryRun));
  }

  delete(x: Exchange, t: Target): void {
    const { type, namespace, name } = t;
    if (!name) throw new KubeStatus(405, 'MethodNotAllowed', 'deletecollection is not supported by this server');
    const dryRun = dryRunOf(x);
    const obj = this.api.store.byKey(this.api.store.key(type, namespace, name));
    if (!obj) throw notFound(type, name);
    if (!dryRun) this.api.remove(obj);
    x.sendJson(200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: type.group || undefined, kind: type.resource, uid: obj.metadata.uid } });
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
      const next = applyConfiguration(live, body, manager, force, normalise, subresource);
      return x.sendJson(live ? 200 : 201, this.write(type, live, next, manager, 'Apply', dryRun, subresource));
    }
    if (x.query('force') !== undefined) throw new KubeStatus(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch');
    if (!['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json'].includes(contentType)) {
      throw new KubeStatus(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`);
    }
    if (!live) throw notFound(type, name);
    let merged: KObj;
    if (contentType === 'application/json-patch+json') {
      const ops = JSON.parse(await x.text()) as { op: string; path: string; value?: unknown }[];
      merged = jsonPatch(clone(live), ops) as KObj;
    } else {
      const patch = await bodyOf(x);
      merged = (contentType === 'application/strategic-merge-patch+json' ? strategicMerge(clone(live), patch, rootNode(live.apiVersion, live.kind)) : mergePatch(clone(live), patch)) as KObj;
    }
    merged.metadata.name = name;
    x.sendJson(200, this.write(type, live, merged, x.query('fieldManager') ?? 'kubectl-patch', 'Update', dryRun, subresource));
  }

  /**
   * Defaults, validates, admits and stores (unless dry run) a new state of an object. A write to the main resource
   * keeps the live status; a write to `/status` keeps everything but the status.
   */
  private write(type: ResourceType, live: KObj | undefined, next: KObj, manager: string, operation: 'Apply' | 'Update', dryRun: boolean, subresource?: string): KObj {
    let obj = clone(next);
    if (subresource === 'status' && live) obj = { ...clone(live), status: obj.status, metadata: { ...clone(live.metadata), managedFields: obj.metadata.managedFields } };
    else if (live?.status !== undefined) obj.status = clone(live.status);
    for (const f of ['uid', 'creationTimestamp', 'generation', 'resourceVersion'] as const) {
      if (live) obj.metadata[f] = live.metadata[f];
      else delete obj.metadata[f];
    }
    if (obj.metadata.generateName && !obj.metadata.name) obj.metadata.name = `${obj.metadata.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
    normalise(obj);
    validate(type, obj, this.api);
    this.api.admit(obj, live ? 'UPDATE' : 'CREATE', dryRun);
    const specChanged = !live || !deepEqual(withoutMeta(live), withoutMeta(obj));
    if (live && specChanged && !NO_GENERATION.includes(obj.kind)) obj.metadata.generation = (live.metadata.generation ?? 1) + 1;
    if (operation === 'Update') recordUpdate(live, obj, manager, subresource);
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
    return this.api.store.put(obj);
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

/** An object as the server keeps it: defaulted, quantities canonical. */
function normalise(obj: KObj): KObj {
  applyDefaults(obj);
  return obj;
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

function dryRunOf(x: Exchange): boolean {
  const v = x.query('dryRun');
  if (v !== undefined && v !== 'All') throw new KubeStatus(400, 'BadRequest', `Invalid dry run value: ${v}; only All is supported`);
  return v === 'All';
}
