// The main job: starts the local environment and runs the whole delivery flow against it, printing each step.
//   demo.ts                        the happy path: every step succeeds
//   demo.ts --list                 the scenarios, one line each
//   demo.ts --gitops               the happy path, staging and production delivered by GitOps through Flux
//   demo.ts --strategy canary      the happy path with a canary on production, judged against its baseline, promoted
//   demo.ts --scenario <name|all>  the flow with one thing wrong, stopped by the step whose job that is
// Each run writes what it saw (every step's result and uploaded summary) to build/demo/<name>.json, which
// `npm run pictures` renders.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startEnvironment, type Environment } from '../env';
import { ROOT } from '../helpers/agent';
import { ensureStableRelease, runDeliveryFlow, type FlowOptions, type FlowStep } from './flow';
import { EXIT, SCENARIOS, closingLines, findScenario, productionChanges, runScenario, waitsForInput, type Scenario, type ScenarioReport } from './scenarios';

const OUT = path.join(ROOT, 'build/demo');

/** What a run leaves for the pictures: each step as the pipeline shows it. */
function writeRecord(name: string, record: Record<string, unknown>, steps: FlowStep[]): void {
  fs.mkdirSync(OUT, { recursive: true });
  const shown = steps.map((s) => ({
    name: s.name, task: s.task, status: s.run.result?.status, message: s.run.result?.message, durationMs: s.run.durationMs,
    summary: s.run.summaries[0]?.content ?? '', summaryFile: s.run.summaries[0] ? path.basename(s.run.summaries[0].path) : undefined,
  }));
  fs.writeFileSync(path.join(OUT, `${name}.json`), `${JSON.stringify({ ...record, steps: shown }, null, 2)}\n`);
}

async function withEnvironment<T>(work: (env: Environment) => Promise<T>): Promise<T> {
  const started = Date.now();
  console.log('starting the local environment (CA, Entra ID, Azure DevOps, ARM, registries, AKS clusters, Prometheus)…');
  const env = await startEnvironment();
  console.log(`environment ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  try {
    return await work(env);
  } finally {
    await env.stop();
  }
}

async function happyPath(options: FlowOptions, record: string): Promise<number> {
  return withEnvironment(async (env) => {
    const dir = path.join(env.dir, 'demo');
    try {
      const log = (line: string) => console.log(line);
      const first = Date.now();
      const stable = options.strategy === 'canary' ? await ensureStableRelease(env, path.join(dir, 'stable'), log) : undefined;
      if (stable) log(`production's first release took ${((Date.now() - first) / 1000).toFixed(1)} s; now the build, with a canary on production\n`);
      const started = Date.now();
      const result = await runDeliveryFlow(env, dir, log, options);
      const same = result.productionDigest === result.builtDigest;
      writeRecord(record, { builtDigest: result.builtDigest, productionDigest: result.productionDigest }, result.steps);
      console.log(`\n${same ? 'delivered' : 'MISMATCH:'} ${result.builtDigest} from the non-production registry to production in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      for (const step of result.steps) {
        const summary = step.run.summaries[0]?.content;
        if (summary) console.log(`\n---- ${step.name}: summary\n${summary.trim()}`);
      }
      return same ? EXIT.delivered : EXIT.unexpected;
    } catch (err) {
      console.error(`\nthe flow stopped: ${(err as Error).message}`);
      return EXIT.unexpected;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

async function scenario(s: Scenario): Promise<ScenarioReport> {
  return withEnvironment(async (env) => {
    const report = await runScenario(env, s, path.join(env.dir, 'demo'), (line) => console.log(line));
    writeRecord(s.name, {
      scenario: s.name, description: s.description, stoppedAt: report.stoppedAt, reason: report.reason, before: report.before, after: report.after,
      promoted: report.promoted, changes: productionChanges(report.before, report.after, report.promoted), asExpected: report.asExpected, wallMs: report.wallMs,
    }, report.steps);
    if (report.summary) console.log(`\n---- ${report.stoppedAt}: summary\n${report.summary.trim()}`);
    console.log(`\n${closingLines(report).join('\n')}`);
    return report;
  });
}

function list(): number {
  const width = Math.max(...SCENARIOS.map((s) => s.name.length));
  for (const s of SCENARIOS) console.log(`${s.name.padEnd(width)}  ${s.description}${s.waitsFor ? ` (waits for ${s.waitsFor})` : ''}`);
  return EXIT.delivered;
}

async function scenarios(names: string[]): Promise<number> {
  const reports: ScenarioReport[] = [];
  for (const name of names) {
    const s = findScenario(name)!;
    console.log(`\n==== scenario ${s.name}`);
    if (s.waitsFor) {
      console.log(`not runnable yet: it waits for ${s.waitsFor}`);
      continue;
    }
    reports.push(await scenario(s));
  }
  if (names.length > 1) {
    console.log('\n==== scenarios');
    for (const r of reports) console.log(`${r.scenario.padEnd(20)} ${(r.stoppedAt ?? 'not stopped').padEnd(22)} ${r.asExpected ? 'as expected' : 'NOT as expected'}  ${(r.wallMs / 1000).toFixed(1).padStart(5)} s`);
  }
  const ran = reports.length === names.length;
  return ran && reports.every((r) => r.asExpected) ? EXIT.stoppedAsExpected : EXIT.unexpected;
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--list')) return list();
  const i = args.indexOf('--scenario');
  if (i >= 0) {
    const name = args[i + 1];
    if (name === 'all') return scenarios(SCENARIOS.filter((s) => !s.waitsFor).map((s) => s.name));
    if (!name || !findScenario(name)) {
      console.error(`--scenario needs one of: ${SCENARIOS.map((s) => s.name).join(', ')}, or all`);
      return EXIT.unexpected;
    }
    return scenarios([name]);
  }
  const s = args.indexOf('--strategy');
  if (s >= 0) {
    const strategy = args[s + 1];
    if (args.includes('--gitops')) {
      console.error('--gitops delivers through Flux, which rolls the Deployments itself: use --gitops or --strategy, not both');
      return EXIT.unexpected;
    }
    if (strategy === 'rolling') return happyPath({}, 'happy-path');
    if (strategy === 'canary') return happyPath({ strategy: 'canary' }, 'happy-path-canary');
    console.error(strategy === 'blueGreen'
      ? '--strategy blueGreen is not in the demo: blue-green has no canary to compare, so its gate would repeat the staging gate on the preview Service. '
        + 'test/tasks/deploy-to-aks-strategies.test.ts runs it on real pods, and docs/deploy-to-aks.md#canary-and-blue-green shows its pipeline. Use --strategy canary or rolling.'
      : `--strategy needs rolling or canary, not '${strategy ?? ''}'`);
    return EXIT.unexpected;
  }
  const unknown = args.filter((a) => a.startsWith('-') && a !== '--gitops');
  if (unknown.length) {
    console.error(`unknown option ${unknown.join(' ')}: use --list, --gitops, --strategy <name> or --scenario <name>`);
    return EXIT.unexpected;
  }
  if (!args.includes('--gitops')) return happyPath({}, 'happy-path');
  const waits = waitsForInput('deploy-to-aks', 'deliveryMode', 'GitOps delivery (deploy-to-aks deliveryMode gitops)');
  if (waits) {
    console.error(`--gitops waits for ${waits}`);
    return EXIT.unexpected;
  }
  return happyPath({ delivery: 'gitops' }, 'happy-path-gitops');
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  console.error(err);
  process.exit(EXIT.unexpected);
});
