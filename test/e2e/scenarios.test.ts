import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startEnvironment, type Environment } from '../env';
import { ROOT } from '../helpers/agent';
import { deployedImage, runDeliveryFlow, type FlowResult } from './flow';
import { EXIT, SCENARIOS, productionChanges, runScenario, waitsForInput, type ScenarioReport } from './scenarios';

const run = promisify(execFile);
/** Scenarios that run in-process, each in its own environment; the demo's command line runs one more. */
const IN_PROCESS = SCENARIOS.filter((s) => !s.waitsFor && s.name !== 'vulnerable-image');
/** The scenarios mostly wait (rollouts, gate intervals), so a few share two cores well. */

interface Outcome {
  report?: ScenarioReport;
  /** What stopped the scenario's run itself (its previous release not delivered, an environment that failed). */
  error?: Error;
  /** The scenario's environment, kept until the assertions have looked at its clusters. */
  env: Environment;
}

async function inParallel<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

describe('the demo: each scenario is stopped by the step whose job that is, and production is left as it was', function () {
  this.timeout(1_800_000);
  const outcomes = new Map<string, Outcome>();
  let cli: { code: number; stdout: string };
  const gitopsWaits = waitsForInput('deploy-to-aks', 'deliveryMode', 'GitOps delivery');
  let gitops: { flow?: FlowResult; error?: Error; env: Environment } | undefined;
  const reportOf = (name: string): ScenarioReport => {
    const outcome = outcomes.get(name)!;
    if (outcome.error) throw outcome.error;
    return outcome.report!;
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-scenarios-'));

  before(async () => {
    const demo = run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/e2e/demo.ts'), '--scenario', 'vulnerable-image'], { cwd: ROOT, maxBuffer: 32 << 20 })
      .then(({ stdout }) => ({ code: 0, stdout }), (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }));
    // Each run keeps its own failure, so that one broken scenario fails its own test and not all of them.
    const happyGitops = async () => {
      const env = await startEnvironment();
      gitops = { env };
      gitops.flow = await runDeliveryFlow(env, path.join(dir, 'gitops'), () => undefined, { delivery: 'gitops' }).catch((err: Error) => { gitops!.error = err; return undefined; });
      await env.flux.stop();
    };
    const work = [...IN_PROCESS.map((s) => async () => {
      const env = await startEnvironment();
      const report = await runScenario(env, s, path.join(dir, s.name)).catch((err: Error) => err);
      // The environment stays for the assertions below, which read its clusters, not Flux: its fetches (two a
      // second) would only take the cores from the scenarios that follow.
      await env.flux.stop();
      outcomes.set(s.name, report instanceof Error ? { env, error: report } : { env, report });
    }), ...(gitopsWaits ? [] : [happyGitops])];
    // One at a time: two environments at once on two cores push the health latency of the gate past its bound.
    await inParallel(work, 1, (run) => run());
    cli = await demo;
  });
  after(async () => {
    await Promise.all([...outcomes.values(), ...(gitops ? [gitops] : [])].map((o) => o.env.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the happy path by GitOps (--gitops): staging by a direct commit, production by a pull request, each applied by Flux', function () {
    if (gitopsWaits) this.skip();
    if (gitops!.error) throw gitops!.error;
    const { flow: done, env } = gitops!;
    const flow = done!;
    assert.deepEqual(flow.steps.map((s) => s.run.result?.status), ['Succeeded', 'Succeeded', 'Succeeded', 'Succeeded', 'Succeeded']);
    const [, staging, , , production] = flow.steps.map((s) => s.run);
    assert.match(staging.outputs.gitCommit, /^[0-9a-f]{40}$/);
    assert.match(production.outputs.pullRequestId, /^\d+$/, 'production went through a pull request');
    assert.equal(flow.productionDigest, flow.builtDigest);
    assert.equal(deployedImage(env, 'production')?.split('@')[1], flow.builtDigest, "Flux deployed the promoted digest");
  });

  it('lists every scenario with one line each, naming those that wait for a piece of the environment', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/e2e/demo.ts'), '--list'], { cwd: ROOT });
    const lines = stdout.trim().split('\n');
    assert.deepEqual(lines.map((l) => l.split(/\s+/)[0]), SCENARIOS.map((s) => s.name));
    for (const s of SCENARIOS) assert.equal(lines.some((l) => l.startsWith(s.name) && l.includes('waits for')), !!s.waitsFor, s.name);
  });

  it('vulnerable-image, from the command line: the Defender gate fails naming the CVE, nothing is deployed, exit code 3', () => {
    assert.equal(cli.code, EXIT.stoppedAsExpected, cli.stdout.slice(-3000));
    assert.match(cli.stdout, /stopped by: Defender scan check \(Failed\)/);
    assert.match(cli.stdout, /reason: .*CVE-2024-6119/);
    assert.match(cli.stdout, /production: .*\(unchanged\)/);
    const record = JSON.parse(fs.readFileSync(path.join(ROOT, 'build/demo/vulnerable-image.json'), 'utf8')) as { steps: { name: string; summary: string }[] };
    assert.deepEqual(record.steps.map((s) => s.name), ['Defender scan check'], 'no step after the gate ran');
    assert.match(record.steps[0].summary, /CVE-2024-6119/, 'the uploaded summary names the finding');
  });

  for (const s of IN_PROCESS) {
    it(`${s.name}: stopped at '${s.stopsAt}' with its reason, production unchanged`, () => {
      const report = reportOf(s.name);
      assert.ok(report.asExpected, `${report.problems.join('; ')}: ${report.reason}`);
      assert.equal(report.status, 'Failed');
      assert.deepEqual(productionChanges(report.before, report.after, report.promoted), []);
      assert.ok(report.before.deployedImage, 'production held the previous release all along');
      assert.ok(report.before.stablePods.length >= 2, 'on its pods');
    });
  }

  it('crashing-image: deploy-to-aks fails within seconds with the exit code, and staging runs the previous release again', () => {
    const report = reportOf('crashing-image');
    const { env } = outcomes.get('crashing-image')!;
    const staging = report.steps.find((st) => st.name === 'Deploy to staging')!;
    assert.ok(staging.run.durationMs < 30_000, `failed after ${staging.run.durationMs} ms, well before the 600 s progress deadline`);
    assert.match(report.reason!, /exit code 3/);
    assert.match(report.reason!, /Rolled back Deployment shop\/web/);
    assert.equal(deployedImage(env, 'staging')?.split('@')[1], report.before.tags['1.4.1'], 'staging is back on the previous digest');
  });

  it('tag-conflict: promote-image refuses and no production deployment runs', () => {
    const report = reportOf('tag-conflict');
    assert.deepEqual(report.steps.map((st) => st.name).slice(-2), ['Acceptance gate', 'Promote image']);
    assert.match(report.reason!, /Nothing was changed/);
    assert.match(report.summary ?? '', /\*\*Refused\*\*[\s\S]*Tag `1\.4\.1` \| already points at `sha256:/, 'the summary tab says what was refused');
  });

  it('canary-regression: the previous release went through the canary happy path (judged, promoted); the slower canary is rejected, stable untouched', () => {
    const report = reportOf('canary-regression');
    const { env } = outcomes.get('canary-regression')!;
    // The happy path's canary: production's first release rolled out, then the previous release as a promoted canary.
    const happy = report.previous[report.previous.length - 1];
    assert.deepEqual(happy.steps.slice(-3).map((st) => [st.name, st.run.result?.status]), [['Canary on production', 'Succeeded'], ['Canary gate', 'Succeeded'], ['Promote canary', 'Succeeded']]);
    assert.match(happy.steps[happy.steps.length - 2].run.summaries[0]?.content ?? '', /Canary against baseline[\s\S]*\| latency \|[^\n]*\| Pass \|/);
    assert.equal(happy.productionDigest, happy.builtDigest);
    assert.equal(report.before.deployedImage?.split('@')[1], happy.builtDigest, 'production ran the promoted canary');

    assert.equal(report.steps.find((st) => st.name === 'Acceptance gate')?.run.result?.status, 'Succeeded', 'the slower build passed staging');
    assert.deepEqual(report.steps.slice(-2).map((st) => [st.name, st.run.result?.status]), [['Canary gate', 'Failed'], ['Reject canary', 'Succeeded']]);
    assert.match(report.summary!, /Canary against baseline[\s\S]*\| latency \|[^\n]*\| High \|/);
    assert.deepEqual(report.after.stablePods, report.before.stablePods, 'the stable pods were never replaced');
    assert.equal(report.after.deployedImage, report.before.deployedImage);
    assert.equal(report.after.tags['1.4.2'], report.promoted?.digest, 'the registry holds the canary\'s tag at its digest');
    assert.equal(report.before.tags['1.4.2'], undefined);
    const left = env.aks.clusters.production.kube.list('apps/v1', 'Deployment', 'shop').filter((d) => !d.metadata.deletionTimestamp).map((d) => d.metadata.name as string);
    assert.deepEqual(left, ['web'], 'no canary or baseline is left');
  });
});
