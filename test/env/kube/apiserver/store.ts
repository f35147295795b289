import { randomUUID } from 'node:crypto';
import { BUILTIN_TYPES, clone, deepEqual, groupVersion, type KObj, type ResourceType } from '../types';

/** One change to the store, as watches and listeners see it. */
export interface Change {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  typeKey: string;
  obj: KObj;
}

/** Kinds that carry no `metadata.generation` (their spec is not reconciled, or they have none). */
const NO_GENERATION = ['Namespace', 'Node', 'Event', 'Pod'];

/**
 * The API server's storage (etcd's part): the served resource types, objects by key, and the resource version,
 * one counter for the whole cluster as etcd's revision is. Every change is announced to the subscribers.
 */
export class Store {
  readonly types: ResourceType[] = [...BUILTIN_TYPES];
  private readonly objects = new ObjectStore();
  private readonly subscribers: ((change: Change) => void)[] = [];
  private revision = 100;

  get rv(): number {
    return this.revision;
  }

  /** Moves the resource version on without a change (compaction does, so older versions expire). */
  nextRv(): number {
    return ++this.revision;
  }

  subscribe(fn: (change: Change) => void): void {
    this.subscribers.push(fn);
  }

  typeOf(apiVersion: string, kind: string): ResourceType | undefined {
    return this.types.find((t) => groupVersion(t) === apiVersion && t.kind === kind);
  }

  typeKey(type: ResourceType): string {
    return `${type.group}/${type.resource}`;
  }

  key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${this.typeKey(type)}/${type.namespaced ? (namespace ?? '') : ''}/${name}`;
  }

  keyOf(obj: KObj): string | undefined {
    const type = this.typeOf(obj.apiVersion, obj.kind);
    return type && this.key(type, obj.metadata.namespace, obj.metadata.name);
  }

  byKey(key: string): KObj | undefined {
    return this.objects.get(key);
  }

  has(key: string): boolean {
    return this.objects.has(key);
  }

  namespaceExists(name: string): boolean {
    return this.objects.has(`/namespaces//${name}`);
  }

  ofType(type: ResourceType, namespace?: string): KObj[] {
    return [...this.objects.ofType(this.typeKey(type))].filter((o) => namespace === undefined || o.metadata.namespace === namespace);
  }

  all(): KObj[] {
    return [...this.objects.values()];
  }

  /**
   * Stores an object as it is to be: fills in uid, creationTimestamp and generation, moves the resource version
   * on only when something changed, and announces the change.
   */
  put(obj: KObj): KObj {
    const type = this.typeOf(obj.apiVersion, obj.kind);
    if (!type) throw new Error(`no type for ${obj.apiVersion} ${obj.kind}`);
    const key = this.key(type, obj.metadata.namespace, obj.metadata.name);
    const existing = this.objects.get(key);
    if (existing && deepEqual(stripVolatile(existing), stripVolatile(obj))) return existing;
    const stored = clone(obj);
    stored.metadata.uid ??= existing?.metadata.uid ?? randomUUID();
    stored.metadata.creationTimestamp ??= existing?.metadata.creationTimestamp ?? now();
    if (stored.metadata.generation === undefined && !NO_GENERATION.includes(stored.kind)) stored.metadata.generation = 1;
    stored.metadata.resourceVersion = String(++this.revision);
    this.objects.set(key, stored);
    this.announce(existing ? 'MODIFIED' : 'ADDED', type, stored);
    return stored;
  }

  /** Removes an object for good; the DELETED event carries a new resource version. */
  delete(obj: KObj): KObj | undefined {
    const type = this.typeOf(obj.apiVersion, obj.kind);
    if (!type) return undefined;
    const key = this.key(type, obj.metadata.namespace, obj.metadata.name);
    const existing = this.objects.get(key);
    if (!existing) return undefined;
    this.objects.delete(key);
    const gone = clone(existing);
    gone.metadata.resourceVersion = String(++this.revision);
    this.announce('DELETED', type, gone);
    return existing;
  }

  private announce(type: Change['type'], rtype: ResourceType, obj: KObj): void {
    const change = { rv: this.revision, type, typeKey: this.typeKey(rtype), obj: clone(obj) };
    for (const s of this.subscribers) s(change);
  }
}

/** Objects by key (`group/resource/namespace/name`), indexed by type so that a list reads only its own kind. */
class ObjectStore {
  private readonly everything = new Map<string, KObj>();
  private readonly byType = new Map<string, Map<string, KObj>>();

  private static typeOf(key: string): string {
    const i = key.indexOf('/', key.indexOf('/') + 1);
    return key.slice(0, i);
  }
  get(key: string): KObj | undefined {
    return this.everything.get(key);
  }
  has(key: string): boolean {
    return this.everything.has(key);
  }
  set(key: string, obj: KObj): void {
    this.everything.set(key, obj);
    const t = ObjectStore.typeOf(key);
    let m = this.byType.get(t);
    if (!m) this.byType.set(t, (m = new Map()));
    m.set(key, obj);
  }
  delete(key: string): void {
    this.everything.delete(key);
    this.byType.get(ObjectStore.typeOf(key))?.delete(key);
  }
  values(): IterableIterator<KObj> {
    return this.everything.values();
  }
  ofType(typeKey: string): IterableIterator<KObj> {
    return (this.byType.get(typeKey) ?? new Map<string, KObj>()).values();
  }
}

export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * The object without what changes on every write (its resource version, the times of managedFields): equal
 * results mean "no change", and the write leaves the object as it was.
 */
export function stripVolatile(o: KObj): unknown {
  const c = clone(o);
  delete c.metadata.resourceVersion;
  for (const m of (c.metadata.managedFields ?? []) as { time?: string }[]) delete m.time;
  return c;
}
