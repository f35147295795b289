import { startTicking } from '../../ticker';
import * as http from 'node:http';
import type { KubeCluster } from '../cluster';
import { now, sameStatus } from '../status';
import type { KObj } from '../types';
import { isLoopback, type LoopbackBlock } from './addresses';
import { readyEndpoints } from './endpoints';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const GROUP = 'gateway.networking.k8s.io';
/** The class of the clusters' managed gateway, as AKS's app routing add-on names it in Gateway API mode. */
export const GATEWAY_CLASS = 'approuting-istio';
/** The controller of that class (the emulator's name for it, written into route status as a real one is). */
const CONTROLLER = 'approuting.kubernetes.azure.com/gateway-controller';
/** The Gateway every cluster has, whose address the environment's info line gives as `clusters.<key>.gateway`. */
export const SHARED_GATEWAY = { namespace: 'gateway-system', name: 'gateway', port: 80 };

function crd(kind: string, plural: string, namespaced: boolean, shortNames: string[]): KObj {
  const schema = { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } };
  return {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}`, annotations: { 'gateway.networking.k8s.io/bundle-version': 'v1.2.1', 'gateway.networking.k8s.io/channel': 'standard' } },
    spec: {
      group: GROUP, scope: namespaced ? 'Namespaced' : 'Cluster', names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List`, shortNames, categories: ['gateway-api'] },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: schema }, subresources: { status: {} } }],
    },
  };
}

/**
 * Installs the Gateway API's standard-channel CRDs (GatewayClass, Gateway, HTTPRoute at v1, as AKS's Managed
 * Gateway API does: v1.2.1 on Kubernetes 1.32), the managed GatewayClass, and the shared Gateway.
 */
export function installGatewayApi(cluster: KubeCluster): void {
  for (const c of [crd('GatewayClass', 'gatewayclasses', false, ['gc']), crd('Gateway', 'gateways', true, ['gtw']), crd('HTTPRoute', 'httproutes', true, [])]) cluster.put(c);
  cluster.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: SHARED_GATEWAY.namespace }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
}

interface GatewayServer {
  server: http.Server;
  address: string;
  port: number;
}

/**
 * The gateway controller and data plane of one cluster: each Gateway of the managed class gets a loopback address
 * in status.addresses, where its HTTP listeners answer; the HTTPRoutes attached to it are honoured (hostnames, path
 * matches Exact, PathPrefix and RegularExpression, header and method matches; the most specific match wins, as
 * the Gateway API orders them), and each request goes to one of the matched rule's backendRefs at random by weight
 * (share = weight / sum of weights; weight 0 gets nothing). A backend Service that does not exist answers 500, one
 * without ready endpoints 503 (gwapi httproute_types.go). Route status says Accepted and ResolvedRefs per parent.
 */
export class GatewayController {
  private readonly servers = new Map<string, GatewayServer>();
  private readonly addresses = new Map<string, string>();
  private ticking?: { stop(): void };

  constructor(private readonly cluster: KubeCluster, private readonly block: LoopbackBlock) {}

  start(tickMs = 100): void {
    this.ticking = startTicking(() => this.sync(), () => tickMs);
  }

  close(): void {
    this.ticking?.stop();
    for (const s of this.servers.values()) s.server.close();
    this.servers.clear();
  }

  /** The URL of a Gateway's first listener, once it is programmed. */
  url(namespace: string, name: string): string | undefined {
    const s = [...this.servers.entries()].find(([k]) => k.startsWith(`${namespace}/${name}:`))?.[1];
    return s ? `http://${s.address}:${s.port}` : undefined;
  }

  /** The shared Gateway's address, reserved before the Gateway exists so the info line can name it at start. */
  sharedGatewayUrl(): string {
    return `http://${this.addressOf(`${SHARED_GATEWAY.namespace}/${SHARED_GATEWAY.name}`)}:${SHARED_GATEWAY.port}`;
  }

  /** Creates the GatewayClass and the shared Gateway once their CRDs are established. */
  private ensureDefaults(): void {
    if (!this.cluster.types.some((t) => t.group === GROUP && t.kind === 'Gateway')) return;
    if (!this.cluster.get(`${GROUP}/v1`, 'GatewayClass', undefined, GATEWAY_CLASS)) {
      this.cluster.put({ apiVersion: `${GROUP}/v1`, kind: 'GatewayClass', metadata: { name: GATEWAY_CLASS }, spec: { controllerName: CONTROLLER } });
    }
    if (!this.cluster.get(`${GROUP}/v1`, 'Gateway', SHARED_GATEWAY.namespace, SHARED_GATEWAY.name)) {
      this.cluster.put({
        apiVersion: `${GROUP}/v1`, kind: 'Gateway', metadata: { name: SHARED_GATEWAY.name, namespace: SHARED_GATEWAY.namespace },
        spec: { gatewayClassName: GATEWAY_CLASS, listeners: [{ name: 'http', protocol: 'HTTP', port: SHARED_GATEWAY.port, allowedRoutes: { namespaces: { from: 'All' } } }] },
      });
    }
  }

  sync(): void {
    this.ensureDefaults();
    if (!this.cluster.types.some((t) => t.group === GROUP && t.kind === 'HTTPRoute')) return;
    const classes = this.cluster.list(`${GROUP}/v1`, 'GatewayClass').filter((c) => c.spec?.controllerName === CONTROLLER);
    for (const c of classes) this.writeStatus(c, { conditions: [condition(c, 'Accepted', 'True', 'Accepted', 'The GatewayClass is accepted')] });
    const gateways = this.cluster.list(`${GROUP}/v1`, 'Gateway').filter((g) => classes.some((c) => c.metadata.name === g.spec?.gatewayClassName));
    const routes = this.cluster.list(`${GROUP}/v1`, 'HTTPRoute');
    const wanted = new Set<string>();
    for (const g of gateways) {
      const id = `${g.metadata.namespace}/${g.metadata.name}`;
      const address = this.addressOf(id);
      const listeners = ((g.spec?.listeners ?? []) as Any[]).filter((l) => l.protocol === 'HTTP');
      for (const l of listeners) {
        const key = `${id}:${l.port}`;
        wanted.add(key);
        if (!this.servers.has(key)) this.listen(key, g, address, l.port);
      }
      const attached = (l: Any) => routes.filter((r) => this.attaches(r, g, l)).length;
      this.writeStatus(g, {
        addresses: [{ type: 'IPAddress', value: address }],
        conditions: [condition(g, 'Accepted', 'True', 'Accepted', 'Resource accepted'), condition(g, 'Programmed', 'True', 'Programmed', 'Resource programmed, assigned to service(s)')],
        listeners: listeners.map((l) => ({
          name: l.name, attachedRoutes: attached(l), supportedKinds: [{ group: GROUP, kind: 'HTTPRoute' }],
          conditions: [condition(g, 'Accepted', 'True', 'Accepted', 'No errors found'), condition(g, 'Programmed', 'True', 'Programmed', 'No errors found'), condition(g, 'ResolvedRefs', 'True', 'ResolvedRefs', 'No errors found')],
        })),
      });
    }
    for (const [key, s] of this.servers) if (!wanted.has(key)) { s.server.close(); this.servers.delete(key); }
    for (const r of routes) this.routeStatus(r, gateways);
  }

  private addressOf(gatewayId: string): string {
    let address = this.addresses.get(gatewayId);
    if (!address) {
      address = this.block.allocate();
      this.addresses.set(gatewayId, address);
    }
    return address;
  }

  private writeStatus(obj: KObj, status: Any): void {
    const live = this.cluster.get(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    if (live && !sameStatus(live.status, status)) this.cluster.put({ ...live, status });
  }

  /** Whether a route attaches to a gateway's listener (parentRefs, sectionName, port, allowedRoutes). */
  private attaches(route: KObj, g: KObj, listener: Any): boolean {
    const from = listener.allowedRoutes?.namespaces?.from ?? 'Same';
    if (from === 'Same' && route.metadata.namespace !== g.metadata.namespace) return false;
    return ((route.spec?.parentRefs ?? []) as Any[]).some((p) => (p.kind ?? 'Gateway') === 'Gateway' && p.name === g.metadata.name
      && (p.namespace ?? route.metadata.namespace) === g.metadata.namespace && (!p.sectionName || p.sectionName === listener.name) && (!p.port || p.port === listener.port));
  }

  private routeStatus(route: KObj, gateways: KObj[]): void {
    const parents = ((route.spec?.parentRefs ?? []) as Any[]).flatMap((p) => {
      const g = gateways.find((x) => x.metadata.name === p.name && x.metadata.namespace === (p.namespace ?? route.metadata.namespace));
      if (!g) return [];
      const accepted = ((g.spec?.listeners ?? []) as Any[]).some((l) => this.attaches(route, g, l));
      const missing = ((route.spec?.rules ?? []) as Any[]).flatMap((r) => (r.backendRefs ?? []) as Any[])
        .filter((b) => !this.cluster.get('v1', 'Service', b.namespace ?? route.metadata.namespace, b.name)).map((b) => b.name);
      return [{
        parentRef: { group: GROUP, kind: 'Gateway', ...p },
        controllerName: CONTROLLER,
        conditions: [
          accepted ? condition(route, 'Accepted', 'True', 'Accepted', 'Route was valid') : condition(route, 'Accepted', 'False', 'NotAllowedByListeners', 'No listener of the parent allows this route'),
          missing.length ? condition(route, 'ResolvedRefs', 'False', 'BackendNotFound', `backend(s) not found: ${missing.join(', ')}`) : condition(route, 'ResolvedRefs', 'True', 'ResolvedRefs', 'All references resolved'),
        ],
      }];
    });
    this.writeStatus(route, { parents });
  }

  private listen(key: string, g: KObj, address: string, port: number): void {
    const gateway = { namespace: g.metadata.namespace!, name: g.metadata.name };
    const server = http.createServer((req, res) => this.route(gateway, port, req, res));
    server.on('error', () => this.servers.delete(key));
    server.listen(port, address);
    this.servers.set(key, { server, address, port });
  }

  /** Picks the most specific matching rule of the routes attached to this listener, then a backend by weight. */
  private route(gateway: { namespace: string; name: string }, port: number, req: http.IncomingMessage, res: http.ServerResponse): void {
    const g = this.cluster.get(`${GROUP}/v1`, 'Gateway', gateway.namespace, gateway.name);
    const listener = ((g?.spec?.listeners ?? []) as Any[]).find((l) => l.port === port);
    const url = new URL(req.url ?? '/', 'http://gateway');
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    let best: { rule: Any; route: KObj; score: number[] } | undefined;
    for (const route of g && listener ? this.cluster.list(`${GROUP}/v1`, 'HTTPRoute').filter((r) => this.attaches(r, g, listener)) : []) {
      const hostnames: string[] = route.spec?.hostnames ?? [];
      if (hostnames.length && !hostnames.some((h) => h === host || (h.startsWith('*.') && host.endsWith(h.slice(1))))) continue;
      for (const rule of (route.spec?.rules ?? []) as Any[]) {
        for (const match of (rule.matches?.length ? rule.matches : [{}]) as Any[]) {
          const score = matchScore(match, url.pathname, req);
          if (score && (!best || compare(score, best.score) > 0)) best = { rule, route, score };
        }
      }
    }
    if (!best) { res.writeHead(404, { 'content-type': 'text/plain' }).end('route not found\n'); return; }
    const backends = ((best.rule.backendRefs ?? []) as Any[]).filter((b) => (b.weight ?? 1) > 0);
    const total = backends.reduce((n, b) => n + (b.weight ?? 1), 0);
    if (!total) { res.writeHead(500, { 'content-type': 'text/plain' }).end('no backend with weight\n'); return; }
    let pick = Math.random() * total;
    const backend = backends.find((b) => (pick -= b.weight ?? 1) < 0) ?? backends[backends.length - 1];
    const svc = this.cluster.get('v1', 'Service', backend.namespace ?? best.route.metadata.namespace, backend.name);
    const servicePort = ((svc?.spec?.ports ?? []) as Any[]).find((p) => p.port === backend.port) ?? svc?.spec?.ports?.[0];
    if (!svc || !servicePort) { res.writeHead(500, { 'content-type': 'text/plain' }).end(`backend ${backend.name} not found\n`); return; }
    const endpoints = readyEndpoints(this.cluster, svc, servicePort).filter((e) => isLoopback(e.ip));
    if (!endpoints.length) { res.writeHead(503, { 'content-type': 'text/plain' }).end('no healthy upstream\n'); return; }
    // Straight to an endpoint, as Envoy-based gateways balance over the endpoints themselves.
    const target = endpoints[Math.floor(Math.random() * endpoints.length)];
    const upstream = http.request({ host: target.ip, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: false }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => { if (!res.headersSent) res.writeHead(503).end('upstream connect error\n'); else res.destroy(); });
    req.pipe(upstream);
  }
}

/** How specific a match is (Exact path > longer prefix > more headers > method), or undefined when it does not match. */
function matchScore(match: Any, pathname: string, req: http.IncomingMessage): number[] | undefined {
  const path = match.path ?? { type: 'PathPrefix', value: '/' };
  const value: string = path.value ?? '/';
  let exact = 0;
  if (path.type === 'Exact') { if (pathname !== value) return undefined; exact = 1; }
  else if (path.type === 'RegularExpression') { if (!new RegExp(`^${value}$`).test(pathname)) return undefined; }
  else {
    const prefix = value.replace(/\/$/, '');
    if (!(pathname === prefix || pathname.startsWith(`${prefix}/`) || prefix === '')) return undefined;
  }
  for (const h of (match.headers ?? []) as Any[]) {
    const got = req.headers[String(h.name).toLowerCase()];
    if ((h.type ?? 'Exact') === 'Exact' ? got !== h.value : !new RegExp(`^${h.value}$`).test(String(got ?? ''))) return undefined;
  }
  if (match.method && match.method !== req.method) return undefined;
  return [exact, value.length, (match.headers ?? []).length, match.method ? 1 : 0];
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function condition(obj: KObj, type: string, status: string, reason: string, message: string): Any {
  const prev = ((obj.status?.conditions ?? []) as Any[]).find((c) => c.type === type);
  return { type, status, reason, message, observedGeneration: obj.metadata.generation ?? 1, lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : now() };
}
