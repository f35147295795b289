import { formatDuration, type TaskLog } from '../common/log';
import { sleep } from '../common/retry';
import type { CheckConfig, GateConfig } from './config';
import { SEVERITY, worst, type Measurement, type Outcome } from './judge';

export type GateResult = 'Succeeded' | 'Failed' | 'Inconclusive';

export interface Evaluation {
  index: number;
  /** Milliseconds from the start of the gate. */
  atMs: number;
  durationMs: number;
  outcome: Outcome;
  measurements: Measurement[];
}

export interface GateVerdict {
  result: GateResult;
  /** One sentence a person can act on. */
  reason: string;
  evaluations: Evaluation[];
  timedOut: boolean;
  durationMs: number;
  /** The evaluation's own cost beyond its slowest check, per evaluation (for the benchmark and debug). */
  overheadMs: number[];
}

export type Measure = (check: CheckConfig, signal: AbortSignal) => Promise<Measurement>;

/** Judges the measurements of one evaluation together (the canary score of the compare checks). */
export type Settle = (measurements: Measurement[]) => Measurement[];

const PROGRESS_EVERY_MS = 15_000;

/**
 * Runs the gate with Argo Rollouts' rules: after `initialDelay`, evaluate every check at once each `interval`;
 * succeed at `requiredSuccesses` consecutive all-pass evaluations, fail when failed evaluations exceed
 * `failureLimit` or consecutive errors exceed `consecutiveErrorLimit`, end Inconclusive when inconclusive
 * evaluations exceed `inconclusiveLimit`; when `timeout` comes first, the worst outcome seen decides. It stops as
 * soon as the answer is known.
 */
export async function runGate(config: GateConfig, measure: Measure, log: TaskLog, settle: Settle = (m) => m): Promise<GateVerdict> {
  const started = Date.now();
  const deadline = started + config.timeoutSeconds * 1000;
  const controller = new AbortController();
  const deadlineTimer = setTimeout(() => controller.abort(), Math.max(0, deadline - Date.now()));
  const signal = controller.signal;
  const evaluations: Evaluation[] = [];
  const overheadMs: number[] = [];
  let consecutiveSuccesses = 0;
  let consecutiveErrors = 0;
  let failed = 0;
  let inconclusive = 0;
  let bestRun = 0;

  const finish = (result: GateResult, reason: string, timedOut = false): GateVerdict => {
    clearTimeout(deadlineTimer);
    return { result, reason, evaluations, timedOut, durationMs: Date.now() - started, overheadMs };
  };
  const waitUntil = async (at: number, what: string) => {
    while (!signal.aborted && Date.now() < at) {
      const left = at - Date.now();
      if (left > PROGRESS_EVERY_MS) log.info(`Waiting ${formatDuration(left)} ${what}.`);
      await sleep(Math.min(left, PROGRESS_EVERY_MS), signal);
    }
  };

  if (config.initialDelaySeconds > 0) {
    log.info(`Waiting the initial delay of ${formatDuration(config.initialDelaySeconds * 1000)} before the first evaluation.`);
    await waitUntil(started + config.initialDelaySeconds * 1000, 'before the first evaluation');
  }

  for (let index = 1; ; index++) {
    if (signal.aborted) break;
    const evalStart = Date.now();
    const t0 = process.hrtime.bigint();
    const pending = new Set(config.checks.map((c) => c.name));
    const progress = setInterval(() => {
      log.info(`Evaluation ${index}: still measuring ${[...pending].map((n) => `'${n}'`).join(', ')} after ${formatDuration(Date.now() - evalStart)}.`);
    }, PROGRESS_EVERY_MS);
    const measurements = settle(await Promise.all(config.checks.map((check) => measure(check, signal).finally(() => pending.delete(check.name)))));
    clearInterval(progress);
    const durationMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (signal.aborted) {
      log.info(`Evaluation ${index} was cut short by the gate's timeout and does not count.`);
      break;
    }
    overheadMs.push(Math.max(0, durationMs - Math.max(0, ...measurements.map((m) => m.durationMs))));
    const outcome = worst(measurements.map((m) => m.outcome));
    const evaluation: Evaluation = { index, atMs: evalStart - started, durationMs, outcome, measurements };
    evaluations.push(evaluation);

    if (outcome === 'passed') { consecutiveSuccesses++; bestRun = Math.max(bestRun, consecutiveSuccesses); } else consecutiveSuccesses = 0;
    if (outcome === 'error') consecutiveErrors++; else consecutiveErrors = 0;
    if (outcome === 'failed') failed++;
    if (outcome === 'inconclusive') inconclusive++;

    const counters = [
      `passes in a row ${consecutiveSuccesses}/${config.requiredSuccesses}`,
      `failed ${failed} (limit ${config.failureLimit})`,
      ...(consecutiveErrors ? [`errors in a row ${consecutiveErrors} (limit ${config.consecutiveErrorLimit})`] : []),
      ...(inconclusive ? [`inconclusive ${inconclusive}${config.inconclusiveLimit !== undefined ? ` (limit ${config.inconclusiveLimit})` : ''}`] : []),
    ];
    log.info(`Evaluation ${index} (+${formatDuration(evaluation.atMs)}): ${outcome.toUpperCase()} — ${measurements.map((m) => `${m.check}: ${m.outcome}${m.outcome === 'passed' && !m.comparison ? ` (${m.value ?? m.message})` : ` (${m.message})`}`).join('; ')} [${counters.join(', ')}]`);

    const fatal = measurements.find((m) => m.fatal);
    if (fatal) return finish('Failed', `Check '${fatal.check}' cannot be evaluated: ${fatal.message}.`);
    const decisive = measurements.find((m) => m.decisive);
    if (decisive) return finish('Failed', `Check '${decisive.check}' is critical and failed: ${decisive.message}.`);
    if (consecutiveSuccesses >= config.requiredSuccesses) {
      const before = evaluations.length - consecutiveSuccesses;
      return finish('Succeeded', `All ${config.checks.length} check${config.checks.length > 1 ? 's' : ''} passed in ${consecutiveSuccesses} consecutive evaluation${consecutiveSuccesses > 1 ? 's' : ''} (requiredSuccesses ${config.requiredSuccesses})${before ? `, after ${before} earlier evaluation${before > 1 ? 's' : ''} that did not pass` : ''}.`);
    }
    if (failed > config.failureLimit) {
      return finish('Failed', `${describeChecks(evaluations, 'failed')}: ${failed} failed evaluation${failed > 1 ? 's' : ''}, more than the failureLimit of ${config.failureLimit}.`);
    }
    if (consecutiveErrors > config.consecutiveErrorLimit) {
      return finish('Failed', `${describeChecks(evaluations.slice(-consecutiveErrors), 'error')}: ${consecutiveErrors} evaluations in a row could not measure every check, more than the consecutiveErrorLimit of ${config.consecutiveErrorLimit}.`);
    }
    if (config.inconclusiveLimit !== undefined && inconclusive > config.inconclusiveLimit) {
      return finish('Inconclusive', `${describeChecks(evaluations, 'inconclusive')}: ${inconclusive} inconclusive evaluation${inconclusive > 1 ? 's' : ''}, more than the inconclusiveLimit of ${config.inconclusiveLimit}.`);
    }

    const next = evalStart + config.intervalSeconds * 1000;
    if (next >= deadline) break;
    // When success can no longer be reached in time and the worst seen already means failure, the answer is known.
    const possible = config.intervalSeconds > 0 ? Math.floor((deadline - next) / (config.intervalSeconds * 1000)) + 1 : Infinity;
    const seen = worst(evaluations.map((e) => e.outcome));
    if (consecutiveSuccesses + possible < config.requiredSuccesses && SEVERITY[seen] >= SEVERITY.error) {
      return finish('Failed', timeoutReason(config, evaluations, bestRun, `cannot reach ${config.requiredSuccesses} consecutive passing evaluations before the timeout of ${formatDuration(config.timeoutSeconds * 1000)}`), true);
    }
    await waitUntil(next, `before evaluation ${index + 1}`);
  }

  const seen = worst(evaluations.map((e) => e.outcome));
  const result: GateResult = SEVERITY[seen] >= SEVERITY.error ? 'Failed' : 'Inconclusive';
  return finish(result, timeoutReason(config, evaluations, bestRun, `timed out after ${formatDuration(config.timeoutSeconds * 1000)}`), true);
}

function timeoutReason(config: GateConfig, evaluations: Evaluation[], bestRun: number, what: string): string {
  if (evaluations.length === 0) return `The gate ${what} before any evaluation finished: raise 'timeout' or shorten 'initialDelay' and the checks' timeouts.`;
  const seen = worst(evaluations.map((e) => e.outcome));
  const detail = seen === 'passed'
    ? `every evaluation passed, but ${config.requiredSuccesses} in a row were required`
    : describeChecks(evaluations, seen);
  return `The gate ${what} with ${evaluations.length} evaluation${evaluations.length > 1 ? 's' : ''} (at most ${bestRun} of ${config.requiredSuccesses} required passes in a row); worst outcome ${seen}: ${detail}.`;
}

/** "'error ratio' 0.034 does not meet result < 0.01 in 3 of 4 evaluations" for each check that had `outcome`. */
export function describeChecks(evaluations: Evaluation[], outcome: Outcome): string {
  const byCheck = new Map<string, { count: number; last: Measurement }>();
  for (const e of evaluations) {
    for (const m of e.measurements) {
      if (m.outcome !== outcome) continue;
      const entry = byCheck.get(m.check) ?? { count: 0, last: m };
      entry.count++;
      entry.last = m;
      byCheck.set(m.check, entry);
    }
  }
  const verb = { failed: 'failed', error: 'could not be measured', inconclusive: 'was inconclusive', passed: 'passed' }[outcome];
  const parts = [...byCheck.entries()].slice(0, 3).map(([name, { count, last }]) => `'${name}' ${last.message} in ${count} of ${evaluations.length} evaluation${evaluations.length > 1 ? 's' : ''}`);
  const more = byCheck.size > 3 ? ` and ${byCheck.size - 3} more checks ${verb}` : '';
  return `${parts.join('; ')}${more}`;
}
