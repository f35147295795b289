import { startTicking } from '../../ticker';
import * as net from 'node:net';
import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';
import { isLoopback, releaseClusterIP, servicesWithClusterIP, type LoopbackBlock } from './addresses';
import { readyEndpoints, reconcileEndpoints } from './endpoints';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

interface Listener {
  server: net.Server;
  service: string;
}

/**
 * The Services of one cluster, as kube-proxy and the cloud's load balancer make them: every port of a Service
 * answers on its spec.clusterIP (a loopback address of the cluster's block) and spreads connections over the ready
 * endpoints of its EndpointSlice, choosing one at random for each connection as kube-proxy's iptables mode does
 * (statistic mode random). A Service with no ready endpoint refuses connections, as its REJECT rule does. A
 * LoadBalancer Service also gets an address of its own in status.loadBalancer.ingress, which answers the same way.
 * The endpoints controller runs here too, as both follow the same objects.
 */
export class ServiceProxy {
  private readonly listeners = new Map<string, Listener>();
  private readonly lbAddresses = new Map<string, string>();
  private ticking?: { stop(): void };

  constructor(private readonly cluster: KubeCluster, private readonly block: LoopbackBlock) {}

  /** Follows the cluster's Services and pods on a fast tick. */
  start(tickMs = 50): void {
    this.ticking = startTicking(() => this.sync(), () => tickMs);
  }

  sync(): void {
    const wanted = new Set<string>();
    const services = this.cluster.list('v1', 'Service');
    for (const svc of services) {
      reconcileEndpoints(this.cluster, svc);
      const addresses = [svc.spec?.clusterIP, this.loadBalancer(svc)].filter((a): a is string => !!a && this.block.contains(a));
      for (const address of addresses) {
        for (const port of (svc.spec?.ports ?? []) as Any[]) {
          if ((port.protocol ?? 'TCP') !== 'TCP') continue;
          const key = `${address}:${port.port}`;
          wanted.add(key);
          if (!this.listeners.has(key)) this.listen(key, address, port.port, svc);
        }
      }
    }
    for (const [key, l] of this.listeners) {
      if (!wanted.has(key)) { l.server.close(); this.listeners.delete(key); }
    }
    const uids = new Set(services.map((s) => s.metadata.uid));
    for (const [uid, ip] of this.lbAddresses) {
      if (!uids.has(uid)) { this.block.release(ip); this.lbAddresses.delete(uid); }
    }
    const names = new Set(services.map((s) => `${s.metadata.namespace}/${s.metadata.name}`));
    for (const key of servicesWithClusterIP(this.cluster)) if (!names.has(key)) releaseClusterIP(this.cluster, key);
  }

  close(): void {
    this.ticking?.stop();
    for (const l of this.listeners.values()) l.server.close();
    this.listeners.clear();
  }

  /** The LoadBalancer address of a Service (allocated and written to its status once), or undefined. */
  private loadBalancer(svc: KObj): string | undefined {
    if (svc.spec?.type !== 'LoadBalancer') return undefined;
    const uid = svc.metadata.uid!;
    let ip = this.lbAddresses.get(uid);
    if (!ip) {
      ip = (svc.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined) ?? this.block.allocate();
      this.lbAddresses.set(uid, ip);
    }
    if (svc.status?.loadBalancer?.ingress?.[0]?.ip !== ip) {
      this.cluster.put({ ...svc, status: { ...svc.status, loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } } });
    }
    return ip;
  }

  private listen(key: string, address: string, port: number, svc: KObj): void {
    const ns = svc.metadata.namespace;
    const name = svc.metadata.name;
    const server = net.createServer((client) => {
      // The Service as it is now (its ports and endpoints may have changed since the listener was made).
      const live = this.cluster.get('v1', 'Service', ns, name);
      const servicePort = ((live?.spec?.ports ?? []) as Any[]).find((p) => p.port === port);
      const ready = live && servicePort ? readyEndpoints(this.cluster, live, servicePort).filter((e) => isLoopback(e.ip)) : [];
      if (!ready.length) { client.destroy(); return; }
      const target = ready[Math.floor(Math.random() * ready.length)];
      const upstream = net.connect(target.port, target.ip);
      client.pipe(upstream).pipe(client);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    server.on('error', () => this.listeners.delete(key));
    server.listen(port, address);
    this.listeners.set(key, { server, service: `${ns}/${name}` });
  }
}
