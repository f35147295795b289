import { randomBytes, X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { CertificateAuthority, IssuedCertificate } from '../../ca';
import type { EntraEmulator, EntraIdentity } from '../../entra';
import type { Faults } from '../../faults';
import { Exchange, type TlsMaterial } from '../../http';
import { KubeStatus, subresourcesOf, type ResourceType } from '../types';
import { VERSION_INFO, apiVersions, groupList, resourceList, serveOpenapi } from './discovery';
import type { Handlers, Target } from './handlers';
import type { Store } from './store';

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

const NOT_FOUND = 'the server could not find the requested resource';

/**
 * The API server's front: TLS with optional client certificates, authentication (service account tokens, client
 * certificates, Entra tokens for the AKS audience), authorization, and routing of each path to discovery or to a
 * resource handler.
 */
export class ApiServer {
  /** Requests served, "METHOD path?query", for tests that check what a client asked. */
  readonly requests: string[] = [];
  private readonly tokens = new Map<string, KubeUser>();
  private readonly certificates = new Map<string, KubeUser>();
  private readonly aadUsers = new Map<string, KubeUser>();
  private server?: https.Server;
  private port = 0;

  constructor(
    private readonly name: string,
    private readonly ca: CertificateAuthority,
    private readonly entra: EntraEmulator | undefined,
    private readonly store: Store,
    private readonly handlers: Handlers,
    private readonly faults: Faults,
  ) {}

  async listen(tls: TlsMaterial): Promise<void> {
    this.server = https.createServer({ cert: tls.cert, key: tls.key, ca: [this.ca.caPem], requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const x = new Exchange(req, res);
      void (async () => {
        try {
          if (await this.faults.apply(req, res)) return;
          await this.handle(x);
        } catch (err) {
          if (err instanceof KubeStatus) x.sendJson(err.code, err.toJSON());
          else if (!res.headersSent) x.sendJson(500, new KubeStatus(500, 'InternalError', `emulator: ${(err as Error).stack}`).toJSON());
          else res.destroy();
        }
      })();
    });
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }

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
    const where = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
    throw new KubeStatus(403, 'Forbidden',
      `${resource}${name ? ` "${name}"` : ''} is forbidden: User "${user.name}" cannot ${verb} resource "${type.resource}" in API group "${type.group}" ${where}`,
      { name, group: type.group || undefined, kind: type.resource });
  }

  private async handle(x: Exchange): Promise<void> {
    this.requests.push(`${x.method} ${x.req.url}`);
    if (this.requests.length > 5000) this.requests.splice(0, 1000);
    const path = x.path.replace(/\/+$/, '') || '/';
    if (['/healthz', '/readyz', '/livez'].includes(path)) return x.send(200, 'ok', { 'content-type': 'text/plain' });
    const user = this.authenticate(x);
    if (path === '/version') return x.sendJson(200, VERSION_INFO);
    if (path === '/api') return x.sendJson(200, apiVersions(this.port));
    if (path === '/apis') return x.sendJson(200, groupList(this.store.types));
    if (path.startsWith('/openapi/')) return serveOpenapi(x, path, this.store.types, this.store.rv);
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(?:\/(.*))?$/.exec(path);
    if (!m) throw new KubeStatus(404, 'NotFound', NOT_FOUND);
    const group = m[2] ?? '';
    const version = m[1] ?? m[3];
    const rest = m[4] ? m[4].split('/').map(decodeURIComponent) : [];
    const gvTypes = this.store.types.filter((t) => t.group === group && t.version === version);
    if (gvTypes.length === 0) throw new KubeStatus(404, 'NotFound', NOT_FOUND);
    if (rest.length === 0) {
      if (x.method !== 'GET') throw new KubeStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      return x.sendJson(200, resourceList(this.store.types, group, version));
    }
    let namespace: string | undefined;
    let segs = rest;
    if (segs[0] === 'namespaces' && segs.length >= 3 && gvTypes.some((t) => t.namespaced && t.resource === segs[2])) {
      namespace = segs[1];
      segs = segs.slice(2);
    }
    const type = gvTypes.find((t) => t.resource === segs[0]);
    if (!type || segs.length > 3 || (namespace !== undefined && !type.namespaced)) throw new KubeStatus(404, 'NotFound', NOT_FOUND);
    const target: Target = { type, namespace, name: segs[1], subresource: segs[2] };
    if (target.subresource && !subresourcesOf(type).includes(target.subresource)) {
      // A subresource a component serves (the kubelet's pods/log) rather than the API server's own (status, scale).
      if (x.method === 'GET') {
        this.authorize(user, 'get', type, namespace, target.name);
        if (await this.handlers.subresource(x, target)) return;
      }
      throw new KubeStatus(404, 'NotFound', NOT_FOUND);
    }
    const watch = x.query('watch') === 'true' || x.query('watch') === '1';
    const verb = x.method === 'GET' ? (target.name ? 'get' : watch ? 'watch' : 'list')
      : x.method === 'PATCH' ? 'patch' : x.method === 'POST' ? 'create' : x.method === 'PUT' ? 'update' : x.method === 'DELETE' ? 'delete' : '';
    if (!verb) throw new KubeStatus(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    this.authorize(user, verb, type, namespace, target.name);
    if (namespace !== undefined && !['get', 'list', 'watch', 'delete'].includes(verb) && !this.store.namespaceExists(namespace)) {
      throw new KubeStatus(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
    }
    switch (verb) {
      case 'get': return this.handlers.get(x, target);
      case 'list': return this.handlers.list(x, target);
      case 'watch': return this.handlers.watch(x, target);
      case 'patch': return this.handlers.patch(x, target);
      case 'create': return this.handlers.create(x, target);
      case 'update': return this.handlers.update(x, target);
      case 'delete': return this.handlers.delete(x, target);
    }
  }
}
