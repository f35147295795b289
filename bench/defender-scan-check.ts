// DefenderScanCheck@1 on a digest with 20,000 findings over 20 pages of Resource Graph: the task's time beyond the
// emulator's own answer time, and its peak memory (max RSS of the task process), run as the agent runs it; beside
// them, the same time for a digest with one finding, which is what any run costs (start-up, token, registry).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTask } from '../test/helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../test/helpers/connections';
import { OciLayout, skopeoDigest, skopeoPush, skopeoTarget } from '../test/helpers/images';
import { assessmentRecord, manyPackages, writeFindings } from '../test/data/defender/fixtures';
import { median, report, round } from './lib/report';
import { runBenchmark } from './lib/run';

const FINDINGS = Number(process.env.BENCH_FINDINGS ?? 20_000);
const RUNS = 3;

runBenchmark(async (env) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-defender-'));
  try {
    const n = env.registries.nonprod;
    const target = skopeoTarget(env, n, path.join(tmp, 'certs'));
    const layout = new OciLayout(path.join(tmp, 'layout'));
    layout.tag(layout.image([1024]), 'app');
    await skopeoPush(layout, 'app', target, 'bench/app', '1.0.0');
    const digest = await skopeoDigest(target, 'bench/app:1.0.0');
    // For scale: the same task on a digest with one finding (start-up, token, registry and one page).
    layout.tag(layout.image([1024]), 'small');
    await skopeoPush(layout, 'small', target, 'bench/app', 'small');
    const small = await skopeoDigest(target, 'bench/app:small');
    writeFindings(env.info.defender.findingsDir, small, manyPackages(1).map((p) => assessmentRecord(small, p, { repository: 'bench/app' })));
    // 20,000 packages with one Medium or Low CVE each: every page is read and every finding passes the High policy.
    writeFindings(env.info.defender.findingsDir, digest, manyPackages(FINDINGS).map((p) => assessmentRecord(digest, p, { repository: 'bench/app' })));
    const rssFile = path.join(tmp, 'rss');
    const preload = path.join(tmp, 'rss.cjs');
    // VmHWM, not resourceUsage().maxRSS: on Linux maxRSS also holds the image fork copied from this (large) process.
    fs.writeFileSync(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(rssFile)}, /VmHWM:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]));\n`);

    const smallRuns: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      env.clearFaults();
      const { id, options } = azureRmConnection(env, 'secret');
      const run = await runTask('defender-scan-check', mergeRunOptions(options, { inputs: { azureSubscription: id, image: `${target.loginServer}/bench/app:small`, waitForScan: 0 } }));
      if (run.result?.status !== 'Succeeded') throw new Error(`unexpected run: ${run.result?.message}`);
      smallRuns.push(run.durationMs - env.resourceGraph.stats.answerMs);
    }

    const beyond: number[] = [];
    const answer: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      env.clearFaults();
      env.resourceGraph.quota = { limit: 1000, windowMs: 1000 };
      const { id, options } = azureRmConnection(env, 'secret');
      const run = await runTask('defender-scan-check', mergeRunOptions(options, {
        inputs: { azureSubscription: id, image: `${target.loginServer}/bench/app:1.0.0`, waitForScan: 0 },
        env: { NODE_OPTIONS: `--require ${preload}` },
        timeoutMs: 120_000,
      }));
      const counted = Number(run.outputs.mediumCount) + Number(run.outputs.lowCount);
      if (run.result?.status !== 'Succeeded' || counted !== FINDINGS || env.resourceGraph.stats.answered !== Math.max(1, Math.ceil(FINDINGS / 1000))) {
        throw new Error(`unexpected run: ${run.result?.status} ${run.result?.message}; ${counted} findings; ${env.resourceGraph.stats.answered} pages\n${run.stderr}`);
      }
      answer.push(env.resourceGraph.stats.answerMs);
      beyond.push(run.durationMs - env.resourceGraph.stats.answerMs);
      rss.push(Number(fs.readFileSync(rssFile, 'utf8')) / 1024);
      console.log(`run ${i + 1}: ${run.durationMs} ms in all, ${Math.round(env.resourceGraph.stats.answerMs)} ms answering 20 pages, ${Math.round(rss[i])} MB peak RSS`);
    }
    report('defender-scan-check', {
      seconds20kFindings: round(median(beyond) / 1000),
      peakRssMB: Math.round(Math.max(...rss)),
      emulatorAnswerSeconds: round(median(answer) / 1000),
      secondsOneFinding: round(median(smallRuns) / 1000),
    }, { seconds20kFindings: 'under 2 (beyond the emulator\'s answer time)', peakRssMB: 'under 200' });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
