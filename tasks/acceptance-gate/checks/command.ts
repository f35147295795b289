import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Node as YamlNode } from 'yaml';
import { findFiles } from '../../common/glob';
import type { CheckBase, Reader } from '../config';
import { readJUnit, type TestCase } from '../junit';
import { elapsed, type CheckContext, type CheckKind, type Reading } from './kind';

export interface CommandCheck extends CheckBase {
  kind: 'command';
  run: string;
  workingDirectory?: string;
  junit?: string;
  timeoutSeconds: number;
  env: Record<string, string>;
}

export const COMMAND_KEYS = ['run', 'workingDirectory', 'junit', 'timeout', 'env'] as const;
const DEFAULT_TIMEOUT_SECONDS = 300;
const KILL_GRACE_MS = 2000;

export function parseCommand(r: Reader, base: CheckBase, body: YamlNode | null): CommandCheck {
  const what = `check '${base.name}': command`;
  const c = r.map(body, what, COMMAND_KEYS);
  if (!c.has('run')) r.fail(body, `${what} needs 'run', the command line to run.`);
  return {
    ...base, kind: 'command',
    run: r.string(c.get('run')!.node, `${what} run`),
    workingDirectory: c.has('workingDirectory') ? r.string(c.get('workingDirectory')!.node, `${what} workingDirectory`) : undefined,
    junit: c.has('junit') ? r.string(c.get('junit')!.node, `${what} junit`) : undefined,
    timeoutSeconds: c.has('timeout') ? r.seconds(c.get('timeout')!.node, `${what} timeout`, 0.001) : DEFAULT_TIMEOUT_SECONDS,
    env: c.has('env') ? r.stringMap(c.get('env')!.node, `${what} env`) : {},
  };
}

/** Process groups of the commands running now, so a cancelled job can stop them. */
const running = new Set<number>();

/** Stops every command still running (the job was cancelled): their whole process groups. */
export function stopRunningCommands(): void {
  for (const pid of running) {
    try {
      process.kill(process.platform === 'win32' ? pid : -pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  running.clear();
}

/** Runs the command; its exit code is the result, a non-zero exit or a failed JUnit test an unmet expectation. */
export async function measureCommand(check: CommandCheck, ctx: CheckContext): Promise<Reading> {
  const started = process.hrtime.bigint();
  const startedAt = Date.now();
  const cwd = path.resolve(ctx.workingDirectory, check.workingDirectory ?? '.');
  if (!fs.existsSync(cwd)) return { kind: 'error', message: `the working directory ${cwd} does not exist`, durationMs: 0, fatal: true };
  const windows = process.platform === 'win32';
  const child = spawn(windows ? 'cmd.exe' : 'bash', windows ? ['/d', '/s', '/c', check.run] : ['-c', check.run], {
    cwd, env: { ...process.env, ...check.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: !windows, windowsHide: true,
  });
  if (child.pid) running.add(child.pid);
  let output = '';
  const keep = (d: Buffer) => { output = (output + d.toString('utf8')).slice(-4000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let stopped: 'timeout' | 'gate' | undefined;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (windows) child.kill(signal);
      else if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // Already gone.
    }
  };
  const stop = (why: 'timeout' | 'gate') => {
    if (stopped) return;
    stopped = why;
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS).unref();
  };
  const timer = setTimeout(() => stop('timeout'), check.timeoutSeconds * 1000);
  const onAbort = () => stop('gate');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  ctx.signal.removeEventListener('abort', onAbort);
  if (child.pid) running.delete(child.pid);
  // A test runner may leave children behind; they belong to this check.
  if (!stopped) killGroup('SIGKILL');
  const durationMs = elapsed(started);
  const tail = output.trim().split('\n').slice(-5).join(' | ').slice(-500);
  const error = (message: string, shown?: string): Reading => ({ kind: 'error', message, shown, durationMs });
  if (exit.error) return error(`cannot start the shell: ${exit.error.message}`);
  if (stopped === 'timeout') return error(`the command did not finish within ${check.timeoutSeconds} s and was stopped${tail ? `; last output: ${tail}` : ''}`, 'timed out');
  if (stopped === 'gate') return error('stopped: the gate timed out', 'stopped');
  if (exit.code === 127 || exit.code === 126) {
    return error(`the command could not be run (exit ${exit.code}${exit.code === 127 ? ', command not found' : ', not executable'})${tail ? `: ${tail}` : ''}`, `exit ${exit.code}`);
  }
  if (exit.code === null) return error(`the command was killed by ${exit.signal}`, `signal ${exit.signal}`);

  let testCases: TestCase[] | undefined;
  let junitNote = '';
  if (check.junit) {
    const files = findFiles(check.junit, cwd).filter((f) => fs.statSync(f).mtimeMs >= startedAt - 5);
    testCases = files.flatMap((f) => {
      try {
        return readJUnit(fs.readFileSync(f, 'utf8'));
      } catch {
        return [];
      }
    });
    if (files.length === 0) junitNote = `; no JUnit file matching ${check.junit} was written`;
  }
  const failedCases = (testCases ?? []).filter((t) => t.outcome === 'failed' || t.outcome === 'error');
  const skippedCount = (testCases ?? []).filter((t) => t.outcome === 'skipped').length;
  const counts = testCases?.length
    ? ` (${testCases.length - failedCases.length - skippedCount} of ${testCases.length} tests passed${skippedCount ? `, ${skippedCount} skipped` : ''})`
    : '';
  let unmet: string | undefined;
  if (exit.code !== 0 || failedCases.length) {
    const named = failedCases.slice(0, 5).map((t) => `${t.classname ? `${t.classname}.` : ''}${t.name}${t.message ? ` (${t.message})` : ''}`);
    unmet = failedCases.length
      ? `${failedCases.length} test${failedCases.length > 1 ? 's' : ''} failed: ${named.join(', ')}${failedCases.length > 5 ? ', …' : ''}`
      : `the command exited with ${exit.code}${tail ? `: ${tail}` : ''}${junitNote}`;
  }
  return { kind: 'value', value: exit.code, shown: `exit ${exit.code}${counts}`, unmet, note: `exit 0${counts}${junitNote}`, durationMs, testCases };
}

export const commandCheck: CheckKind<CommandCheck> = { keys: COMMAND_KEYS, checkKeys: [], parse: parseCommand, measure: measureCommand };
