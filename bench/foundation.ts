// Start-up time of each bundled task against `node -e 0`, measured alternately in one run, and the size of the
// .vsix. Three figures per task, all run as the agent runs it:
//   - a valid run, up to its first network request: the inputs of a real pipeline (an AzureRM service connection
//     where the task takes one), with every service at a loopback port that records when the task first connects.
//     This is what a user waits for before the task does anything: the entry, the inputs and run.js with the SDKs
//     it loads before that request. Measured twice:
//       cold: the task's folder as the agent unpacks it, with no code cache (a hosted agent's every job);
//       warm: the folder after one run has written its code cache (a self-hosted agent's next jobs).
//     startupVsNode is the slowest task's cold figure, startupVsNodeWarm its warm one.
//   - a run without inputs, which reads its inputs, fails and exits (the entry alone), cold.
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { agentEnvironment, type RunOptions } from '../test/helpers/agent';
import { COMPILE_CACHE_FOLDER, SAVE_AFTER_MS } from '../tasks/common/compileCache';
import { ROOT, median, report, round } from './lib/report';

const TASKS = ['promote-image', 'deploy-to-aks', 'acceptance-gate', 'defender-scan-check'] as const;
const RUNS = 15;

function timeOnce(args: string[]): number {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-agent-'));
  const started = process.hrtime.bigint();
  spawnSync(process.execPath, args, { env: { PATH: process.env.PATH, AGENT_TEMPDIRECTORY: tmp }, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  fs.rmSync(tmp, { recursive: true, force: true });
  return ms;
}

/** A valid set of inputs for each task whose first request goes to `origin` (host:port). */
function validRun(task: (typeof TASKS)[number], host: string, dir: string): RunOptions {
  const id = randomUUID();
  const azure: RunOptions['endpoints'] = {
    [id]: {
      url: `https://${host}/`, scheme: 'ServicePrincipal',
      parameters: { tenantid: randomUUID(), serviceprincipalid: randomUUID(), authenticationType: 'spnKey', serviceprincipalkey: 'bench-secret-value' },
      data: { subscriptionId: randomUUID(), environment: 'AzureCloud', scopeLevel: 'Subscription', activeDirectoryAuthority: `https://${host}/` },
    },
  };
  const manifests = path.join(dir, 'web.yaml');
  fs.writeFileSync(manifests, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: web }\ndata: { a: "1" }\n');
  switch (task) {
    case 'promote-image':
      return { endpoints: azure, inputs: { azureSubscription: id, sourceImage: `${host}/shop/web:1.0`, targetRegistry: host, method: 'auto' } };
    case 'deploy-to-aks':
      return { endpoints: azure, inputs: { azureSubscription: id, connectionType: 'azureResourceManager', resourceGroup: 'rg', kubernetesCluster: 'aks', manifests, namespace: 'shop' } };
    case 'acceptance-gate':
      return { inputs: { gate: `checks:\n  - name: health\n    http: { url: "http://${host}/healthz" }\n` } };
    case 'defender-scan-check':
      return { endpoints: azure, inputs: { azureSubscription: id, image: `${host}/shop/web:1.0`, waitForScan: 0 } };
  }
}

const withoutCache = (taskDir: string) => fs.rmSync(path.join(taskDir, COMPILE_CACHE_FOLDER), { recursive: true, force: true });

/**
 * Milliseconds from spawning the task in `taskDir` to its first connection to the listener; the task is stopped
 * then, or `keepMs` later.
 */
async function timeToFirstRequest(task: (typeof TASKS)[number], taskDir: string, keepMs = 0): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-valid-'));
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  try {
    const env = agentEnvironment(validRun(task, host, dir), dir);
    return await new Promise<number>((resolve, reject) => {
      const started = process.hrtime.bigint();
      const child = spawn(process.execPath, [path.join(taskDir, 'index.js')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
      server.once('connection', (socket) => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        socket.destroy();
        child.removeAllListeners('exit');
        setTimeout(() => {
          child.kill('SIGKILL');
          resolve(ms);
        }, keepMs);
      });
      child.once('exit', () => reject(new Error(`${task} exited before any request:\n${output.slice(-2000)}`)));
    });
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A copy of each task's folder whose code cache one valid run, kept going until the cache is written, has filled. */
async function warmCopies(): Promise<Record<string, string>> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-warm-'));
  const dirs: Record<string, string> = {};
  for (const task of TASKS) {
    dirs[task] = path.join(root, task);
    fs.cpSync(path.join(ROOT, 'build/tasks', task), dirs[task], { recursive: true });
    withoutCache(dirs[task]);
    await timeToFirstRequest(task, dirs[task], SAVE_AFTER_MS + 500);
    if (!fs.existsSync(path.join(dirs[task], COMPILE_CACHE_FOLDER))) throw new Error(`${task} wrote no code cache`);
  }
  return dirs;
}

async function main(): Promise<void> {
  const warm = await warmCopies();
  const baseline: number[] = [];
  const kinds = ['cold', 'warm', 'noInputs'] as const;
  const times = Object.fromEntries(kinds.map((k) => [k, Object.fromEntries(TASKS.map((t) => [t, [] as number[]]))])) as Record<(typeof kinds)[number], Record<string, number[]>>;
  for (let i = 0; i < RUNS; i++) {
    baseline.push(timeOnce(['-e', '0']));
    for (const task of TASKS) {
      const taskDir = path.join(ROOT, 'build/tasks', task);
      withoutCache(taskDir);
      times.noInputs[task].push(timeOnce([path.join(taskDir, 'index.js')]));
      withoutCache(taskDir);
      times.cold[task].push(await timeToFirstRequest(task, taskDir));
      times.warm[task].push(await timeToFirstRequest(task, warm[task]));
    }
  }
  fs.rmSync(path.dirname(Object.values(warm)[0]), { recursive: true, force: true });
  const nodeMs = median(baseline);
  console.log(`node -e 0                    ${nodeMs.toFixed(1)} ms (median of ${RUNS})`);
  console.log(`${''.padEnd(28)} ${'valid run, to its first request: cold'.padEnd(40)} ${'warm'.padEnd(20)} without inputs`);
  const figures: Record<string, number> = {};
  const worst = { cold: 0, warm: 0 };
  const cell = (ms: number) => `${ms.toFixed(1)} ms  ${(ms / nodeMs).toFixed(2)}x`;
  for (const task of TASKS) {
    const [cold, hot, bare] = [median(times.cold[task]), median(times.warm[task]), median(times.noInputs[task])];
    worst.cold = Math.max(worst.cold, cold);
    worst.warm = Math.max(worst.warm, hot);
    figures[`${task}.validStartupVsNode`] = round(cold / nodeMs);
    figures[`${task}.validWarmStartupVsNode`] = round(hot / nodeMs);
    figures[`${task}.noInputsStartupVsNode`] = round(bare / nodeMs);
    console.log(`${task.padEnd(28)} ${cell(cold).padEnd(40)} ${cell(hot).padEnd(20)} ${cell(bare)}`);
  }
  const vsix = fs.readdirSync(path.join(ROOT, 'build')).find((f) => f.endsWith('.vsix'));
  const vsixMB = fs.statSync(path.join(ROOT, 'build', vsix!)).size / (1024 * 1024);
  report('foundation', { startupVsNode: round(worst.cold / nodeMs), startupVsNodeWarm: round(worst.warm / nodeMs), ...figures, nodeMs: round(nodeMs, 1), vsixMB: round(vsixMB, 3) },
    { startupVsNode: 'under 3 (slowest task, valid run to its first request, no code cache)', vsixMB: 'under 3' });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
