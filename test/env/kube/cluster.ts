import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CertificateAuthority, IssuedCertificate } from '../ca';
import type { EntraEmulator, EntraIdentity } from '../entra';
import { Faults } from '../faults';
import { Exchange, type TlsMaterial } from '../http';
import { applyDefaults, validate } from './defaults';
import { fieldsOf } from './fields';
import {
  BUILTIN_TYPES, KubeStatus, clone, deepEqual, groupVersion, matchesFieldSelector, matchesLabelSelector, notFound,
  type KObj, type ResourceType,
} from './types';

/** The AAD server application of AKS: the audience of tokens an AAD-enabled cluster accepts. */
export const AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';

/** Who a request comes from, once authenticated. `namespaces` limits what it may touch (undefined: everything). */
export interface KubeUser {
  name: string;
  groups: string[];
  namespaces?: string[];
  /** May only read (get, list, watch). */
  readOnly?: boolean;
}

/**
 * An admission policy: returns a denial message for objects it refuses (as Gatekeeper / Azure Policy do through
 * their validating webhook), undefined otherwise.
 */
export type AdmissionPolicy = (obj: KObj, operation: 'CREATE' | 'UPDATE', dryRun: boolean) => string | undefined;

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  typeKey: string;
  obj: KObj;
}

interface Watcher {
  typeKey: string;
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  x: Exchange;
  bookmarks: boolean;
  timers: NodeJS.Timeout[];
}

const HISTORY_LIMIT = 2000;

/**
 * One emulated Kubernetes API server: discovery, server-side apply with field managers, get, list, watch (with
 * resource versions, 410 Gone and bookmarks), delete with cascading, dry run, events, namespaces, CRDs and their
 * custom resources, RBAC refusals and admission denials. Controllers and the kubelet stand-in (controllers.ts)
 * act on its store in-process.
 */
export class KubeCluster {
  readonly faults = new Faults();
  readonly policies: AdmissionPolicy[] = [];
  readonly types: ResourceType[] = [...BUILTIN_TYPES];
  /** Requests served, "METHOD path?query", for tests that check what a client asked. */
  readonly requests: string[] = [];
  /** Milliseconds between watch bookmarks. */
  bookmarkIntervalMs = 1000;
  /** How a watch from a too-old resource version is refused: an ERROR event (usual) or HTTP 410 on the request. */
  expiredWatch: 'event' | 'http' = 'event';
  private readonly objects = new ObjectStore();
  /** Per object key: the last configuration each field manager applied. */
  private readonly applied = new Map<string, Map<string, KObj>>();
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly tokens = new Map<string, KubeUser>();
  private readonly certificates = new Map<string, KubeUser>();
  private readonly aadUsers = new Map<string, KubeUser>();
  private readonly listeners: (() => void)[] = [];
  /** GET handlers of subresources other than status, by "resource/subresource" (the kubelet serves pods/log). */
  readonly subresources = new Map<string, (x: Exchange, obj: KObj) => void | Promise<void>>();
  private rv = 100;
  /** Watches from resource versions older than this get 410 Gone. */
  private compactedRv = 0;
  private server?: https.Server;
  private port = 0;

  private constructor(readonly name: string, private readonly ca: CertificateAuthority, private readonly entra: EntraEmulator | undefined) {}

  static async start(name: string, tls: TlsMaterial, ca: CertificateAuthority, entra?: EntraEmulator): Promise<KubeCluster> {
    const cluster = new KubeCluster(name, ca, entra);
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      cluster.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    }
    for (let i = 0; i < 2; i++) {
      const nodeName = `aks-nodepool1-${10000000 + i}-vmss00000${i}`;
      cluster.put({
        apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels: { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', agentpool: 'nodepool1' } },
        status: { capacity: { cpu: '4', memory: '16Gi', pods: '110' }, allocatable: { cpu: '3860m', memory: '12Gi', pods: '110' }, conditions: [{ type: 'Ready', status: 'True' }] },
      });
    }
    cluster.server = https.createServer({ cert: tls.cert, key: tls.key, ca: [ca.caPem], requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const x = new Exchange(req, res);
      void (async () => {
        try {
          if (await cluster.faults.apply(req, res)) return;
          await cluster.handle(x);
        } catch (err) {
          if (err instanceof KubeStatus) x.sendJson(err.code, err.toJSON());
          else if (!res.headersSent) x.sendJson(500, new KubeStatus(500, 'InternalError', `emulator: ${(err as Error).stack}`).toJSON());
          else res.destroy();
        }
      })();
    });
    cluster.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      cluster.server!.once('error', reject);
      cluster.server!.listen(0, '127.0.0.1', () => resolve());
    });
    cluster.port = (cluster.server.address() as AddressInfo).port;
    return cluster;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.dropWatches();
    await new Promise<void>((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }

  // ---- credentials -------------------------------------------------------------------------------------------

  /** A bearer token this cluster accepts (as a service account token), for `user`. */
  issueToken(user: KubeUser): string {
    const token = `kube-${randomBytes(24).toString('base64url')}`;
    this.tokens.set(token, user);
    return token;
  }

  /** A client certificate this cluster accepts, for `user`. */
  issueClientCertificate(user: KubeUser): IssuedCertificate {
    const cert = this.ca.issue(`${this.name}-${user.name}`);
    this.certificates.set(new X509Certificate(cert.certPem).fingerprint256, user);
    return cert;
  }

  /** Lets an Entra identity in (its AAD object id becomes the user), as a role binding or Azure RBAC role would. */
  grantAad(identity: EntraIdentity, limits: Omit<KubeUser, 'name' | 'groups'> = {}): void {
    this.aadUsers.set(identity.objectId, { name: identity.objectId, groups: ['system:authenticated'], ...limits });
  }

  revokeAad(identity: EntraIdentity): void {
    this.aadUsers.delete(identity.objectId);
  }

  // ---- test hooks ---------------------------------------------------------------------------------------------

  /** Watches open now. */
  get openWatches(): number {
    return this.watchers.size;
  }

  /** Ends every open watch, as an API server restart or a load balancer does. */
  dropWatches(): number {
    let n = 0;
    for (const w of [...this.watchers]) {
      n++;
      this.endWatch(w, true);
    }
    return n;
  }

  /** Forgets the change history: every watch from a resource version seen so far gets 410 Gone. */
  compact(): void {
    // The resource version moves on, so a list made after this is watchable while every older one has expired.
    this.compactedRv = ++this.rv;
    this.history.length = 0;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  // ---- store --------------------------------------------------------------------------------------------------

  typeOf(apiVersion: string, kind: string): ResourceType | undefined {
    return this.types.find((t) => groupVersion(t) === apiVersion && t.kind === kind);
  }

  typeKey(type: ResourceType): string {
    return `${type.group}/${type.resource}`;
  }

  private key(type: ResourceType, namespace: string | undefined, name: string): string {
    return `${this.typeKey(type)}/${namespace ?? ''}/${name}`;
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KObj | undefined {
    const type = this.typeOf(apiVersion, kind);
    if (!type) return undefined;
    return this.objects.get(this.key(type, type.namespaced ? namespace : undefined, name));
  }

  list(apiVersion: string, kind: string, namespace?: string, filter?: (o: KObj) => boolean): KObj[] {
    const type = this.typeOf(apiVersion, kind);
    if (!type) return [];
    const out: KObj[] = [];
    for (const o of this.objects.ofType(this.typeKey(type))) {
      if (namespace !== undefined && o.metadata.namespace !== namespace) continue;
      if (filter && !filter(o)) continue;
      out.push(o);
    }
    return out;
  }

  /**
   * Stores an object as a controller writes it (no admission): fills in uid, resourceVersion and timestamps,
   * bumps the resource version only when something changed, and notifies watchers.
   */
  put(obj: KObj): KObj {
    const type = this.typeOf(obj.apiVersion, obj.kind);
    if (!type) throw new Error(`no type for ${obj.apiVersion} ${obj.kind}`);
    const key = this.key(type, type.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name);
    const existing = this.objects.get(key);
    if (existing && deepEqual(stripVolatile(existing), stripVolatile(obj))) return existing;
    const stored = clone(obj);
    stored.metadata.uid ??= existing?.metadata.uid ?? randomUUID();
    stored.metadata.creationTimestamp ??= existing?.metadata.creationTimestamp ?? now();
    if (stored.metadata.generation === undefined && !['Namespace', 'Node', 'Event', 'Pod'].includes(stored.kind)) stored.metadata.generation = 1;
    stored.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key, stored);
    this.record(existing ? 'MODIFIED' : 'ADDED', type, stored);
    return stored;
  }

  /** Deletes an object and, in the background, the objects it owns. */
  remove(obj: KObj): void {
    const type = this.typeOf(obj.apiVersion, obj.kind);
    if (!type) return;
    const key = this.key(type, type.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name);
    const existing = this.objects.get(key);
    if (!existing) return;
    this.objects.delete(key);
    this.applied.delete(key);
    const gone = clone(existing);
    gone.metadata.resourceVersion = String(++this.rv);
    this.record('DELETED', type, gone);
    const uid = existing.metadata.uid;
    for (const o of [...this.objects.values()]) {
      if ((o.metadata.ownerReferences as { uid: string }[] | undefined)?.some((r) => r.uid === uid)) this.remove(o);
      if (existing.kind === 'Namespace' && o.metadata.namespace === existing.metadata.name) this.remove(o);
    }
    if (existing.kind === 'CustomResourceDefinition') this.unregisterCrd(existing);
  }

  /** Records an Event, counting repeats of the same reason and message for the same object. */
  event(involved: KObj, type: 'Normal' | 'Warning', reason: string, message: string, component = 'kubelet'): void {
    const ns = involved.metadata.namespace ?? 'default';
    const existing = this.list('v1', 'Event', ns, (e) => e.involvedObject.uid === involved.metadata.uid && e.reason === reason && e.message === message)[0];
    if (existing) {
      this.put({ ...existing, count: (existing.count as number) + 1, lastTimestamp: now() });
      return;
    }
    this.put({
      apiVersion: 'v1', kind: 'Event',
      metadata: { name: `${involved.metadata.name}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: { apiVersion: involved.apiVersion, kind: involved.kind, name: involved.metadata.name, namespace: involved.metadata.namespace, uid: involved.metadata.uid, resourceVersion: involved.metadata.resourceVersion },
      reason, message, type, count: 1, firstTimestamp: now(), lastTimestamp: now(), source: { component }, reportingComponent: component,
    });
  }

  /** Runs the admission policies; a denial is a 403 as a validating webhook gives it. */
  admit(obj: KObj, operation: 'CREATE' | 'UPDATE', dryRun: boolean): void {
    for (const policy of this.policies) {
      const denial = policy(obj, operation, dryRun);
      if (denial) throw new KubeStatus(403, 'Forbidden', `admission webhook "validation.gatekeeper.sh" denied the request: ${denial}`);
    }
  }

  private record(type: HistoryEntry['type'], rtype: ResourceType, obj: KObj): void {
    const entry = { rv: this.rv, type, typeKey: this.typeKey(rtype), obj: clone(obj) };
    this.history.push(entry);
    if (this.history.length > HISTORY_LIMIT) {
      const dropped = this.history.splice(0, this.history.length - HISTORY_LIMIT);
      this.compactedRv = Math.max(this.compactedRv, dropped[dropped.length - 1].rv);
    }
    for (const w of this.watchers) this.deliver(w, entry);
    for (const l of this.listeners) l();
  }

  private registerCrd(crd: KObj): void {
    const spec = crd.spec as { group: string; names: { plural: string; kind: string; singular?: string; shortNames?: string[]; categories?: string[] }; scope: string; versions: { name: string; served: boolean }[] };
    this.unregisterCrd(crd);
    for (const v of spec.versions.filter((ver) => ver.served !== false)) {
      this.types.push({
        group: spec.group, version: v.name, resource: spec.names.plural, kind: spec.names.kind, singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
        namespaced: spec.scope !== 'Cluster', shortNames: spec.names.shortNames, categories: spec.names.categories,
        verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'], crd: crd.metadata.name,
      });
    }
  }

  private unregisterCrd(crd: KObj): void {
    for (let i = this.types.length - 1; i >= 0; i--) if (this.types[i].crd === crd.metadata.name) this.types.splice(i, 1);
  }

  /** Called by the controller when a CRD's names are accepted: its resources become served. */
  establishCrd(crd: KObj): void {
    this.registerCrd(crd);
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------

  private authenticate(x: Exchange): KubeUser {
    const socket = x.req.socket as TLSSocket;
    if (socket.authorized) {
      const peer = socket.getPeerCertificate();
      const user = peer?.fingerprint256 ? this.certificates.get(peer.fingerprint256) : undefined;
      if (user) return user;
    }
    const token = x.bearerToken();
    if (token) {
      const user = this.tokens.get(token);
      if (user) return user;
      if (this.entra && token.split('.').length === 3) {
        const verdict = this.entra.verifyAccessToken(token, [AKS_SERVER_APP_ID]);
        if ('claims' in verdict) {
          return this.aadUsers.get(verdict.claims.oid) ?? { name: verdict.claims.oid, groups: ['system:authenticated'], namespaces: [], readOnly: true };
        }
      }
    }
    throw new KubeStatus(401, 'Unauthorized', 'Unauthorized');
  }

  private authorize(user: KubeUser, verb: string, type: ResourceType, namespace: string | undefined, name: string | undefined): void {
    const write = !['get', 'list', 'watch'].includes(verb);
    const nsOk = user.namespaces === undefined || (namespace !== undefined && user.namespaces.includes(namespace));
    if (nsOk && !(write && user.readOnly)) return;
    const resource = type.group ? `${type.resource}.${type.group}` : type.resource;
    const subject = user.name.startsWith('system:') ? user.name : user.name;
    const where = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
    throw new KubeStatus(403, 'Forbidden',
      `${resource}${name ? ` "${name}"` : ''} is forbidden: User "${subject}" cannot ${verb} resource "${type.resource}" in API group "${type.group}" ${where}`,
      { name, group: type.group || undefined, kind: type.resource });
  }

  private async handle(x: Exchange): Promise<void> {
    this.requests.push(`${x.method} ${x.req.url}`);
    if (this.requests.length > 5000) this.requests.splice(0, 1000);
    const path = x.path.replace(/\/+$/, '') || '/';
    if (['/healthz', '/readyz', '/livez'].includes(path)) return x.send(200, 'ok', { 'content-type': 'text/plain' });
    const user = this.authenticate(x);
    if (path === '/version') {
      return x.sendJson(200, { major: '1', minor: '32', gitVersion: 'v1.32.6', gitCommit: 'emulator', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.23.10', compiler: 'gc', platform: 'linux/amd64' });
    }
    if (path === '/api') return x.sendJson(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }] });
    if (path === '/apis') return x.sendJson(200, this.groupList());
    if (path.startsWith('/openapi/')) return this.openapi(x, path);
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/(.*))?$/.exec(path);
    if (!m) throw new KubeStatus(404, 'NotFound', 'the server could not find the requested resource');
    const group = m[2] ?? '';
    const version = m[1] ?? m[3];
    const rest = m[4] ? m[4].split('/').map(decodeURIComponent) : [];
    const gvTypes = this.types.filter((t) => t.group === group && t.version === version);
    if (gvTypes.length === 0) throw new KubeStatus(404, 'NotFound', 'the server could not find the requested resource');
    if (rest.length === 0) {
      if (x.method !== 'GET') throw new KubeStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      return x.sendJson(200, this.resourceList(group, version));
    }
    let namespace: string | undefined;
    let segs = rest;
    if (segs[0] === 'namespaces' && segs.length >= 3 && gvTypes.some((t) => t.namespaced && t.resource === segs[2])) {
      namespace = segs[1];
      segs = segs.slice(2);
    }
    const type = gvTypes.find((t) => t.resource === segs[0]);
    if (!type || segs.length > 3 || (namespace !== undefined && !type.namespaced)) throw new KubeStatus(404, 'NotFound', 'the server could not find the requested resource');
    const name = segs[1];
    const subresource = segs[2];
    const handler = subresource ? this.subresources.get(`${type.resource}/${subresource}`) : undefined;
    if (handler && x.method === 'GET') {
      this.authorize(user, 'get', type, namespace, name);
      const obj = this.objects.get(this.key(type, namespace, name));
      if (!obj) throw notFound(type, name);
      return handler(x, obj);
    }
    if (subresource && subresource !== 'status') throw new KubeStatus(404, 'NotFound', 'the server could not find the requested resource');
    const watch = x.query('watch') === 'true' || x.query('watch') === '1';
    const verb = x.method === 'GET' ? (name ? 'get' : watch ? 'watch' : 'list')
      : x.method === 'PATCH' ? 'patch' : x.method === 'POST' ? 'create' : x.method === 'PUT' ? 'update' : x.method === 'DELETE' ? 'delete' : '';
    if (!verb) throw new KubeStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    this.authorize(user, verb, type, namespace, name);
    if (namespace !== undefined && verb !== 'get' && verb !== 'list' && verb !== 'watch' && verb !== 'delete' && !this.get('v1', 'Namespace', undefined, namespace)) {
      throw new KubeStatus(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
    }
    switch (verb) {
      case 'get': {
        const obj = this.objects.get(this.key(type, namespace, name));
        if (!obj) throw notFound(type, name);
        return this.sendObjects(x, type, [obj], obj);
      }
      case 'list': return this.listHandler(x, type, namespace);
      case 'watch': return this.watchHandler(x, type, namespace);
      case 'patch': return this.patchHandler(x, type, namespace, name, subresource);
      case 'create': return this.createHandler(x, type, namespace);
      case 'update': return this.updateHandler(x, type, namespace, name);
      case 'delete': return this.deleteHandler(x, type, namespace, name);
    }
  }

  private groupList() {
    const groups = new Map<string, string[]>();
    for (const t of this.types) {
      if (!t.group) continue;
      const versions = groups.get(t.group) ?? [];
      if (!versions.includes(t.version)) versions.push(t.version);
      groups.set(t.group, versions);
    }
    return {
      kind: 'APIGroupList', apiVersion: 'v1',
      groups: [...groups].map(([name, versions]) => ({
        name, versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
        preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
      })),
    };
  }

  private resourceList(group: string, version: string) {
    const resources: Record<string, unknown>[] = [];
    for (const t of this.types.filter((ty) => ty.group === group && ty.version === version)) {
      resources.push({
        name: t.resource, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: t.verbs,
        ...(t.shortNames ? { shortNames: t.shortNames } : {}), ...(t.categories ? { categories: t.categories } : {}),
        storageVersionHash: Buffer.from(`${group}/${version}/${t.kind}`).toString('base64').slice(0, 11),
      });
      if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod', 'Namespace', 'Node', 'Service', 'CustomResourceDefinition'].includes(t.kind) || t.crd) {
        resources.push({ name: `${t.resource}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
      }
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
  }

  /**
   * OpenAPI v3: the root lists one document per group version; each document holds the paths of its resources
   * with their PATCH operation's GVK and query parameters, which is what kubectl reads to decide that the server
   * validates fields itself (`fieldValidation`). Schemas are not served (v2 answers 404).
   */
  private openapi(x: Exchange, path: string): void {
    if (path === '/openapi/v3') {
      const paths: Record<string, { serverRelativeURL: string }> = {};
      for (const t of this.types) {
        const gv = t.group ? `apis/${t.group}/${t.version}` : `api/${t.version}`;
        paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${this.rv.toString(16).padStart(16, '0')}` };
      }
      return x.sendJson(200, { paths });
    }
    const m = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    const types = m ? this.types.filter((t) => t.group === (m[2] ?? '') && t.version === (m[1] ?? m[3])) : [];
    if (!types.length) return x.sendJson(404, new KubeStatus(404, 'NotFound', 'the server could not find the requested resource').toJSON());
    const query = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'].map((name) => ({ name, in: 'query', schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true } }));
    const paths: Record<string, unknown> = {};
    for (const t of types) {
      const prefix = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
      const item = `${prefix}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.resource}/{name}`;
      const gvk = { group: t.group, version: t.version, kind: t.kind };
      paths[item] = {
        parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, ...(t.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }] : [])],
        get: { operationId: `read${t.kind}`, 'x-kubernetes-action': 'get', 'x-kubernetes-group-version-kind': gvk, responses: { 200: { description: 'OK' } } },
        patch: { operationId: `patch${t.kind}`, 'x-kubernetes-action': 'patch', 'x-kubernetes-group-version-kind': gvk, parameters: query, responses: { 200: { description: 'OK' }, 201: { description: 'Created' } } },
        delete: { operationId: `delete${t.kind}`, 'x-kubernetes-action': 'delete', 'x-kubernetes-group-version-kind': gvk, responses: { 200: { description: 'OK' } } },
      };
    }
    x.sendJson(200, { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.6' }, paths, components: { schemas: {} } });
  }

  private sendObjects(x: Exchange, type: ResourceType, items: KObj[], single?: KObj, listRv?: string): void {
    const accept = x.header('accept') ?? '';
    if (/as=Table/.test(accept) && type.kind === 'Event') {
      const columns: [string, number, (e: KObj) => string][] = [
        ['Last Seen', 0, (e) => age(e.lastTimestamp)], ['Type', 0, (e) => e.type], ['Reason', 0, (e) => e.reason],
        ['Object', 0, (e) => `${String(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`], ['Message', 0, (e) => e.message],
        ['Name', 1, (e) => e.metadata.name],
      ];
      return x.sendJson(200, {
        kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: listRv ?? String(this.rv) },
        columnDefinitions: columns.map(([name, priority]) => ({ name, type: 'string', format: name === 'Name' ? 'name' : '', description: name, priority })),
        rows: items.map((o) => ({ cells: columns.map(([, , cell]) => cell(o)), object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata } })),
      });
    }
    if (/as=Table/.test(accept)) {
      return x.sendJson(200, {
        kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion: listRv ?? single?.metadata.resourceVersion ?? String(this.rv) },
        columnDefinitions: [
          { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
          ...withAge(tableColumns(type)).map(([n, , priority]) => ({ name: n, type: 'string', format: '', description: n, priority: priority ?? 0 })),
        ],
        rows: items.map((o) => ({
          cells: [o.metadata.name, ...withAge(tableColumns(type)).map(([, f]) => f(o))],
          object: /includeObject=Object/.test(x.req.url ?? '') ? o : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
        })),
      });
    }
    if (single) return x.sendJson(200, single);
    x.sendJson(200, { kind: `${type.kind}List`, apiVersion: groupVersion(type), metadata: { resourceVersion: listRv ?? String(this.rv) }, items });
  }

  private listHandler(x: Exchange, type: ResourceType, namespace: string | undefined): void {
    const labelSelector = x.query('labelSelector');
    const fieldSelector = x.query('fieldSelector');
    const items = this.listByType(type, namespace).filter((o) => matchesLabelSelector(o.metadata.labels, labelSelector) && matchesFieldSelector(o, fieldSelector));
    items.sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
    this.sendObjects(x, type, items, undefined, String(this.rv));
  }

  private listByType(type: ResourceType, namespace: string | undefined): KObj[] {
    return [...this.objects.ofType(this.typeKey(type))].filter((o) => namespace === undefined || o.metadata.namespace === namespace);
  }

  private watchHandler(x: Exchange, type: ResourceType, namespace: string | undefined): void {
    const rvText = x.query('resourceVersion');
    const w: Watcher = {
      typeKey: this.typeKey(type), namespace, labelSelector: x.query('labelSelector'), fieldSelector: x.query('fieldSelector'),
      x, bookmarks: x.query('allowWatchBookmarks') === 'true', timers: [],
    };
    const fromRv = rvText && rvText !== '0' ? Number(rvText) : undefined;
    const expired = fromRv !== undefined && (!Number.isFinite(fromRv) || fromRv < this.compactedRv);
    if (expired && this.expiredWatch === 'http') throw new KubeStatus(410, 'Expired', `too old resource version: ${rvText} (${this.compactedRv})`);
    x.res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache, private' });
    x.res.flushHeaders();
    if (expired) {
      write(x, { type: 'ERROR', object: new KubeStatus(410, 'Expired', `too old resource version: ${rvText} (${this.compactedRv})`).toJSON() });
      x.res.end();
      return;
    }
    this.watchers.add(w);
    if (fromRv === undefined) {
      for (const o of this.listByType(type, namespace)) if (this.matches(w, o)) write(x, { type: 'ADDED', object: o });
    } else {
      for (const entry of this.history) if (entry.rv > fromRv && entry.typeKey === w.typeKey) this.deliver(w, entry);
    }
    const timeout = Number(x.query('timeoutSeconds') ?? 1800);
    w.timers.push(setTimeout(() => this.endWatch(w, false), Math.max(1, timeout) * 1000));
    if (w.bookmarks) {
      w.timers.push(setInterval(() => write(x, { type: 'BOOKMARK', object: { kind: type.kind, apiVersion: groupVersion(type), metadata: { resourceVersion: String(this.rv) } } }), this.bookmarkIntervalMs));
    }
    x.req.socket.once('close', () => this.endWatch(w, false));
  }

  private matches(w: Watcher, o: KObj): boolean {
    return (w.namespace === undefined || o.metadata.namespace === w.namespace)
      && matchesLabelSelector(o.metadata.labels, w.labelSelector) && matchesFieldSelector(o, w.fieldSelector);
  }

  private deliver(w: Watcher, entry: HistoryEntry): void {
    if (entry.typeKey !== w.typeKey || !this.matches(w, entry.obj)) return;
    write(w.x, { type: entry.type, object: entry.obj });
  }

  private endWatch(w: Watcher, abrupt: boolean): void {
    if (!this.watchers.delete(w)) return;
    for (const t of w.timers) clearTimeout(t);
    if (abrupt) w.x.req.socket.destroy();
    else w.x.res.end();
  }

  private async body(x: Exchange): Promise<KObj> {
    const text = await x.text();
    try {
      const obj = JSON.parse(text) as KObj;
      if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('not an object');
      return obj;
    } catch (err) {
      throw new KubeStatus(400, 'BadRequest', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (${(err as Error).message})`);
    }
  }

  private checkBody(type: ResourceType, obj: KObj, namespace: string | undefined, name: string | undefined): void {
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

  private dryRun(x: Exchange): boolean {
    const v = x.query('dryRun');
    if (v !== undefined && v !== 'All') throw new KubeStatus(400, 'BadRequest', `Invalid dry run value: ${v}; only All is supported`);
    return v === 'All';
  }

  private async patchHandler(x: Exchange, type: ResourceType, namespace: string | undefined, name: string, subresource?: string): Promise<void> {
    const contentType = (x.header('content-type') ?? '').split(';')[0].trim();
    const dryRun = this.dryRun(x);
    const key = this.key(type, namespace, name);
    const live = this.objects.get(key);
    if (contentType === 'application/apply-patch+yaml') {
      const manager = x.query('fieldManager');
      if (!manager) throw new KubeStatus(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
      const force = x.query('force') === 'true';
      const body = await this.body(x);
      this.checkBody(type, body, namespace, name);
      const result = this.apply(type, key, live, body, manager, force, dryRun, subresource === 'status');
      return x.sendJson(live ? 200 : 201, result);
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
      merged = mergePatch(clone(live), await this.body(x), contentType === 'application/strategic-merge-patch+json') as KObj;
    }
    merged.metadata.name = name;
    return x.sendJson(200, this.write(type, key, live, merged, x.query('fieldManager') ?? 'kubectl-patch', 'Update', dryRun, subresource === 'status'));
  }

  private async createHandler(x: Exchange, type: ResourceType, namespace: string | undefined): Promise<void> {
    const dryRun = this.dryRun(x);
    const body = await this.body(x);
    this.checkBody(type, body, namespace, undefined);
    const key = this.key(type, namespace, body.metadata.name);
    if (this.objects.has(key)) {
      throw new KubeStatus(409, 'AlreadyExists', `${type.group ? `${type.resource}.${type.group}` : type.resource} "${body.metadata.name}" already exists`, { name: body.metadata.name, group: type.group || undefined, kind: type.resource });
    }
    x.sendJson(201, this.write(type, key, undefined, body, x.query('fieldManager') ?? 'kubectl-create', 'Update', dryRun, false));
  }

  private async updateHandler(x: Exchange, type: ResourceType, namespace: string | undefined, name: string): Promise<void> {
    const dryRun = this.dryRun(x);
    const body = await this.body(x);
    this.checkBody(type, body, namespace, name);
    const key = this.key(type, namespace, name);
    const live = this.objects.get(key);
    if (!live) throw notFound(type, name);
    if (body.metadata.resourceVersion && body.metadata.resourceVersion !== live.metadata.resourceVersion) {
      throw new KubeStatus(409, 'Conflict', `Operation cannot be fulfilled on ${type.resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    x.sendJson(200, this.write(type, key, live, body, x.query('fieldManager') ?? 'kubectl-replace', 'Update', dryRun, false));
  }

  private deleteHandler(x: Exchange, type: ResourceType, namespace: string | undefined, name: string | undefined): void {
    if (!name) throw new KubeStatus(405, 'MethodNotAllowed', 'deletecollection is not supported by this server');
    const dryRun = this.dryRun(x);
    const obj = this.objects.get(this.key(type, namespace, name));
    if (!obj) throw notFound(type, name);
    if (!dryRun) this.remove(obj);
    x.sendJson(200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: type.group || undefined, kind: type.resource, uid: obj.metadata.uid } });
  }

  /** Server-side apply: merges the manager's intent into the live object and removes fields it no longer sets. */
  private apply(type: ResourceType, key: string, live: KObj | undefined, body: KObj, manager: string, force: boolean, dryRun: boolean, status: boolean): KObj {
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
    let next = live ? clone(live) : ({ apiVersion: body.apiVersion, kind: body.kind, metadata: { name: body.metadata.name, namespace: body.metadata.namespace } } as KObj);
    const previous = managers.get(manager);
    if (previous) {
      const keep = new Set(fieldsOf(body).map(([p]) => p));
      const othersOwn = new Set([...managers].filter(([m]) => m !== manager).flatMap(([, c]) => fieldsOf(c).map(([p]) => p)));
      for (const [p] of fieldsOf(previous)) if (!keep.has(p) && !othersOwn.has(p)) removePath(next, p);
    }
    next = mergeApply(next, body) as KObj;
    const result = this.write(type, key, live, next, manager, 'Apply', dryRun, status);
    if (!dryRun) {
      managers.set(manager, clone(body));
      this.applied.set(key, managers);
    }
    return result;
  }

  /** Validates, defaults, admits and stores (unless dry run) a new state of an object. */
  private write(type: ResourceType, key: string, live: KObj | undefined, next: KObj, manager: string, operation: 'Apply' | 'Update', dryRun: boolean, statusOnly: boolean): KObj {
    const obj = clone(next);
    if (!statusOnly && live?.status !== undefined) obj.status = clone(live.status);
    delete obj.metadata.managedFields;
    for (const f of ['uid', 'creationTimestamp', 'generation', 'resourceVersion'] as const) {
      if (live) obj.metadata[f] = live.metadata[f];
      else delete obj.metadata[f];
    }
    if (obj.metadata.generateName && !obj.metadata.name) obj.metadata.name = `${obj.metadata.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
    applyDefaults(obj, this);
    validate(type, obj, this);
    this.admit(obj, live ? 'UPDATE' : 'CREATE', dryRun);
    const specChanged = !live || !deepEqual(withoutMeta(live), withoutMeta(obj));
    if (live && specChanged && !['Namespace', 'Node', 'Event', 'Pod'].includes(obj.kind)) obj.metadata.generation = (live.metadata.generation ?? 1) + 1;
    const managers = new Map(this.applied.get(key) ?? []);
    if (operation === 'Apply') managers.set(manager, next);
    obj.metadata.managedFields = [...managers].map(([m, config]) => ({
      manager: m, operation: 'Apply', apiVersion: obj.apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: fieldsV1(config),
    }));
    if (operation === 'Update') obj.metadata.managedFields.push({ manager, operation: 'Update', apiVersion: obj.apiVersion, time: now(), fieldsType: 'FieldsV1', fieldsV1: fieldsV1(next) });
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
    return this.put(obj);
  }
}

/** Objects by key (`group/resource/namespace/name`), indexed by type so that a list reads only its own kind. */
class ObjectStore {
  private readonly all = new Map<string, KObj>();
  private readonly byType = new Map<string, Map<string, KObj>>();

  private static typeOf(key: string): string {
    const i = key.indexOf('/', key.indexOf('/') + 1);
    return key.slice(0, i);
  }
  get(key: string): KObj | undefined {
    return this.all.get(key);
  }
  has(key: string): boolean {
    return this.all.has(key);
  }
  set(key: string, obj: KObj): void {
    this.all.set(key, obj);
    const t = ObjectStore.typeOf(key);
    let m = this.byType.get(t);
    if (!m) this.byType.set(t, (m = new Map()));
    m.set(key, obj);
  }
  delete(key: string): void {
    this.all.delete(key);
    this.byType.get(ObjectStore.typeOf(key))?.delete(key);
  }
  values(): IterableIterator<KObj> {
    return this.all.values();
  }
  ofType(typeKey: string): IterableIterator<KObj> {
    return (this.byType.get(typeKey) ?? new Map<string, KObj>()).values();
  }
}

function write(x: Exchange, event: unknown): void {
  if (!x.res.writableEnded && !x.res.destroyed) x.res.write(`${JSON.stringify(event)}\n`);
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function age(ts: string | undefined): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
  return s < 120 ? `${s}s` : `${Math.floor(s / 60)}m`;
}

/** A kind's columns with Age after those always shown, before the -o wide ones, as kubectl prints them. */
function withAge(columns: [string, (o: KObj) => string, number?][]): [string, (o: KObj) => string, number?][] {
  const always = columns.filter(([, , p]) => !p);
  return [...always, ['Age', (o) => age(o.metadata.creationTimestamp as string)], ...columns.filter(([, , p]) => p)];
}

/** The columns `kubectl get` prints per kind (priority 1: only with -o wide), as the API server's table printers. */
function tableColumns(type: ResourceType): [string, (o: KObj) => string, number?][] {
  switch (type.kind) {
    case 'Deployment': return [
      ['Ready', (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`],
      ['Up-to-date', (o) => String(o.status?.updatedReplicas ?? 0)],
      ['Available', (o) => String(o.status?.availableReplicas ?? 0)],
    ];
    case 'Pod': return [
      ['Ready', (o) => `${(o.status?.containerStatuses ?? []).filter((c: { ready: boolean }) => c.ready).length}/${o.spec?.containers?.length ?? 0}`],
      ['Status', (o) => (o.status?.containerStatuses ?? []).map((c: { state?: { waiting?: { reason: string } } }) => c.state?.waiting?.reason).find(Boolean) ?? o.status?.phase ?? 'Pending'],
      ['Restarts', (o) => String((o.status?.containerStatuses ?? []).reduce((n: number, c: { restartCount: number }) => n + c.restartCount, 0))],
      ['IP', (o) => o.status?.podIP ?? '<none>', 1],
      ['Node', (o) => o.spec?.nodeName ?? '<none>', 1],
    ];
    case 'Service': return [
      ['Type', (o) => o.spec?.type ?? 'ClusterIP'],
      ['Cluster-IP', (o) => o.spec?.clusterIP ?? '<none>'],
      ['External-IP', (o) => (o.status?.loadBalancer?.ingress ?? []).map((i: { ip: string }) => i.ip).join(',') || (o.spec?.type === 'LoadBalancer' ? '<pending>' : '<none>')],
      ['Port(s)', (o) => (o.spec?.ports ?? []).map((p: { port: number; nodePort?: number; protocol?: string }) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',')],
    ];
    case 'EndpointSlice': return [
      ['AddressType', (o) => o.addressType ?? ''],
      ['Ports', (o) => (o.ports ?? []).map((p: { port: number }) => p.port).join(',') || '<unset>'],
      ['Endpoints', (o) => (o.endpoints ?? []).flatMap((e: { addresses: string[] }) => e.addresses).join(',') || '<unset>'],
    ];
    case 'Namespace': return [['Status', (o) => o.status?.phase ?? 'Active']];
    default: return [];
  }
}

function stripVolatile(o: KObj): unknown {
  const c = clone(o);
  delete c.metadata.resourceVersion;
  delete c.metadata.managedFields;
  return c;
}

function withoutMeta(o: KObj): unknown {
  const c = clone(o) as Record<string, unknown>;
  delete c.metadata;
  delete c.status;
  return c;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
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

/**
 * RFC 7386 JSON merge patch; as a strategic merge patch, lists of objects with a `name` (containers, env, ports,
 * volumes…) are merged element by element on that key, as their patchMergeKey says.
 */
function mergePatch(target: unknown, patch: unknown, strategic = false): unknown {
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
function jsonPatch(target: unknown, ops: { op: string; path: string; value?: unknown }[]): unknown {
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
