import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A cluster's part of the loopback network 127.0.0.0/8, from which its pods, Services and gateway get their
 * addresses, as a cluster's pod and service CIDRs (Linux routes the whole /8 to the loopback interface, so any of
 * these addresses can be listened on and connected to without configuration). Each block is a /20,
 * 127.<a>.<b…b+15>.0, chosen at random and claimed with a lock file in the temporary folder, so environments that
 * run at once on one machine (tests run several) never hand out the same address. Nothing here is ever outside
 * 127.0.0.0/8.
 */
export class LoopbackBlock {
  private readonly used = new Set<number>();
  private next = 0;

  private constructor(readonly prefix: [number, number], private readonly lockPath: string) {}

  /** Claims a free block (its lock file names this process, so a block of a process that died is taken over). */
  static claim(): LoopbackBlock {
    for (let attempt = 0; attempt < 200; attempt++) {
      const a = 64 + Math.floor(Math.random() * 190);
      const b = 16 * Math.floor(Math.random() * 16);
      const lockPath = path.join(os.tmpdir(), `aks-delivery-loopback-127.${a}.${b}.lock`);
      try {
        fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
        return new LoopbackBlock([a, b], lockPath);
      } catch {
        const owner = Number(fs.readFileSync(lockPath, 'utf8').trim());
        if (owner && !alive(owner)) {
          fs.rmSync(lockPath, { force: true });
        }
      }
    }
    throw new Error('no free block of loopback addresses for a cluster');
  }

  /** The next free address of the block (never 127.x.y.0 or .255). */
  allocate(): string {
    for (let i = 0; i < 16 * 254; i++) {
      const n = (this.next + i) % (16 * 254);
      if (this.used.has(n)) continue;
      this.used.add(n);
      this.next = n + 1;
      return this.address(n);
    }
    throw new Error(`the loopback block 127.${this.prefix[0]}.${this.prefix[1]}.0/20 is exhausted`);
  }

  /** Gives an address back (a pod that is gone). */
  release(address: string): void {
    const [, , c, d] = address.split('.').map(Number);
    this.used.delete((c - this.prefix[1]) * 254 + (d - 1));
  }

  contains(address: string): boolean {
    const [w, a, c] = address.split('.').map(Number);
    return w === 127 && a === this.prefix[0] && c >= this.prefix[1] && c < this.prefix[1] + 16;
  }

  /** Frees the block for other environments. */
  close(): void {
    fs.rmSync(this.lockPath, { force: true });
  }

  private address(n: number): string {
    return `127.${this.prefix[0]}.${this.prefix[1] + Math.floor(n / 254)}.${(n % 254) + 1}`;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const blocks = new WeakMap<object, LoopbackBlock>();

/** The loopback block of a cluster (claimed on first use, by the Service defaults or the kubelet). */
export function loopbackBlockOf(cluster: object): LoopbackBlock {
  let block = blocks.get(cluster);
  if (!block) {
    block = LoopbackBlock.claim();
    blocks.set(cluster, block);
  }
  return block;
}

const serviceIPs = new WeakMap<object, Map<string, string>>();

/**
 * A Service's spec.clusterIP: an address of the cluster's loopback block (the API server's defaults call it). The
 * same Service (namespace/name) gets the same address while it holds one, however often its objects are defaulted
 * (an apply defaults the configuration and the merged object); `releaseClusterIP` frees it once it is deleted.
 */
export function allocateClusterIP(cluster: object, service: string): string {
  let byService = serviceIPs.get(cluster);
  if (!byService) { byService = new Map(); serviceIPs.set(cluster, byService); }
  let ip = byService.get(service);
  if (!ip) {
    ip = loopbackBlockOf(cluster).allocate();
    byService.set(service, ip);
  }
  return ip;
}

/** Frees the clusterIP of a Service that is gone. */
export function releaseClusterIP(cluster: object, service: string): void {
  const ip = serviceIPs.get(cluster)?.get(service);
  if (!ip) return;
  serviceIPs.get(cluster)!.delete(service);
  loopbackBlockOf(cluster).release(ip);
}

/** The Services that hold a clusterIP, by namespace/name. */
export function servicesWithClusterIP(cluster: object): string[] {
  return [...(serviceIPs.get(cluster)?.keys() ?? [])];
}

/** Whether nothing listens on address:port (a process about to listen there would fail with EADDRINUSE). */
export function isFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, address, () => server.close(() => resolve(true)));
  });
}

/** Whether an address is in 127.0.0.0/8: the only addresses anything of the environment may connect to. */
export function isLoopback(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address) || address === 'localhost';
}
