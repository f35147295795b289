import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Environment } from '../env';
import { writeFindings, assessmentRecord } from '../data/defender/fixtures';
import { runTask, type TaskRun } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../helpers/connections';
import { handedSecrets, watchServedTokens } from '../helpers/credentials';
import { OciLayout, skopeoDigest, skopeoPush, skopeoTarget } from '../helpers/images';
import { sampleAppImage } from '../env/sample-app/image';
import { TrafficGenerator } from '../env/sample-app/traffic';

export interface FlowStep {
  name: string;
  task: string;
  run: TaskRun;
  /** The secrets the task received: those it was handed and the tokens the emulators served it during its run. */
  credentials: string[];
}

export interface FlowResult {
  /** The digest CI pushed to the non-production registry. */
  builtDigest: string;
  /** What skopeo reads in the production registry after the promotion. */
  productionDigest: string;
  steps: FlowStep[];
}

/** What a run of the flow delivers: by default a good build with a clean scan. The demo's scenarios change it. */
export interface FlowOptions {
  /** The tag CI gives the build (default: a build number). */
  tag?: string;
  /** Defender's records for the built digest (default: one healthy record, a clean scan). */
  findings?: (digest: string) => unknown[];
  /** The build's settings, in its image's Env: how it behaves once it runs (the sample app's knobs, e.g. EXIT_CODE). */
  appEnv?: Record<string, string>;
  /**
   * How deploy-to-aks delivers: `push` (default) applies to the clusters; `gitops` commits to the GitOps repository
   * that each cluster's Flux reconciles (staging by a direct commit, production by an auto-completed pull request)
   * and waits for Flux's verdict through ARM.
   */
  delivery?: 'push' | 'gitops';
  /**
   * How production takes the promoted build: `rolling` (default) rolls it out; `canary` runs it as a canary beside a
   * baseline of the stable version, with users' traffic on production's Service, judges it with the `compare` gate
   * and then promotes it, or rejects it when the gate fails (as a `condition: failed()` step does) and stops there.
   * A canary needs a stable version in production to stand beside (see ensureStableRelease).
   */
  strategy?: 'rolling' | 'canary';
}

/** The Azure Repos repository of the environment that the clusters' Flux configurations reconcile. */
const GITOPS_REPOSITORY = 'shop-gitops';

/**
 * The flow stopped at a step that did not succeed; `steps` holds every step run: the stopping one last, or followed by
 * the clean-up that a failed step triggers (a rejected canary).
 */
export class FlowStopped extends Error {
  constructor(message: string, readonly steps: FlowStep[], private readonly stoppedBy?: FlowStep) {
    super(message);
    this.name = 'FlowStopped';
  }

  get step(): FlowStep {
    return this.stoppedBy ?? this.steps[this.steps.length - 1];
  }
}

export const REPOSITORY = 'shop/web';

/**
 * The app's manifests, as a team keeps them in its repository: one template for every registry (`image: shop/web`).
 * The pods ask Prometheus to scrape them and have a readiness probe on /healthz, as the sample app's image serves.
 */
function manifests(namespace: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: { app: web }
spec:
  replicas: 2
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web, app.kubernetes.io/name: web }
      annotations: { prometheus.io/scrape: "true", prometheus.io/port: "8080" }
    spec:
      containers:
        - name: web
          image: ${REPOSITORY}
          ports: [{ containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
`;
}

/**
 * The acceptance gate of staging: the deployed Service answers at its clusterIP, and the deployed pods' own
 * metrics (scraped by Prometheus, labelled with their namespace and cluster) show few errors. No data is
 * inconclusive, so the gate waits for the pods' series rather than passing on their absence. One failed evaluation
 * is tolerated, as a team tolerates a slow answer while the demo's scenarios share two cores; a build with errors
 * fails every evaluation and so still fails the gate. The initial delay outlasts the 5 s rate window, so the first
 * evaluation sees the new pods' own samples, not the previous release's last ones (which would pass a bad build).
 */
function gate(env: Environment, serviceUrl: string): string {
  const scope = 'namespace="shop",cluster="staging"';
  return `timeout: 60
initialDelay: 6
interval: 1
requiredSuccesses: 3
failureLimit: 1
onInconclusive: fail
checks:
  - name: health
    http: { url: ${serviceUrl}/healthz, timeout: 5 }
    expect: { status: [200], maxLatencyMs: 1000 }
  - name: error ratio
    prometheus: { url: ${env.info.prometheus}, query: 'sum(rate(http_requests_total{${scope},code=~"5.."}[5s]) or vector(0)) / sum(rate(http_requests_total{${scope}}[5s]))' }
    successCondition: result < 0.05
    onNoData: inconclusive
`;
}

/**
 * The gate of production's canary: the canary's pods against the baseline's (the stable version on as many pods),
 * both taking a share of users' traffic through production's Service. Latency is the sample app's 90th percentile
 * from its histogram; a canary up to 1.5 times slower than the baseline passes (a scheduling hiccup on a busy
 * machine), a clearly slower one is High and, being critical, fails the gate at once. The error ratio's `or … * 0`
 * makes a pod without errors count as 0 rather than as no data. Each side is one pod, so each evaluation gives one
 * value per side; minSamples 5 is the least the test can judge at its confidence (0.98). The initial delay outlasts
 * the 5 s rate window and the new pods' first scrapes, so no sample predates the canary's traffic.
 */
function canaryGate(env: Environment): string {
  const scope = `namespace="shop",cluster="production",${TRACK}="{{version}}"`;
  const url = env.info.prometheus;
  return `timeout: 90
initialDelay: 8
interval: 1
requiredSuccesses: 3
checks:
  - name: latency
    compare:
      url: ${url}
      query: 'histogram_quantile(0.9, sum by (le, pod) (rate(http_request_duration_seconds_bucket{${scope}}[5s])))'
      direction: increase
      allowedIncrease: 1.5
      minSamples: 5
      critical: true
  - name: error ratio
    compare:
      url: ${url}
      query: 'sum by (pod) (rate(http_requests_total{${scope},code=~"5.."}[5s]) or rate(http_requests_total{${scope}}[5s]) * 0) / sum by (pod) (rate(http_requests_total{${scope}}[5s]))'
      direction: increase
      minSamples: 5
`;
}

/** The canary strategy's track label (aks-secure-delivery.dev/track) as Prometheus names it on the pods' series. */
const TRACK = 'aks_secure_delivery_dev_track';

/** The image of the app's Deployment in a cluster, as the API server holds it. */
export function deployedImage(env: Environment, cluster: 'staging' | 'production'): string | undefined {
  const deployment = env.aks.clusters[cluster].kube.get('apps/v1', 'Deployment', 'shop', 'web') as
    { spec?: { template?: { spec?: { containers?: { image?: string }[] } } } } | undefined;
  return deployment?.spec?.template?.spec?.containers?.[0]?.image;
}

/**
 * A canary stands beside a stable version, so production needs one first: when it runs nothing yet (a fresh
 * environment), the `stableTag` build is delivered by the rolling flow. Returns that run, if one was needed.
 */
export async function ensureStableRelease(env: Environment, workDir: string, log: (line: string) => void, stableTag?: string): Promise<FlowResult | undefined> {
  if (deployedImage(env, 'production')) return undefined;
  log('production runs nothing yet, so a canary has no stable version to stand beside: a first release goes through the rolling flow');
  const result = await runDeliveryFlow(env, workDir, (line) => log(`  ${line}`), { tag: stableTag });
  log('');
  return result;
}

/**
 * The CD flow of DESIGN.md §1 against the local environment, each task run as the agent runs it:
 * CI pushes an image → DefenderScanCheck → DeployToAks (staging) → AcceptanceGate → PromoteImage → DeployToAks
 * (production), or with `strategy: canary` the canary on production, its gate, and its promotion. Stops at the first
 * step that does not succeed.
 */
export async function runDeliveryFlow(env: Environment, workDir: string, log: (line: string) => void = () => undefined, options: FlowOptions = {}): Promise<FlowResult> {
  fs.mkdirSync(workDir, { recursive: true });
  const nonprod = env.registries.nonprod;
  const prod = env.registries.prod;
  const certDir = path.join(workDir, 'certs');
  const nonprodTarget = skopeoTarget(env, nonprod, certDir);
  const prodTarget = skopeoTarget(env, prod, certDir, 'pull');
  const buildId = options.tag ?? `${Date.now() % 100000}`;

  // CI: build the sample app's image (its settings are the build's behaviour) and push it.
  const layout = new OciLayout(path.join(workDir, 'layout'));
  // Each build is its own image (a rebuild under a released tag has another digest), as a real CI's builds are.
  layout.tag(sampleAppImage(layout, { VERSION: buildId, BUILT_AT: new Date().toISOString(), ...options.appEnv }), 'build');
  await skopeoPush(layout, 'build', nonprodTarget, REPOSITORY, buildId);
  const builtDigest = await skopeoDigest(nonprodTarget, `${REPOSITORY}:${buildId}`);
  const sourceImage = `${nonprod.registry.loginServer}/${REPOSITORY}:${buildId}`;
  log(`CI pushed ${sourceImage} (${builtDigest})`);

  // Defender scans the pushed digest: a clean result unless the run says otherwise.
  writeFindings(env.info.defender.findingsDir, builtDigest, options.findings?.(builtDigest) ?? [
    assessmentRecord(builtDigest, { name: 'openssl', installed: '3.0.15', cves: [] }, { repository: REPOSITORY, status: 'Healthy' }),
  ]);

  const manifestFile = path.join(workDir, 'web.yaml');
  fs.writeFileSync(manifestFile, manifests('shop'));
  const gateFile = path.join(workDir, 'gate.yaml');

  const arm = azureRmConnection(env, 'federated');
  const steps: FlowStep[] = [];
  // What a job has besides its inputs: its access token and the run's variables (GitOps commits with the former and
  // names the latter in its commit message).
  const job = {
    systemAccessToken: env.devops.accessToken,
    variables: {
      'Build.BuildId': buildId, 'Build.BuildNumber': `${buildId}.1`, 'Build.DefinitionName': 'shop-cd', 'Build.SourceBranch': 'refs/heads/main',
      'System.CollectionUri': env.info.devops.collectionUri, 'System.TeamProject': env.info.devops.project, 'System.TeamProjectId': env.info.devops.projectId,
    },
  };
  const step = async (name: string, task: string, inputs: Record<string, string | boolean | number>): Promise<TaskRun> => {
    const options = mergeRunOptions(arm.options, job, { inputs: { azureSubscription: arm.id, ...inputs }, timeoutMs: 180_000 });
    const served = watchServedTokens(env);
    const run = await runTask(task, options);
    steps.push({ name, task, run, credentials: [...handedSecrets(options), ...served()] });
    log(`${name.padEnd(28)} ${String(run.result?.status).padEnd(20)} ${(run.durationMs / 1000).toFixed(1).padStart(5)} s  ${run.result?.message ?? ''}`);
    if (run.result?.status !== 'Succeeded') {
      const detail = run.result ? run.result.message : `no result (exit ${run.exitCode}${run.timedOut ? ', timed out' : ''}): ${run.stderr.slice(-1500)}`;
      throw new FlowStopped(`${name} did not succeed: ${detail}`, steps);
    }
    return run;
  };
  const cluster = (key: 'staging' | 'production') => {
    const c = env.info.clusters[key];
    const target = { connectionType: 'azureResourceManager', resourceGroup: c.resourceGroup, kubernetesCluster: c.name };
    if (options.delivery !== 'gitops') return { ...target, rolloutTimeout: 120, rollbackOnFailure: key === 'staging' };
    const change = key === 'production' ? { gitChange: 'pullRequest', autoComplete: true } : { gitChange: 'push', autoComplete: false };
    return { ...target, deliveryMode: 'gitops', gitRepository: GITOPS_REPOSITORY, gitPath: c.gitPath, fluxConfiguration: c.fluxConfiguration, reconcileTimeout: 120, ...change };
  };

  await step('Defender scan check', 'defender-scan-check', { image: sourceImage, failOnSeverity: 'High', waitForScan: 60 });
  await step('Deploy to staging', 'deploy-to-aks', { ...cluster('staging'), manifests: manifestFile, namespace: 'shop', images: `${nonprod.registry.loginServer}/${REPOSITORY}@${builtDigest}` });
  // The gate judges what was deployed: the staging Service, with users' traffic on it while the gate runs.
  const staging = serviceUrl(env, 'staging');
  fs.writeFileSync(gateFile, gate(env, staging));
  await underTraffic(staging, 'staging', 20, 120, log, () => step('Acceptance gate', 'acceptance-gate', { gateFile }));
  const promoted = await step('Promote image', 'promote-image', { sourceImage, targetRegistry: prod.registry.loginServer, method: 'auto' });
  const production = { ...cluster('production'), manifests: manifestFile, namespace: 'shop', images: promoted.outputs.promotedImage };
  if (options.strategy !== 'canary') {
    await step('Deploy to production', 'deploy-to-aks', production);
  } else {
    const canary = { ...production, strategy: 'canary', percentage: 25 };
    const started = await step('Canary on production', 'deploy-to-aks', canary);
    if (started.outputs.canaryWorkloads === '[]') log('production had no stable version: the build became it, with no canary to judge');
    else {
      await judgeCanary(env, workDir, log, step, async () => {
        await step('Reject canary', 'deploy-to-aks', { ...canary, action: 'reject' });
      });
      await step('Promote canary', 'deploy-to-aks', { ...canary, action: 'promote' });
    }
  }

  const productionDigest = await skopeoDigest(prodTarget, `${REPOSITORY}:${buildId}`);
  log(`production holds ${prod.registry.loginServer}/${REPOSITORY}:${buildId} at ${productionDigest}`);
  return { builtDigest, productionDigest, steps };
}

/** The app's Service in a cluster, at its clusterIP, as the deployment left it. */
function serviceUrl(env: Environment, cluster: 'staging' | 'production'): string {
  const clusterIP = env.aks.clusters[cluster].kube.get('v1', 'Service', 'shop', 'web')?.spec?.clusterIP as string | undefined;
  if (!clusterIP) throw new Error(`the ${cluster} Service shop/web has no clusterIP after its deployment`);
  return `http://${clusterIP}`;
}

/** Runs `work` (a gate) with users' traffic on a Service, and logs what the traffic got. */
async function underTraffic<T>(url: string, cluster: string, ratePerSecond: number, seconds: number, log: (line: string) => void, work: () => Promise<T>): Promise<T> {
  const traffic = new TrafficGenerator(`${url}/api/orders`, ratePerSecond, seconds);
  try {
    return await work();
  } finally {
    const sent = await traffic.stop();
    log(`traffic to the ${cluster} Service: ${sent.sent} requests, ${JSON.stringify(sent.byStatus)}`);
  }
}

type Step = (name: string, task: string, inputs: Record<string, string | boolean | number>) => Promise<TaskRun>;

/**
 * The canary's gate, with users' traffic on production's Service (stable, baseline and canary pods share it). On a
 * failed gate `reject` runs, as a pipeline's `condition: failed()` step does, and the flow stops at the gate.
 */
async function judgeCanary(env: Environment, workDir: string, log: (line: string) => void, step: Step, reject: () => Promise<void>): Promise<void> {
  const gateFile = path.join(workDir, 'canary-gate.yaml');
  fs.writeFileSync(gateFile, canaryGate(env));
  let failed: { message: string; gate: FlowStep; steps: FlowStep[] } | undefined;
  try {
    await underTraffic(serviceUrl(env, 'production'), 'production', 40, 150, log, () => step('Canary gate', 'acceptance-gate', { gateFile }));
  } catch (err) {
    if (!(err instanceof FlowStopped)) throw err;
    // The gate stopped the flow, whatever runs after it (`steps` grows with the reject).
    failed = { message: err.message, gate: err.step, steps: err.steps };
  }
  if (!failed) return;
  await reject();
  throw new FlowStopped(failed.message, failed.steps, failed.gate);
}
