import { execFile } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { isLoopback } from '../network/addresses';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** Where and how a probe's exec command runs (the container's root, working directory and environment). */
export interface ProbeTarget {
  podIP: string;
  ports: Any[];
  exec(command: string[], timeoutMs: number): Promise<number>;
}

/**
 * One probe of a container (startup, readiness or liveness), run as the kubelet's prober does
 * (pkg/kubelet/prober/worker.go): first after initialDelaySeconds, then every periodSeconds; each try fails after
 * timeoutSeconds; the result flips after successThreshold consecutive successes or failureThreshold consecutive
 * failures. Defaults as the API's: periodSeconds 10, timeoutSeconds 1, successThreshold 1, failureThreshold 3.
 * httpGet succeeds on a status from 200 to 399; tcpSocket when a connection opens; exec when the command exits 0.
 * The host of httpGet and tcpSocket defaults to the pod IP; a host outside 127.0.0.0/8 is never connected to.
 */
export class Prober {
  /** The probe's current verdict. */
  success: boolean;
  private successes = 0;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly probe: Any, private readonly target: ProbeTarget, initial: boolean, private readonly onChange: (success: boolean) => void = () => undefined) {
    this.success = initial;
  }

  start(): void {
    const period = (this.probe.periodSeconds ?? 10) * 1000;
    const run = async () => {
      if (this.stopped) return;
      const ok = await this.once().catch(() => false);
      if (this.stopped) return;
      if (ok) { this.successes++; this.failures = 0; } else { this.failures++; this.successes = 0; }
      const before = this.success;
      if (ok && this.successes >= (this.probe.successThreshold ?? 1)) this.success = true;
      if (!ok && this.failures >= (this.probe.failureThreshold ?? 3)) this.success = false;
      if (before !== this.success) this.onChange(this.success);
      this.timer = setTimeout(() => void run(), period);
    };
    this.timer = setTimeout(() => void run(), (this.probe.initialDelaySeconds ?? 0) * 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private once(): Promise<boolean> {
    const timeoutMs = (this.probe.timeoutSeconds ?? 1) * 1000;
    const p = this.probe;
    if (p.exec) return this.target.exec(p.exec.command ?? [], timeoutMs).then((code) => code === 0);
    const action = p.httpGet ?? p.tcpSocket ?? p.grpc;
    if (!action) return Promise.resolve(true);
    const host: string = action.host || this.target.podIP;
    if (!isLoopback(host)) return Promise.resolve(false);
    const port = resolvePort(action.port, this.target.ports);
    if (port === undefined) return Promise.resolve(false);
    if (p.httpGet) return httpProbe(host, port, p.httpGet, timeoutMs);
    return tcpProbe(host, port, timeoutMs);
  }
}

/** A port given by number or by the name of one of the container's ports. */
export function resolvePort(port: unknown, ports: Any[]): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(String(port))) return Number(port);
  return (ports ?? []).find((p: Any) => p.name === port)?.containerPort;
}

function httpProbe(host: string, port: number, get: Any, timeoutMs: number): Promise<boolean> {
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/1.32', accept: '*/*' };
  for (const h of (get.httpHeaders ?? []) as { name: string; value: string }[]) headers[h.name.toLowerCase()] = h.value;
  const client = get.scheme === 'HTTPS' ? https : http;
  return new Promise((resolve) => {
    const req = client.request({ host, port, path: get.path ?? '/', method: 'GET', headers, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

/** Runs a command to completion; resolves its exit code (a timeout or a failure to start counts as failure). */
export function runCommand(argv: string[], cwd: string, env: Record<string, string>, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { cwd, env, timeout: timeoutMs }, (err) => {
      resolve(err ? (typeof (err as Any).code === 'number' ? (err as Any).code : 1) : 0);
    });
  });
}
