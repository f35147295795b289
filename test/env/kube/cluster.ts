import { randomBytes } from 'node:crypto';
import type { CertificateAuthority, IssuedCertificate } from '../ca';
import type { EntraEmulator, EntraIdentity } from '../entra';
import { Faults } from '../faults';
import type { Exchange } from '../http';
import { deleteObject, mayPurge, type DeleteOptions } from './apiserver/deletion';
import { Handlers, type ApiContext } from './apiserver/handlers';
import { ApiServer, type KubeUser } from './apiserver/server';
import { Store, now } from './apiserver/store';
import { Watches } from './apiserver/watch';
import { collectGarbage } from './controllers/garbageCollector';
import { finalizeNamespaces } from './controllers/namespace';
import { KubeStatus, type KObj, type ResourceType } from './types';

export { AKS_SERVER_APP_ID, type KubeUser } from './apiserver/server';

/**
 * An admission policy: returns a denial message for objects it refuses (as Gatekeeper / Azure Policy do through
 * their validating webhook), undefined otherwise.
 */
export type AdmissionPolicy = (obj: KObj, operation: 'CREATE' | 'UPDATE', dryRun: boolean) => string | undefined;

/**
 * One emulated Kubernetes cluster's control plane, as the parts under `apiserver/` make it up: the store, watches,
 * the REST handlers and the HTTPS front. Controllers and the kubelet stand-in
 * act on the store in-process through `get`, `list`, `put`, `deleteObject` and `event`.
 */
export class KubeCluster implements ApiContext {
  readonly faults = new Faults();
  readonly policies: AdmissionPolicy[] = [];
  readonly store = new Store();
  /** GET handlers of subresources other than status, by "resource/subresource" (the kubelet serves pods/log). */
  readonly subresources = new Map<string, (x: Exchange, obj: KObj) => void | Promise<void>>();
  readonly watches = new Watches(this.store);
  private readonly server: ApiServer;
  private readonly terminationHooks: ((pod: KObj) => void)[] = [];
  private collecting = false;

  private constructor(readonly name: string, private readonly ca: CertificateAuthority, entra: EntraEmulator | undefined) {
    this.server = new ApiServer(name, ca, entra, this.store, new Handlers(this), this.faults);
    // A served CRD that changes (new versions, subresources) is served as it now says.
    this.store.subscribe((change) => {
      if (change.type === 'MODIFIED' && change.obj.kind === 'CustomResourceDefinition' && this.store.types.some((t) => t.crd === change.obj.metadata.name)) {
        this.establishCrd(change.obj);
      }
      this.scheduleCollection();
    });
  }

  /** The garbage collector and the namespace controller, run once after each burst of changes. */
  private scheduleCollection(): void {
    if (this.collecting) return;
    this.collecting = true;
    setImmediate(() => {
      this.collecting = false;
      collectGarbage(this);
      finalizeNamespaces(this);
    });
  }

  /**
   * `ca` is the cluster's own: as an AKS API server does, the server presents a certificate it signed and accepts
   * client certificates it signed, and only the cluster's kubeconfigs carry it (certificate-authority-data).
   */
  static async start(name: string, ca: CertificateAuthority, entra?: EntraEmulator): Promise<KubeCluster> {
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
    await cluster.server.listen({ cert: ca.server.certPem, key: ca.server.keyPem });
    return cluster;
  }

  /** The cluster's CA (PEM), which its kubeconfigs carry and a Kubernetes service connection's certificate holds. */
  get caPem(): string {
    return this.ca.caPem;
  }

  get url(): string {
    return this.server.url;
  }

  get types(): ResourceType[] {
    return this.store.types;
  }

  /** Requests served, "METHOD path?query", for tests that check what a client asked. */
  get requests(): string[] {
    return this.server.requests;
  }

  /** Milliseconds between watch bookmarks. */
  get bookmarkIntervalMs(): number {
    return this.watches.bookmarkIntervalMs;
  }
  set bookmarkIntervalMs(ms: number) {
    this.watches.bookmarkIntervalMs = ms;
  }

  /** How a watch from a too-old resource version is refused: an ERROR event (usual) or HTTP 410 on the request. */
  get expiredWatch(): 'event' | 'http' {
    return this.watches.expiredWatch;
  }
  set expiredWatch(how: 'event' | 'http') {
    this.watches.expiredWatch = how;
  }

  async close(): Promise<void> {
    this.dropWatches();
    await this.server.close();
  }

  issueToken(user: KubeUser): string {
    return this.server.issueToken(user);
  }

  issueClientCertificate(user: KubeUser): IssuedCertificate {
    return this.server.issueClientCertificate(user);
  }

  grantAad(identity: EntraIdentity, limits: Omit<KubeUser, 'name' | 'groups'> = {}): void {
    this.server.grantAad(identity, limits);
  }

  revokeAad(identity: EntraIdentity): void {
    this.server.revokeAad(identity);
  }

  /** Watches open now. */
  get openWatches(): number {
    return this.watches.open;
  }

  /** Ends every open watch, as an API server restart or a load balancer does. */
  dropWatches(): number {
    return this.watches.dropAll();
  }

  /** Forgets the change history: every watch from a resource version seen so far gets 410 Gone. */
  compact(): void {
    this.watches.compact();
  }

  onChange(listener: () => void): void {
    this.store.subscribe(() => listener());
  }

  typeOf(apiVersion: string, kind: string): ResourceType | undefined {
    return this.store.typeOf(apiVersion, kind);
  }

  typeKey(type: ResourceType): string {
    return this.store.typeKey(type);
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KObj | undefined {
    const type = this.typeOf(apiVersion, kind);
    return type && this.store.byKey(this.store.key(type, namespace, name));
  }

  list(apiVersion: string, kind: string, namespace?: string, filter?: (o: KObj) => boolean): KObj[] {
    const type = this.typeOf(apiVersion, kind);
    if (!type) return [];
    return this.store.ofType(type, namespace).filter((o) => !filter || filter(o));
  }

  /**
   * Stores an object as a controller writes it (no admission): fills in uid, resourceVersion and timestamps,
   * bumps the resource version only when something changed, and notifies watchers.
   */
  put(obj: KObj): KObj {
    const stored = this.store.put(obj);
    if (mayPurge(stored)) this.store.delete(stored);
    return stored;
  }

  /**
   * DELETE as the API server does it (graceful for pods on a node, held by finalizers, Orphan / Foreground /
   * Background propagation through the garbage collector), for the REST handler and for controllers.
   */
  deleteObject(obj: KObj, options: DeleteOptions): { code: number; body: unknown } {
    const type = this.typeOf(obj.apiVersion, obj.kind);
    const live = type && this.store.byKey(this.store.key(type, obj.metadata.namespace, obj.metadata.name));
    if (!type || !live) return { code: 404, body: undefined };
    return deleteObject({
      put: (o) => this.put(o),
      purge: (o) => this.purge(o),
      podTerminating: (pod) => this.podTerminating(pod),
    }, type, live, options);
  }

  /**
   * The kubelet's side of graceful deletion: `hook` is called when a pod on a node gets a deletionTimestamp (it is
   * Terminating: end its processes within `metadata.deletionGracePeriodSeconds`), and again if a shorter grace
   * period is asked for. Once its processes have ended, the kubelet calls `podTerminated(pod)`. Without a hook, pods
   * are taken as terminated at once.
   */
  onPodTerminating(hook: (pod: KObj) => void): void {
    this.terminationHooks.push(hook);
  }

  /** The pod's processes have ended: it is removed (once no finalizers hold it). */
  podTerminated(pod: KObj): void {
    const live = this.get('v1', 'Pod', pod.metadata.namespace, pod.metadata.name);
    // The same name may be a new pod by now (a StatefulSet's ordinal): only the one that terminated goes.
    if (!live?.metadata.deletionTimestamp || live.metadata.uid !== pod.metadata.uid) return;
    this.put({ ...live, metadata: { ...live.metadata, deletionGracePeriodSeconds: 0 } });
  }

  private podTerminating(pod: KObj): void {
    if (this.terminationHooks.length === 0) setImmediate(() => this.podTerminated(pod));
    for (const hook of this.terminationHooks) hook(pod);
  }

  /** Sets an object's finalizers (the garbage collector removing `orphan` or `foregroundDeletion`). */
  updateFinalizers(obj: KObj, finalizers: string[]): void {
    this.put({ ...obj, metadata: { ...obj.metadata, finalizers: finalizers.length ? finalizers : undefined } });
  }

  /** The namespace controller's last step: the `kubernetes` finalizer of an emptied Terminating namespace goes. */
  finalizeNamespace(ns: KObj): void {
    this.put({ ...ns, spec: { ...ns.spec, finalizers: (ns.spec?.finalizers ?? []).filter((f: string) => f !== 'kubernetes') } });
  }

  /** Removes an object for good, with no cascade (its dependents are the garbage collector's). */
  private purge(obj: KObj): void {
    const existing = this.store.delete(obj);
    if (existing?.kind === 'CustomResourceDefinition') this.unregisterCrd(existing);
  }

  /**
   * Removes an object at once with everything it owns and, for a namespace, everything in it: a test's clean-up.
   * `deleteObject` is the API's deletion, which the controllers use.
   */
  remove(obj: KObj): void {
    const existing = this.store.delete(obj);
    if (!existing) return;
    const uid = existing.metadata.uid;
    for (const o of this.store.all()) {
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

  /**
   * Admission: ResourceQuota on creates (a 403 `exceeded quota`, which a controller's create gets too: call this
   * before creating a pod), then the admission policies (a 403 as a validating webhook gives it).
   */
  admit(obj: KObj, operation: 'CREATE' | 'UPDATE', dryRun: boolean): void {
    if (operation === 'CREATE') this.checkQuota(obj);
    for (const policy of this.policies) {
      const denial = policy(obj, operation, dryRun);
      if (denial) throw new KubeStatus(403, 'Forbidden', `admission webhook "validation.gatekeeper.sh" denied the request: ${denial}`);
    }
  }

  /**
   * The ResourceQuota admission plugin for object counts (`pods`, `services`, `configmaps`, `secrets`,
   * `persistentvolumeclaims`, `count/<resource>[.<group>]`), worded as `plugin/pkg/admission/resourcequota` words it.
   */
  private checkQuota(obj: KObj): void {
    const type = this.typeOf(obj.apiVersion, obj.kind);
    const ns = obj.metadata.namespace;
    if (!type || !ns) return;
    const resource = type.group ? `${type.resource}.${type.group}` : type.resource;
    const names = [`count/${resource}`, ...(['pods', 'services', 'configmaps', 'secrets', 'persistentvolumeclaims'].includes(type.resource) && !type.group ? [type.resource] : [])];
    for (const quota of this.list('v1', 'ResourceQuota', ns)) {
      for (const name of names) {
        const hard = quota.spec?.hard?.[name];
        if (hard === undefined) continue;
        const used = this.store.ofType(type, ns).filter((o) => !(o.kind === 'Pod' && ['Succeeded', 'Failed'].includes(o.status?.phase))).length;
        if (used + 1 > Number(hard)) {
          throw new KubeStatus(403, 'Forbidden', `${resource} "${obj.metadata.name}" is forbidden: exceeded quota: ${quota.metadata.name}, requested: ${name}=1, used: ${name}=${used}, limited: ${name}=${hard}`, {
            name: obj.metadata.name, group: type.group || undefined, kind: type.resource,
          });
        }
      }
    }
  }

  /** Called by the controller when a CRD's names are accepted: its resources become served. */
  establishCrd(crd: KObj): void {
    const spec = crd.spec as {
      group: string; names: { plural: string; kind: string; singular?: string; shortNames?: string[]; categories?: string[] }; scope: string;
      versions: { name: string; served: boolean; subresources?: Record<string, unknown> }[];
    };
    this.unregisterCrd(crd);
    for (const v of spec.versions.filter((ver) => ver.served !== false)) {
      this.store.types.push({
        group: spec.group, version: v.name, resource: spec.names.plural, kind: spec.names.kind, singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
        namespaced: spec.scope !== 'Cluster', shortNames: spec.names.shortNames, categories: spec.names.categories,
        verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'], crd: crd.metadata.name,
        subresources: Object.keys(v.subresources ?? {}),
      });
    }
  }

  private unregisterCrd(crd: KObj): void {
    const types = this.store.types;
    for (let i = types.length - 1; i >= 0; i--) if (types[i].crd === crd.metadata.name) types.splice(i, 1);
  }
}
