// The demo's scenarios: the delivery flow with one thing wrong, each stopped by the step whose job is to stop it.
// A scenario first delivers a good previous release (so production holds something a bad build could break), then
// runs the flawed build, and reports the step that stopped it, its reason, and what production holds before and after.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Environment } from '../env';
import { ROOT } from '../helpers/agent';
import { assessmentRecord } from '../data/defender/fixtures';
import { skopeoDigest, skopeoTarget } from '../helpers/images';
import { FlowStopped, REPOSITORY, runDeliveryFlow, type FlowOptions, type FlowStep } from './flow';

export interface Scenario {
  name: string;
  /** One line for `--list`. */
  description: string;
  /** The flow step that must stop the flawed build. */
  stopsAt: string;
  /** What that step's reason must say. */
  reason: RegExp;
  /** Set while the scenario needs a piece that is not there yet: what it waits for. */
  waitsFor?: string;
  /** The flawed build. */
  build: (previousTag: string) => FlowOptions;
}

/** `what` while the task's task.json lacks the input a scenario needs, so the scenario runs as soon as it lands. */
export function waitsForInput(folder: string, input: string, what: string): string | undefined {
  const task = JSON.parse(fs.readFileSync(path.join(ROOT, 'tasks', folder, 'task.json'), 'utf8')) as { inputs: { name: string }[] };
  return task.inputs.some((i) => i.name === input) ? undefined : what;
}

/** The tag of the good release that production holds when a scenario starts. */
const PREVIOUS_TAG = '1.4.1';
const BUILD_TAG = '1.4.2';

export const SCENARIOS: Scenario[] = [
  {
    name: 'vulnerable-image',
    description: 'the build carries a Critical CVE: the Defender gate fails and names it; nothing is deployed',
    stopsAt: 'Defender scan check',
    reason: /CVE-2024-6119/,
    build: () => ({
      tag: BUILD_TAG,
      findings: (digest) => [assessmentRecord(digest, {
        name: 'openssl', installed: '3.0.13', fixedVersion: '3.0.15', severity: 'Critical',
        cves: [{ id: 'CVE-2024-6119', severity: 'Critical', cvss: 9.8, fixedVersion: '3.0.15' }],
      }, { repository: REPOSITORY })],
    }),
  },
  {
    name: 'crashing-image',
    description: 'the build exits at start: deploy-to-aks fails on staging within seconds with the exit code and rolls back',
    stopsAt: 'Deploy to staging',
    reason: /CrashLoopBackOff|exit code 3/,
    // Until the environment runs real images, the Kubernetes emulator exits a container that asks for it by its env.
    build: () => ({ tag: BUILD_TAG, appEnv: { EMULATOR_EXIT_CODE: '3' } }),
  },
  {
    name: 'error-ratio',
    description: "the build's pods answer with errors: the acceptance gate fails on the deployed pods' metrics",
    stopsAt: 'Acceptance gate',
    reason: /error ratio/,
    waitsFor: 'the real-process environment and its sample app image (pods whose error ratio comes from their environment)',
    build: () => ({ tag: BUILD_TAG, appEnv: { ERROR_RATIO: '0.3' } }),
  },
  {
    name: 'canary-regression',
    description: 'a canary slower than its baseline: the compare gate fails, the canary is rejected, stable untouched',
    stopsAt: 'Acceptance gate',
    reason: /latency|High/,
    waitsFor: 'the canary strategy of deploy-to-aks (the compare check of acceptance-gate is in)',
    build: () => ({ tag: BUILD_TAG, appEnv: { LATENCY_MS: '250' } }),
  },
  {
    name: 'tag-conflict',
    description: 'production already has the tag at another digest: promote-image refuses and changes nothing',
    stopsAt: 'Promote image',
    reason: /already points at sha256:[0-9a-f]{64}.*Nothing was changed/,
    // A rebuild pushed under the released tag: the non-production tag moves, the production one must not.
    build: (previousTag) => ({ tag: previousTag }),
  },
  {
    name: 'gitops-noncompliant',
    description: 'a GitOps delivery whose objects Flux cannot make healthy: deploy-to-aks fails with the verdict of Flux (health check failed, Non-Compliant)',
    stopsAt: 'Deploy to staging',
    reason: /HealthCheckFailed|Non-?Compliant/i,
    waitsFor: waitsForInput('deploy-to-aks', 'deliveryMode', 'GitOps delivery (deploy-to-aks deliveryMode gitops)'),
    build: () => ({ tag: BUILD_TAG, delivery: 'gitops', appEnv: { EMULATOR_EXIT_CODE: '3' } }),
  },
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** What production holds: the tags' digests in the production registry, and the image its Deployment runs. */
export interface ProductionState {
  tags: Record<string, string | undefined>;
  deployedImage: string | undefined;
}

export interface ScenarioReport {
  scenario: string;
  /** The step that stopped the flawed build (undefined: it went all the way through). */
  stoppedAt?: string;
  status?: string;
  reason?: string;
  /** The stopping step's Markdown summary, as uploaded to the pipeline. */
  summary?: string;
  before: ProductionState;
  after: ProductionState;
  /** Every step of the flawed build's run. */
  steps: FlowStep[];
  /** Stopped by the expected step, with the expected reason, and production unchanged. */
  asExpected: boolean;
  /** What went otherwise, when not as expected. */
  problems: string[];
  wallMs: number;
}

async function productionState(env: Environment, certDir: string, tags: string[]): Promise<ProductionState> {
  const target = skopeoTarget(env, env.registries.prod, certDir, 'pull');
  const state: ProductionState = { tags: {}, deployedImage: undefined };
  for (const tag of tags) state.tags[tag] = await skopeoDigest(target, `${REPOSITORY}:${tag}`).catch(() => undefined);
  state.deployedImage = deployedImage(env, 'production');
  return state;
}

/** The image of the app's Deployment in a cluster, as the API server holds it. */
export function deployedImage(env: Environment, cluster: 'staging' | 'production'): string | undefined {
  const deployment = env.aks.clusters[cluster].kube.get('apps/v1', 'Deployment', 'shop', 'web') as
    { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } } | undefined;
  return deployment?.spec?.template?.spec?.containers?.[0]?.image;
}

export function describeProduction(state: ProductionState): string {
  const tags = Object.entries(state.tags).map(([tag, digest]) => `${REPOSITORY}:${tag} ${digest ? `at ${digest}` : 'absent'}`).join(', ');
  return `registry ${tags}; Deployment shop/web runs ${state.deployedImage ?? 'nothing'}`;
}

/**
 * Runs one scenario in `env` (a fresh environment: the scenario owns its clusters and registries while it runs).
 * `log` gets the flow's step lines.
 */
export async function runScenario(env: Environment, scenario: Scenario, workDir: string, log: (line: string) => void = () => undefined): Promise<ScenarioReport> {
  const started = Date.now();
  fs.mkdirSync(workDir, { recursive: true });
  const certDir = path.join(workDir, 'certs');
  const build = scenario.build(PREVIOUS_TAG);
  log(`previous release ${PREVIOUS_TAG}: delivered through the whole flow first${build.delivery === 'gitops' ? ', by GitOps' : ''}`);
  await runDeliveryFlow(env, path.join(workDir, 'previous'), (line) => log(`  ${line}`), { tag: PREVIOUS_TAG, delivery: build.delivery });
  const tags = [...new Set([PREVIOUS_TAG, build.tag ?? BUILD_TAG])];
  const before = await productionState(env, certDir, tags);
  log(`\nthe flawed build (${scenario.name}): ${scenario.description}`);
  let steps: FlowStep[] = [];
  let stopped: FlowStep | undefined;
  try {
    steps = (await runDeliveryFlow(env, path.join(workDir, 'build'), log, build)).steps;
  } catch (err) {
    if (!(err instanceof FlowStopped)) throw err;
    steps = err.steps;
    stopped = err.step;
  }
  const after = await productionState(env, certDir, tags);
  const problems: string[] = [];
  const reason = stopped?.run.result?.message ?? (stopped ? `no result (exit ${stopped.run.exitCode})` : undefined);
  if (!stopped) problems.push('the flow went all the way through');
  else if (stopped.name !== scenario.stopsAt) problems.push(`stopped at '${stopped.name}', not at '${scenario.stopsAt}'`);
  if (stopped && !scenario.reason.test(reason ?? '')) problems.push(`the reason does not match ${scenario.reason}`);
  if (JSON.stringify(before) !== JSON.stringify(after)) problems.push('production changed');
  return {
    scenario: scenario.name, stoppedAt: stopped?.name, status: stopped?.run.result?.status, reason,
    summary: stopped?.run.summaries[0]?.content, before, after, steps,
    asExpected: problems.length === 0, problems, wallMs: Date.now() - started,
  };
}

/** The closing lines of a scenario: the step that stopped it, why, and what production holds. */
export function closingLines(report: ScenarioReport): string[] {
  const unchanged = JSON.stringify(report.before) === JSON.stringify(report.after);
  return [
    report.stoppedAt ? `stopped by: ${report.stoppedAt} (${report.status})` : 'stopped by: nothing, the flawed build reached production',
    `reason:     ${report.reason ?? '—'}`,
    `production: ${describeProduction(report.after)} (${unchanged ? 'unchanged' : `CHANGED; before: ${describeProduction(report.before)}`})`,
    `${report.asExpected ? 'as expected' : `NOT as expected: ${report.problems.join('; ')}`}, in ${(report.wallMs / 1000).toFixed(1)} s`,
  ];
}

/** Exit codes of `npm run demo`: the happy path delivered, a scenario stopped where it should, anything else. */
export const EXIT = { delivered: 0, unexpected: 1, stoppedAsExpected: 3 } as const;
