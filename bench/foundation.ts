// Start-up time of each bundled task against `node -e 0`, measured alternately in one run, and the size of the
// .vsix. Two figures per task, both run as the agent runs it:
//   - a valid run, up to its first network request: the inputs of a real pipeline (an AzureRM service connection
//     where the task takes one), with every service at a loopback port that records when the task first connects.
//     This is what a user waits for before the task does anything: the entry, the inputs and run.js with the SDKs
//     it loads before that request. startupVsNode is the slowest task's figure.
//   - a run without inputs, which reads its inputs, fails and exits (the entry alone).
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { agentEnvironment, type RunOptions } from '../test/helpers/agent';
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

/** Milliseconds from spawning the task to its first connection to the listener; the task is then stopped. */
async function timeToFirstRequest(task: (typeof TASKS)[number]): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-valid-'));
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  try {
    const env = agentEnvironment(validRun(task, host, dir), dir);
    return await new Promise<number>((resolve, reject) => {
      const started = process.hrtime.bigint();
      const child = spawn(process.execPath, [path.join(ROOT, 'build/tasks', task, 'index.js')], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
      server.once('connection', (socket) => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        socket.destroy();
        child.kill('SIGKILL');
        resolve(ms);
      });
      child.once('exit', () => reject(new Error(`${task} exited before any request:\n${output.slice(-2000)}`)));
    });
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const baseline: number[] = [];
  const noInputs: Record<string, number[]> = Object.fromEntries(TASKS.map((t) => [t, []]));
  const valid: Record<string, number[]> = Object.fromEntries(TASKS.map((t) => [t, []]));
  for (let i = 0; i < RUNS; i++) {
    baseline.push(timeOnce(['-e', '0']));
    for (const task of TASKS) {
      noInputs[task].push(timeOnce([path.join(ROOT, 'build/tasks', task, 'index.js')]));
      valid[task].push(await timeToFirstRequest(task));
    }
  }
  const nodeMs = median(baseline);
  console.log(`node -e 0                    ${nodeMs.toFixed(1)} ms (median of ${RUNS})`);
  console.log(`${''.padEnd(28)} ${'valid run, to its first request'.padEnd(34)} without inputs`);
  const figures: Record<string, number> = {};
  let worst = 0;
  for (const task of TASKS) {
    const ms = median(valid[task]);
    const bare = median(noInputs[task]);
    worst = Math.max(worst, ms);
    figures[`${task}.validStartupVsNode`] = round(ms / nodeMs);
    figures[`${task}.noInputsStartupVsNode`] = round(bare / nodeMs);
    console.log(`${task.padEnd(28)} ${`${ms.toFixed(1)} ms  ${(ms / nodeMs).toFixed(2)}x`.padEnd(34)} ${bare.toFixed(1)} ms  ${(bare / nodeMs).toFixed(2)}x`);
  }
  const vsix = fs.readdirSync(path.join(ROOT, 'build')).find((f) => f.endsWith('.vsix'));
  const vsixMB = fs.statSync(path.join(ROOT, 'build', vsix!)).size / (1024 * 1024);
  report('foundation', { startupVsNode: round(worst / nodeMs), ...figures, nodeMs: round(nodeMs, 1), vsixMB: round(vsixMB, 3) },
    { startupVsNode: 'under 3 (slowest task, valid run to its first request)', vsixMB: 'under 3' });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
