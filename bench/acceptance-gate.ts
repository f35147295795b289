// Acceptance gate: its own cost per evaluation with 50 concurrent HTTP checks against the local sample app
// (evaluation time beyond its slowest check), and the delay from the app becoming healthy to the built task's
// success with interval 1 and requiredSuccesses 1, run as the agent runs it.
import { parseGate } from '../tasks/acceptance-gate/config';
import { measureHttp } from '../tasks/acceptance-gate/checks/http';
import { runGate } from '../tasks/acceptance-gate/gate';
import { assess } from '../tasks/acceptance-gate/judge';
import type { HttpCheck } from '../tasks/acceptance-gate/config';
import { silentLog } from '../tasks/common/log';
import { runTask } from '../test/helpers/agent';
import { median, report, round } from './lib/report';
import { runBenchmark } from './lib/run';

const CHECKS = 50;
const EVALUATIONS = 40;
const HEALTHY_RUNS = 5;

runBenchmark(async (env) => {
  const app = env.monitoring.app;
  const checks = Array.from({ length: CHECKS }, (_, i) => `  - name: health ${i}\n    http: { url: ${env.info.app}/healthz, timeout: 5 }\n    expect: { status: [200], json: { path: $.status, equals: healthy } }`).join('\n');
  const { config } = parseGate(`interval: 0\nrequiredSuccesses: ${EVALUATIONS}\nchecks:\n${checks}\n`, 'bench');
  const verdict = await runGate(config, async (check, signal) => assess(check, await measureHttp(check as HttpCheck, { signal, workingDirectory: process.cwd() })), silentLog);
  if (verdict.result !== 'Succeeded') throw new Error(`the gate did not succeed: ${verdict.reason}`);
  // The first evaluations open the connections; the steady state is what a long gate pays.
  const overhead = median(verdict.overheadMs.slice(5));
  const evalMs = median(verdict.evaluations.slice(5).map((e) => e.durationMs));
  console.log(`${CHECKS} HTTP checks per evaluation: evaluation ${evalMs.toFixed(1)} ms (median), own overhead ${overhead.toFixed(2)} ms beyond the slowest check`);

  const delays: number[] = [];
  for (let i = 0; i < HEALTHY_RUNS; i++) {
    app.reset();
    app.set({ healthy: false });
    const gate = `interval: 1\nrequiredSuccesses: 1\nfailureLimit: 100\ntimeout: 30\nchecks:\n  - name: health\n    http: { url: ${env.info.app}/healthz, timeout: 2 }\n    expect: { status: [200] }\n`;
    const started = Date.now();
    let healthyAt = 0;
    // Become healthy at a different phase of the 1 s interval each time.
    const timer = setTimeout(() => { healthyAt = Date.now(); app.set({ healthy: true }); }, 1500 + (i * 1000) / HEALTHY_RUNS);
    const run = await runTask('acceptance-gate', { inputs: { gate }, timeoutMs: 40_000 });
    clearTimeout(timer);
    if (run.result?.status !== 'Succeeded' || !healthyAt) throw new Error(`run ${i}: ${run.result?.status} ${run.result?.message}`);
    delays.push((started + run.durationMs - healthyAt) / 1000);
  }
  app.reset();
  console.log(`healthy -> success (s): ${delays.map((d) => d.toFixed(2)).join(', ')} (the worst is reported)`);
  report('acceptance-gate', {
    overheadPerEvaluationMs: round(overhead, 2),
    healthyToSuccessSeconds: round(Math.max(...delays), 2),
  }, {
    overheadPerEvaluationMs: 'under 20 ms beyond the checks\' own latency (50 HTTP checks, concurrent)',
    healthyToSuccessSeconds: 'under 1.5 s (interval 1, requiredSuccesses 1; anchor: an ADO gate samples every 5 min at best)',
  });
});
