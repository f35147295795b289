import { strict as assert } from 'node:assert';
import type { Environment } from '../env';
import type { RunOptions, TaskRun } from './agent';
import { secretLeaks } from './agent';

/** The environment's squid as the agent's proxy, with its user and password (and optional bypass entries). */
export function agentProxy(env: Environment, options: { bypass?: string[]; password?: string } = {}): Pick<RunOptions, 'proxy'> {
  return { proxy: { url: env.proxy.url, username: env.proxy.username, password: options.password ?? env.proxy.password, bypass: options.bypass } };
}

/** The authorities (`host:port`) squid tunnelled to (or fetched from) since `mark`, for the proxy user. */
export async function proxiedAuthorities(env: Environment, mark: number): Promise<Set<string>> {
  // A tunnel's line is written when it closes: the task has exited, so give squid a moment to see the close.
  await new Promise((r) => setTimeout(r, 300));
  const lines = env.proxy.lines(mark);
  const denied = lines.filter((l) => l.user === env.proxy.username && !/^TCP_(TUNNEL|MISS)\/200$/.test(l.result) && !/\/2\d\d$/.test(l.result));
  assert.deepEqual(denied, [], 'squid refused nothing the task asked of it');
  return new Set(lines.filter((l) => l.user === env.proxy.username).map((l) => (l.method === 'CONNECT' ? l.target : new URL(l.target).host)));
}

/** Asserts that every given authority went through the proxy as its user, and none of `direct` did. */
export async function assertProxied(env: Environment, mark: number, through: string[], direct: string[] = []): Promise<void> {
  const seen = await proxiedAuthorities(env, mark);
  for (const a of through) assert.ok(seen.has(a), `${a} was reached through the proxy (squid saw ${[...seen].join(', ') || 'nothing'})`);
  for (const a of direct) assert.ok(!seen.has(a), `${a} was reached directly, as the bypass list says (squid saw it)`);
}

/**
 * The leaks of a proxy password: every form of it in the log, except task-lib's own debug line at import
 * (`Agent.ProxyPassword=…`, printed before any task code runs), which the agent masks itself because it handed the
 * password over as a secret variable (VstsAgentWebProxy.cs registers it with its masker; reference §3.8).
 */
function passwordLeaks(run: TaskRun, username: string, password: string): string[] {
  const basic = Buffer.from(`${username}:${password}`).toString('base64');
  return secretLeaks(run, [password, encodeURIComponent(password), basic]).filter((l) => !l.startsWith('##vso[task.debug]Agent.ProxyPassword='));
}

/** Asserts that no form of the proxy password reached the log, and that the task registered it as a secret. */
export function assertNoProxyPassword(env: Environment, run: TaskRun): void {
  assert.deepEqual(passwordLeaks(run, env.proxy.username, env.proxy.password), []);
  assert.ok(run.secrets.includes(env.proxy.password), 'the proxy password is registered as a secret');
  assert.ok(run.secrets.includes(Buffer.from(`${env.proxy.username}:${env.proxy.password}`).toString('base64')), 'and its Basic form');
}

/** Asserts that a run failed on the proxy's refusal of its credentials, naming the proxy and not the password. */
export function assertProxyRefused(env: Environment, run: TaskRun, wrongPassword: string): void {
  assert.equal(run.result?.status, 'Failed', run.result?.message);
  assert.ok(run.result!.message.includes(env.proxy.url), `the message names the proxy: ${run.result!.message}`);
  assert.match(run.result!.message, /407|proxy/i);
  assert.deepEqual(passwordLeaks(run, env.proxy.username, wrongPassword), []);
}
