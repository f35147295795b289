import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

/** A free TCP port on loopback (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A child process of the environment whose output goes to a log file, stopped with the environment. */
export class ManagedProcess {
  private exited = false;

  private constructor(readonly name: string, private readonly child: ChildProcess, readonly logPath: string) {
    child.once('exit', () => { this.exited = true; });
  }

  static start(name: string, command: string, args: string[], logPath: string, env: NodeJS.ProcessEnv = {}): ManagedProcess {
    const log = fs.openSync(logPath, 'a');
    const child = spawn(command, args, { stdio: ['ignore', log, log], env: { ...process.env, ...env } });
    fs.closeSync(log);
    child.once('error', () => { /* reported by waitUntil through `exited` */ });
    if (child.pid !== undefined) watch(child);
    return new ManagedProcess(name, child, logPath);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** Polls `ready` until it resolves true; fails with the process log when the process dies or time runs out. */
  async waitUntil(ready: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) break;
      if (await ready().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    const log = fs.existsSync(this.logPath) ? fs.readFileSync(this.logPath, 'utf8').slice(-2000) : '';
    throw new Error(`${this.name} did not become ready${this.exited ? ' (it exited)' : ''}. Its log:\n${log}`);
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await done;
    clearTimeout(timer);
  }
}

/**
 * The child is stopped with the environment, but when this process dies without stopping it (SIGKILL, a crash, a
 * test runner killed on its timeout) it would run on, holding its port and data directory. A watchdog shell reads a
 * pipe from this process and terminates the child when the pipe closes, which the kernel does however we die; it is
 * ended once the child has exited, so it never signals a reused pid.
 */
function watch(child: ChildProcess): void {
  const watchdog = spawn('sh', ['-c', `read _; kill -TERM ${child.pid} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'] });
  watchdog.once('error', () => undefined);
  // Neither the watchdog nor its pipe keeps this process alive.
  watchdog.unref();
  (watchdog.stdin as net.Socket).unref();
  child.once('exit', () => watchdog.kill('SIGKILL'));
}

/** Whether something accepts TCP connections on a loopback port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Fails with an install hint when a command the environment needs is missing. */
export function requireCommand(command: string, debianPackage: string): void {
  const dirs = (process.env.PATH ?? '').split(':');
  if (!dirs.some((d) => fs.existsSync(`${d}/${command}`))) {
    throw new Error(`'${command}' is not installed: run 'npm run setup' (installs Debian's ${debianPackage}).`);
  }
}
