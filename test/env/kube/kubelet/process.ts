import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import type { ImageConfig } from './images';

/** The PATH a container runtime gives a process whose image sets none (containerd's default). */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Why a container could not be started, as the runtime reports it. */
export class StartError extends Error {
  constructor(readonly reason: 'CreateContainerError' | 'StartError', message: string) {
    super(message);
  }
}

/**
 * The process of a container: argv from the container's command/args, else the image's Entrypoint/Cmd (the
 * Kubernetes rules: `command` replaces Entrypoint and drops Cmd; `args` alone replaces Cmd). argv[0] is looked up
 * inside the unpacked root first (absolute, relative to the working directory, or along the image's PATH) and
 * otherwise by its base name on the host's PATH, so `node server.js` runs with the host's Node. This is process
 * emulation, not isolation: the process sees the host's file system and runs as this user; only its working
 * directory is inside the root.
 */
export function commandLine(config: ImageConfig, container: { command?: string[]; args?: string[] }, root: string, cwd: string, env: Record<string, string>): string[] {
  // An empty list is no list: the API treats `command: []` as not set.
  const command = container.command?.length ? container.command : undefined;
  const entrypoint = command ?? config.Entrypoint ?? [];
  const args = container.args?.length ? container.args : command ? [] : (config.Cmd ?? []);
  const argv = [...entrypoint, ...args];
  if (!argv.length) throw new StartError('CreateContainerError', 'failed to generate container spec: failed to generate spec: no command specified');
  const program = argv[0];
  const candidates = program.includes('/')
    ? [program.startsWith('/') ? path.join(root, program) : path.resolve(cwd, program)]
    : (env.PATH ?? DEFAULT_PATH).split(':').map((dir) => path.join(root, dir, program));
  const inRoot = candidates.find(isExecutable);
  const onHost = inRoot ? undefined : (process.env.PATH ?? '').split(':').map((dir) => path.join(dir, path.basename(program))).find(isExecutable);
  const resolved = inRoot ?? onHost;
  if (!resolved) {
    throw new StartError('StartError', `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${program}": executable file not found in $PATH: unknown`);
  }
  return [resolved, ...argv.slice(1)];
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Starts a container's process with exactly the container's environment (not the host's), its output appended
 * to `logPath`. Each process leads its own process group, so a signal reaches what it started too.
 */
export function startProcess(argv: string[], cwd: string, env: Record<string, string>, logPath: string): ChildProcess {
  fs.mkdirSync(path.dirname(logPath), { recursive: true });
  fs.mkdirSync(cwd, { recursive: true });
  const log = fs.openSync(logPath, 'a');
  try {
    return spawn(argv[0], argv.slice(1), { cwd, env: { PATH: DEFAULT_PATH, ...env }, stdio: ['ignore', log, log], detached: true });
  } finally {
    fs.closeSync(log);
  }
}

/**
 * Every process one kubelet started, ended when the kubelet stops, and also when this Node process dies without
 * stopping it (SIGKILL, a crash, a test runner killed on its timeout): a watchdog shell reads a pipe from this
 * process and, when the kernel closes the pipe however we die, kills the process groups listed in a file that is
 * kept current as processes start and exit (test/env/processes.ts ties the registries to our life the same way).
 */
export class ProcessTable {
  private readonly live = new Map<number, ChildProcess>();
  private readonly pidFile: string;
  private watchdog?: ChildProcess;

  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true });
    this.pidFile = path.join(dir, 'pids');
    fs.writeFileSync(this.pidFile, '');
  }

  add(child: ChildProcess): void {
    if (child.pid === undefined) return;
    const pid = child.pid;
    this.live.set(pid, child);
    child.once('exit', () => { this.live.delete(pid); this.write(); });
    this.write();
    this.watchdog ??= this.startWatchdog();
  }

  /** Process ids still running, for tests that read the process table. */
  pids(): number[] {
    return [...this.live.keys()];
  }

  /** Ends every process: SIGTERM, then SIGKILL after `graceMs` for those still running. */
  async stopAll(graceMs = 2000): Promise<void> {
    const children = [...this.live.values()];
    await Promise.all(children.map((c) => terminate(c, graceMs)));
    this.watchdog?.kill('SIGKILL');
    this.watchdog = undefined;
  }

  private write(): void {
    fs.writeFileSync(this.pidFile, [...this.live.keys()].join('\n'));
  }

  private startWatchdog(): ChildProcess {
    // `kill -9 -PGID`, not `kill -KILL -- -PGID`: Debian's sh (dash) refuses `--` as an illegal number and kills nothing.
    const script = `read _; for p in $(cat '${this.pidFile}'); do kill -9 -$p 2>/dev/null; done`;
    const watchdog = spawn('sh', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.once('error', () => undefined);
    // Neither the watchdog nor its pipe keeps this process alive.
    watchdog.unref();
    (watchdog.stdin as net.Socket).unref();
    return watchdog;
  }
}

/** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once the process has exited. */
export function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => signal(child, 'SIGKILL'), graceMs);
    child.once('exit', () => { clearTimeout(timer); resolve(); });
    signal(child, 'SIGTERM');
  });
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, name);
  } catch {
    child.kill(name);
  }
}
