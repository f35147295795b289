// The demo's scenarios: the delivery flow with one thing wrong, each stopped by the step whose job is to stop it.
// A scenario first delivers a good previous release (so production holds something a bad build could break), then
// runs the flawed build, and reports the step that stopped it, its reason, and what production holds before and after.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Environment } from '../env';
import { ROOT } from '../helpers/agent';
import { assessmentRecord } from '../data/defender/fixtures';
import { ownedBy } from '../env/kube/controllers/objects';
import { skopeoDigest, skopeoTarget } from '../helpers/images';
import { FlowStopped, REPOSITORY, deployedImage, ensureStableRelease, runDeliveryFlow, type FlowOptions, type FlowResult, type FlowStep } from './flow';

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
  /**
   * The flawed build's tag reaches the production registry before the step that stops it (a canary runs from the
   * production registry), so the registry gains it; the Deployment's image and its pods must stay as they were.
   */
  promotedBeforeStop?: boolean;
}

/** `what` while the task's task.json lacks the input a scenario needs, so the scenario runs as soon as it lands. */
export function waitsForInput(folder: string, input: string, what: string): string | undefined {
  const task = JSON.parse(fs.readFileSync(path.join(ROOT, 'tasks', folder, 'task.json'), 'utf8')) as { inputs: { name: string }[] };
  return task.inputs.some((i) => i.name === input) ? undefined : what;
}

/** The tag of the good release that production holds when a scenario starts. */
const PREVIOUS_TAG = '1.4.1';
/** Production's first release, under a canary scenario's good previous release (a canary needs a stable version). */
const STABLE_TAG = '1.4.0';
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
    // A real image whose program exits with 3 at start (the sample app's EXIT_CODE in the image's Env).
    build: () => ({ tag: BUILD_TAG, appEnv: { EXIT_CODE: '3' } }),
  },
  {
    name: 'error-ratio',
    description: "the build's pods answer with errors: the acceptance gate fails on the deployed pods' metrics",
    stopsAt: 'Acceptance gate',
    reason: /error ratio/,
    build: () => ({ tag: BUILD_TAG, appEnv: { ERROR_RATIO: '0.3' } }),
  },
  {
    name: 'canary-regression',
    description: "a build 250 ms slower per request passes staging; production's canary is slower than its baseline: the compare gate fails, the canary is rejected, stable untouched",
    stopsAt: 'Canary gate',
    reason: /Check 'latency' is critical and failed: High: canary median/,
    // The previous release came as a canary too (the happy path's canary, promoted), so the flawed one is the next canary.
    build: () => ({ tag: BUILD_TAG, strategy: 'canary', appEnv: { LATENCY_MS: '250' } }),
    promotedBeforeStop: true,
  },
  {
    name: 'tag-conflict',
    description: 'production already has the tag at another digest: promote-image refuses and changes nothing',
    stopsAt: 'Promote image',
    reason: /already points at sha256:[0-9a-f]{64}.*Nothing was changed/,
    // A rebuild pushed under the released tag: the non-production tag moves, the production one must not.
    // (The sample app's image is reproducible, so the rebuild differs by a setting, as a real rebuild differs by its sources.)
    build: (previousTag) => ({ tag: previousTag, appEnv: { REBUILT: 'true' } }),
  },
  {
    name: 'gitops-noncompliant',
    description: 'a GitOps delivery whose objects Flux cannot make healthy: deploy-to-aks fails with the verdict of Flux (health check failed, Non-Compliant)',
    stopsAt: 'Deploy to staging',
    reason: /HealthCheckFailed|Non-?Compliant/i,
    waitsFor: waitsForInput('deploy-to-aks', 'deliveryMode', 'GitOps delivery (deploy-to-aks deliveryMode gitops)'),
    build: () => ({ tag: BUILD_TAG, delivery: 'gitops', appEnv: { EXIT_CODE: '3' } }),
  },
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** What production holds: the tags' digests in the production registry, the image its Deployment runs, and its pods. */
export interface ProductionState {
  tags: Record<string, string | undefined>;
  deployedImage: string | undefined;
  /** The names of the stable Deployment's pods (a canary's and a baseline's are not among them). */
  stablePods: string[];
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
  /** The good previous release's runs: production's first release when it needed one, then the previous release. */
  previous: FlowResult[];
  /** The flawed build's tag and digest, when it reached the production registry before it was stopped. */
  promoted?: { tag: string; digest: string };
  /** Stopped by the expected step, with the expected reason, and production unchanged. */
  asExpected: boolean;
  /** What went otherwise, when not as expected. */
  problems: string[];
  wallMs: number;
}

async function productionState(env: Environment, certDir: string, tags: string[]): Promise<ProductionState> {
  const target = skopeoTarget(env, env.registries.prod, certDir, 'pull');
  const state: ProductionState = { tags: {}, deployedImage: deployedImage(env, 'production'), stablePods: stablePods(env) };
  for (const tag of tags) state.tags[tag] = await skopeoDigest(target, `${REPOSITORY}:${tag}`).catch(() => undefined);
  return state;
}

/** The pods of production's stable Deployment shop/web (its ReplicaSets' pods, not the canary's or the baseline's). */
function stablePods(env: Environment): string[] {
  const kube = env.aks.clusters.production.kube;
  const deployment = kube.get('apps/v1', 'Deployment', 'shop', 'web');
  if (!deployment) return [];
  return ownedBy(kube, deployment, 'apps/v1', 'ReplicaSet').flatMap((rs) => ownedBy(kube, rs, 'v1', 'Pod'))
    .filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name as string).sort();
}

export function describeProduction(state: ProductionState, promoted?: { tag: string }): string {
  const tags = Object.entries(state.tags)
    .map(([tag, digest]) => `${REPOSITORY}:${tag} ${digest ? `at ${digest}` : 'absent'}${tag === promoted?.tag && digest ? ' (promoted for the canary)' : ''}`).join(', ');
  return `registry ${tags}; Deployment shop/web runs ${state.deployedImage ?? 'nothing'} on pods ${state.stablePods.join(', ') || 'none'}`;
}

/**
 * What changed in production, if anything. A build promoted before its stop (for a canary) may add its own tag, at
 * its own digest, to the registry; everything else (the other tags, the Deployment's image, its pods) must stay.
 */
export function productionChanges(before: ProductionState, after: ProductionState, promoted?: { tag: string; digest: string }): string[] {
  const changes: string[] = [];
  for (const [tag, digest] of Object.entries(after.tags)) {
    if (digest === before.tags[tag]) continue;
    if (promoted && tag === promoted.tag && !before.tags[tag] && digest === promoted.digest) continue;
    changes.push(`tag ${tag} went from ${before.tags[tag] ?? 'absent'} to ${digest ?? 'absent'}`);
  }
  if (after.deployedImage !== before.deployedImage) changes.push(`the Deployment went from ${before.deployedImage ?? 'nothing'} to ${after.deployedImage ?? 'nothing'}`);
  if (JSON.stringify(after.stablePods) !== JSON.stringify(before.stablePods)) changes.push(`the stable pods went from ${before.stablePods.join(', ')} to ${after.stablePods.join(', ')}`);
  return changes;
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
  const previous: FlowResult[] = [];
  if (build.strategy === 'canary') {
    const first = await ensureStableRelease(env, path.join(workDir, 'stable'), log, STABLE_TAG);
    if (first) previous.push(first);
  }
  log(`previous release ${PREVIOUS_TAG}: delivered through the whole flow first${build.delivery === 'gitops' ? ', by GitOps' : ''}${build.strategy === 'canary' ? ', as a canary' : ''}`);
  previous.push(await runDeliveryFlow(env, path.join(workDir, 'previous'), (line) => log(`  ${line}`), { tag: PREVIOUS_TAG, delivery: build.delivery, strategy: build.strategy }));
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
  const promotedRun = scenario.promotedBeforeStop ? steps.find((st) => st.task === 'promote-image' && st.run.result?.status === 'Succeeded') : undefined;
  const promoted = promotedRun && { tag: build.tag ?? BUILD_TAG, digest: promotedRun.run.outputs.imageDigest };
  if (scenario.promotedBeforeStop && !promoted) problems.push('the build was not promoted for its canary');
  const changes = productionChanges(before, after, promoted);
  if (changes.length) problems.push(`production changed: ${changes.join('; ')}`);
  return {
    scenario: scenario.name, stoppedAt: stopped?.name, status: stopped?.run.result?.status, reason,
    summary: stopped?.run.summaries[0]?.content, before, after, steps, previous, promoted,
    asExpected: problems.length === 0, problems, wallMs: Date.now() - started,
  };
}

/** The closing lines of a scenario: the step that stopped it, why, and what production holds. */
export function closingLines(report: ScenarioReport): string[] {
  const changes = productionChanges(report.before, report.after, report.promoted);
  const verdict = changes.length ? `CHANGED: ${changes.join('; ')}`
    : report.promoted ? `the stable Deployment's image and pods unchanged; the registry gained ${REPOSITORY}:${report.promoted.tag}, promoted for the canary` : 'unchanged';
  return [
    report.stoppedAt ? `stopped by: ${report.stoppedAt} (${report.status})` : 'stopped by: nothing, the flawed build reached production',
    `reason:     ${report.reason ?? '—'}`,
    // What the stop set off (a failed canary gate's reject), as the pipeline's `condition: failed()` steps run.
    ...(report.stoppedAt ? report.steps.slice(report.steps.findIndex((st) => st.name === report.stoppedAt) + 1) : [])
      .map((st) => `then:       ${st.name} (${st.run.result?.status}): ${st.run.result?.message ?? '—'}`),
    `production: ${describeProduction(report.after, report.promoted)} (${verdict})`,
    `${report.asExpected ? 'as expected' : `NOT as expected: ${report.problems.join('; ')}`}, in ${(report.wallMs / 1000).toFixed(1)} s`,
  ];
}

/** Exit codes of `npm run demo`: the happy path delivered, a scenario stopped where it should, anything else. */
export const EXIT = { delivered: 0, unexpected: 1, stoppedAsExpected: 3 } as const;
