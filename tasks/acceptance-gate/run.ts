import { UserError } from '../common/errors';
import type { TaskLog } from '../common/log';
import type { TaskStatus } from '../common/pipeline';
import { measureCheck } from './checks';
import { stopRunningCommands } from './checks/command';
import type { CheckContext } from './checks/kind';
import { azureMonitorScope } from './checks/prometheus';
import { CanaryJudgement } from './compare/judgement';
import { parseGate, type CheckConfig, type CompareCheck, type GateConfig } from './config';
import { runGate, type GateResult, type GateVerdict } from './gate';
import { assess, type Measurement } from './judge';
import type { GateOptions } from './options';
import { junitXml, summaryMarkdown } from './report';

export interface GateOutcome {
  status: TaskStatus;
  gateResult: GateResult;
  reason: string;
  summary: string;
  junit: string;
  verdict: GateVerdict;
}

/** Header and environment names whose values are credentials, whatever the gate author called the variable. */
const SENSITIVE_NAME = /authorization|cookie|token|secret|password|passwd|api[-_]?key|key$|credential|signature/i;

/** Replaces every known secret in text before it is printed or published (the agent masks its own log only). */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(value: string | undefined): void {
    if (value && value.length >= 3) this.secrets.add(value);
  }

  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join('***');
    return out;
  }

  log(inner: TaskLog): TaskLog {
    return {
      info: (m) => inner.info(this.scrub(m)),
      warn: (m) => inner.warn(this.scrub(m)),
      debug: (m) => inner.debug(this.scrub(m)),
      secret: (v) => { this.add(v); inner.secret(v); },
    };
  }
}

function registerSecrets(config: GateConfig, secrets: string[], log: TaskLog): void {
  for (const s of secrets) log.secret(s);
  for (const check of config.checks) {
    const named = check.kind === 'command' ? check.env : check.headers;
    for (const [name, value] of Object.entries(named)) if (SENSITIVE_NAME.test(name)) log.secret(value);
  }
}

export async function run(options: GateOptions, agentLog: TaskLog): Promise<GateOutcome> {
  const redactor = new Redactor();
  const log = redactor.log(agentLog);
  const { config, secrets } = parseGate(options.gateYaml, options.gateSource, options.variables);
  registerSecrets(config, secrets, log);

  const azureChecks = config.checks.filter((c) => (c.kind === 'prometheus' || c.kind === 'compare') && c.azureMonitor);
  let azureToken: CheckContext['azureToken'];
  if (azureChecks.length) {
    if (!options.azure) {
      throw new UserError(`Check '${azureChecks[0].name}' queries Azure Monitor managed Prometheus, which needs an Entra token: set the input 'azureSubscription' to an Azure Resource Manager service connection with the Monitoring Data Reader role on the workspace.`);
    }
    // @azure/identity is loaded only for a gate that queries Azure Monitor: HTTP, Prometheus and command checks
    // reach their first request without it. The shared credential registers each token it hands out, once.
    const { createAzureCredential } = await import('../common/azureCredential.js');
    const credential = createAzureCredential(options.azure, log);
    azureToken = async (url) => {
      const token = await credential.getToken(azureMonitorScope(url));
      if (!token) throw new UserError(`Input 'azureSubscription': no token was issued for ${azureMonitorScope(url)}.`);
      return token.token;
    };
  }

  log.info(`Acceptance gate: ${config.checks.length} check${config.checks.length > 1 ? 's' : ''} (${config.checks.map((c) => `${c.name} [${c.kind}]`).join(', ')}); `
    + `every ${config.intervalSeconds} s after ${config.initialDelaySeconds} s, ${config.requiredSuccesses} passing evaluation${config.requiredSuccesses > 1 ? 's' : ''} in a row to succeed, `
    + `failureLimit ${config.failureLimit}, timeout ${config.timeoutSeconds} s.`);

  const canary = new CanaryJudgement(config.score);
  const compares = config.checks.filter((c): c is CompareCheck => c.kind === 'compare');
  const measure = (check: CheckConfig, signal: AbortSignal): Promise<Measurement> => {
    const ctx: CheckContext = { signal, azureToken, workingDirectory: options.workingDirectory };
    return measureCheck(check, ctx).then((reading) => {
      const m = check.kind === 'compare' ? canary.record(check, reading) : assess(check, reading);
      return { ...m, message: redactor.scrub(m.message), value: m.value && redactor.scrub(m.value) };
    });
  };
  // The agent stops a cancelled job with SIGINT, then SIGTERM: test commands must not outlive it.
  const cancel = (signal: NodeJS.Signals) => {
    stopRunningCommands();
    log.warn(`The gate was cancelled (${signal}); running commands were stopped.`);
    process.exit(1);
  };
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  const settle = (measurements: Measurement[]) => canary.settle(compares, measurements).map((m) => ({ ...m, message: redactor.scrub(m.message) }));
  const verdict = await runGate(config, measure, log, settle).finally(() => {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
  });
  const reason = redactor.scrub(verdict.reason);

  let status: TaskStatus = verdict.result === 'Succeeded' ? 'Succeeded' : 'Failed';
  if (verdict.result === 'Inconclusive') {
    status = config.onInconclusive === 'pass' ? 'Succeeded' : config.onInconclusive === 'warn' ? 'SucceededWithIssues' : 'Failed';
    if (status === 'SucceededWithIssues') log.warn(`The gate is inconclusive: ${reason}`);
  }
  log.info(`Gate result: ${verdict.result}. ${reason}`);
  return {
    status,
    gateResult: verdict.result,
    reason,
    summary: redactor.scrub(summaryMarkdown(config, { ...verdict, reason }, status)),
    junit: redactor.scrub(junitXml(config, verdict)),
    verdict,
  };
}
