import { markdownCell, xmlText } from '../common/format';
import { formatDuration } from '../common/log';
import type { CheckConfig, GateConfig } from './config';
import type { GateVerdict } from './gate';
import { short } from './compare/classify';
import { worst, type Outcome } from './judge';

const JUNIT_MEASUREMENTS = 30;
const ICON: Record<Outcome, string> = { passed: '✅', failed: '❌', error: '⚠️', inconclusive: '❔' };

function target(check: CheckConfig): string {
  switch (check.kind) {
    case 'http': return `${check.method} ${check.url}`;
    case 'prometheus': return `${check.query} @ ${new URL(check.url).host}`;
    case 'command': return check.run;
    case 'compare': return `${check.canaryQuery} vs ${check.baselineQuery} @ ${new URL(check.url).host}`;
  }
}

/** The outcome each check gets in the Tests tab: the gate's own verdict when it succeeded, else its worst. */
function checkOutcome(verdict: GateVerdict, name: string): Outcome {
  if (verdict.result === 'Succeeded') return 'passed';
  const outcomes = verdict.evaluations.flatMap((e) => e.measurements.filter((m) => m.check === name).map((m) => m.outcome));
  return outcomes.length ? worst(outcomes) : 'error';
}

function counts(verdict: GateVerdict, name: string): Record<Outcome, number> {
  const c: Record<Outcome, number> = { passed: 0, failed: 0, error: 0, inconclusive: 0 };
  for (const e of verdict.evaluations) for (const m of e.measurements) if (m.check === name) c[m.outcome]++;
  return c;
}

export function summaryMarkdown(config: GateConfig, verdict: GateVerdict, status: string): string {
  const lines: string[] = [];
  lines.push(`### Acceptance gate: ${verdict.result}`, '');
  lines.push(`**${verdict.reason}**`, '');
  lines.push(`Task result: ${status}. ${verdict.evaluations.length} evaluation${verdict.evaluations.length === 1 ? '' : 's'} in ${formatDuration(verdict.durationMs)}${verdict.timedOut ? ' (timed out)' : ''}.`);
  lines.push(`Rules: interval ${config.intervalSeconds} s, requiredSuccesses ${config.requiredSuccesses}, failureLimit ${config.failureLimit}, consecutiveErrorLimit ${config.consecutiveErrorLimit}${config.inconclusiveLimit !== undefined ? `, inconclusiveLimit ${config.inconclusiveLimit}` : ''}, timeout ${config.timeoutSeconds} s, onInconclusive ${config.onInconclusive}.`, '');
  lines.push('#### Checks', '', '| check | kind | what | passed | failed | inconclusive | error | last |', '|---|---|---|---|---|---|---|---|');
  for (const check of config.checks) {
    const c = counts(verdict, check.name);
    const last = verdict.evaluations.at(-1)?.measurements.find((m) => m.check === check.name);
    lines.push(`| ${markdownCell(check.name)} | ${check.kind} | \`${markdownCell(target(check))}\` | ${c.passed} | ${c.failed} | ${c.inconclusive} | ${c.error} | ${last ? `${ICON[last.outcome]} ${markdownCell(last.value ?? last.message)}` : '—'} |`);
  }
  lines.push(...comparisonTable(config, verdict));
  lines.push('', '#### Timeline', '', '| # | at | took | outcome | checks not passing |', '|---|---|---|---|---|');
  // Runs of evaluations with the same outcome for every check share one row, so a long gate stays readable.
  const key = (e: GateVerdict['evaluations'][number]) => `${e.outcome}|${e.measurements.map((m) => `${m.check}:${m.outcome}`).join('|')}`;
  for (let i = 0; i < verdict.evaluations.length;) {
    let j = i;
    while (j + 1 < verdict.evaluations.length && key(verdict.evaluations[j + 1]) === key(verdict.evaluations[i])) j++;
    const first = verdict.evaluations[i];
    const last = verdict.evaluations[j];
    const notPassing = last.measurements.filter((m) => m.outcome !== 'passed').map((m) => `${ICON[m.outcome]} ${m.check}: ${m.message}`);
    const took = i === j ? formatDuration(first.durationMs) : `${formatDuration(Math.max(...verdict.evaluations.slice(i, j + 1).map((e) => e.durationMs)))} at most`;
    lines.push(`| ${i === j ? first.index : `${first.index}–${last.index}`} | +${formatDuration(first.atMs)}${i === j ? '' : ` … +${formatDuration(last.atMs)}`} | ${took} | ${ICON[last.outcome]} ${last.outcome}${i === j ? '' : ` ×${j - i + 1}`} | ${markdownCell(notPassing.join('; ') || '—')} |`);
    i = j + 1;
  }
  lines.push('');
  return lines.join('\n');
}

/** Per compare check, from its last classification: the medians, the shift with its interval, the class. */
function comparisonTable(config: GateConfig, verdict: GateVerdict): string[] {
  const compares = config.checks.filter((c) => c.kind === 'compare');
  if (compares.length === 0) return [];
  const lines = ['', '#### Canary against baseline', '', '| check | canary median | baseline median | shift (interval) | p-value | values | class |', '|---|---|---|---|---|---|---|'];
  for (const check of compares) {
    const c = [...verdict.evaluations].reverse().flatMap((e) => e.measurements).find((m) => m.check === check.name && m.comparison)?.comparison;
    if (!c) {
      lines.push(`| ${markdownCell(check.name)} | — | — | — | — | — | no values |`);
      continue;
    }
    const n = (v: number | undefined) => (v === undefined ? '—' : short(v));
    const interval = c.estimate === undefined ? '—' : `${short(c.estimate)} (${short(c.lower!)} to ${short(c.upper!)}, ${Math.round(check.settings.confidence * 1000) / 10} %)`;
    const cls = c.classification === 'NoData' && c.collecting ? `collecting (minSamples ${check.settings.minSamples})` : c.classification;
    lines.push(`| ${markdownCell(check.name)} | ${n(c.canaryMedian)} | ${n(c.baselineMedian)} | ${interval} | ${c.pValue === undefined ? '—' : c.pValue.toPrecision(3)} | ${c.canaryCount} / ${c.baselineCount} | ${cls} |`);
  }
  return lines;
}

/** Every check as a test case; the test cases of commands' JUnit files follow in a suite per check. */
export function junitXml(config: GateConfig, verdict: GateVerdict): string {
  const suites: string[] = [];
  const cases: string[] = [];
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  for (const check of config.checks) {
    const outcome = checkOutcome(verdict, check.name);
    const c = counts(verdict, check.name);
    const measurements = verdict.evaluations.flatMap((e) => e.measurements.filter((m) => m.check === check.name));
    const deciding = [...measurements].reverse().find((m) => m.outcome === outcome) ?? measurements.at(-1);
    const seconds = measurements.reduce((s, m) => s + m.durationMs, 0) / 1000;
    const shown = measurements.map((m, i) => `#${i + 1} ${m.outcome}: ${m.value && !m.message.startsWith(m.value) ? `${m.value}; ` : ''}${m.message}`);
    const out = `${check.kind}: ${target(check)}\npassed ${c.passed}, failed ${c.failed}, inconclusive ${c.inconclusive}, error ${c.error} of ${verdict.evaluations.length} evaluations\n`
      + `${shown.length > JUNIT_MEASUREMENTS ? `(the last ${JUNIT_MEASUREMENTS})\n` : ''}${shown.slice(-JUNIT_MEASUREMENTS).join('\n')}`;
    let body = '';
    const message = deciding ? `${outcome} in ${c[outcome]} of ${measurements.length} evaluations: ${deciding.message}` : 'not evaluated';
    if (outcome === 'failed') { failures++; body = `<failure message="${xmlText(message)}" type="failed">${xmlText(message)}</failure>`; }
    if (outcome === 'error') { errors++; body = `<error message="${xmlText(message)}" type="error">${xmlText(message)}</error>`; }
    if (outcome === 'inconclusive') { skipped++; body = `<skipped message="${xmlText(message)}"/>`; }
    cases.push(`    <testcase name="${xmlText(check.name)}" classname="acceptance-gate.${check.kind}" time="${seconds.toFixed(3)}">${body}<system-out>${xmlText(out)}</system-out></testcase>`);

    const last = [...measurements].reverse().find((m) => m.testCases?.length);
    if (last?.testCases) {
      const tcs = last.testCases;
      const tcLines = tcs.map((t) => {
        const inner = t.outcome === 'failed' ? `<failure message="${xmlText(t.message ?? 'failed')}"/>`
          : t.outcome === 'error' ? `<error message="${xmlText(t.message ?? 'error')}"/>`
            : t.outcome === 'skipped' ? '<skipped/>' : '';
        return `    <testcase name="${xmlText(t.name)}" classname="${xmlText(t.classname ?? t.suite ?? check.name)}" time="${(t.timeSeconds ?? 0).toFixed(3)}">${inner}</testcase>`;
      });
      suites.push(`  <testsuite name="${xmlText(`${check.name} (test command)`)}" tests="${tcs.length}" failures="${tcs.filter((t) => t.outcome === 'failed').length}" errors="${tcs.filter((t) => t.outcome === 'error').length}" skipped="${tcs.filter((t) => t.outcome === 'skipped').length}">\n${tcLines.join('\n')}\n  </testsuite>`);
    }
  }
  const main = `  <testsuite name="Acceptance gate" tests="${config.checks.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${(verdict.durationMs / 1000).toFixed(3)}">\n${cases.join('\n')}\n  </testsuite>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="Acceptance gate">\n${[main, ...suites].join('\n')}\n</testsuites>\n`;
}
