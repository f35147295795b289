// Start-up time of each bundled task (run as the agent runs it, with no inputs, so it reads its inputs, fails and
// exits) against `node -e 0`, measured alternately in one run; and the size of the .vsix. For the record it also
// prints what a valid run pays on top: loading run.js, the bundle with the SDKs that is required after the inputs.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, median, report, round } from './lib/report';

const TASKS = ['promote-image', 'deploy-to-aks', 'acceptance-gate', 'defender-scan-check'];
const RUNS = 15;

function timeOnce(args: string[]): number {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-agent-'));
  const started = process.hrtime.bigint();
  spawnSync(process.execPath, args, { env: { PATH: process.env.PATH, AGENT_TEMPDIRECTORY: tmp }, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  fs.rmSync(tmp, { recursive: true, force: true });
  return ms;
}

const baseline: number[] = [];
const perTask: Record<string, number[]> = Object.fromEntries(TASKS.map((t) => [t, []]));
const loadWork: Record<string, number[]> = Object.fromEntries(TASKS.map((t) => [t, []]));
for (let i = 0; i < RUNS; i++) {
  baseline.push(timeOnce(['-e', '0']));
  for (const task of TASKS) {
    perTask[task].push(timeOnce([path.join(ROOT, 'build/tasks', task, 'index.js')]));
    loadWork[task].push(timeOnce(['-e', `require(${JSON.stringify(path.join(ROOT, 'build/tasks', task, 'run.js'))})`]));
  }
}
const nodeMs = median(baseline);
console.log(`node -e 0                    ${nodeMs.toFixed(1)} ms (median of ${RUNS})`);
let worst = 0;
for (const task of TASKS) {
  const ms = median(perTask[task]);
  worst = Math.max(worst, ms);
  const load = median(loadWork[task]) - nodeMs;
  console.log(`${task.padEnd(28)} ${ms.toFixed(1)} ms  ${(ms / nodeMs).toFixed(2)}x   (a valid run then loads run.js: +${load.toFixed(0)} ms)`);
}
const vsix = fs.readdirSync(path.join(ROOT, 'build')).find((f) => f.endsWith('.vsix'));
const vsixMB = fs.statSync(path.join(ROOT, 'build', vsix!)).size / (1024 * 1024);
report('foundation', { startupVsNode: round(worst / nodeMs), vsixMB: round(vsixMB, 3) }, { startupVsNode: 'under 3 (slowest task)', vsixMB: 'under 3' });
