import { markdownCell } from '../common/format';
import { formatDuration } from '../common/log';
import type { DeployResult } from './run';
import { percent } from './traffic/split';

const STATUS_TEXT = { ready: 'ready', failed: 'failed', progressDeadline: 'progress deadline exceeded', superseded: 'superseded by another writer', timeout: 'timed out', stopped: 'not finished' } as const;

/** The Markdown summary tab: each object's action and each workload's rollout result. */
export function summaryMarkdown(result: DeployResult): string {
  const lines = [
    `### ${result.dryRun ? 'Dry run against' : 'Deployment to'} ${markdownCell(result.cluster)}`,
    '',
    `**${result.ok ? (result.withIssues ? 'Succeeded with issues' : 'Succeeded') : 'Failed'}**: ${markdownCell(result.reason)}`,
    '',
    '| Object | Namespace | Action |',
    '|---|---|---|',
    ...result.objects.map((o) => `| ${o.kind}/${markdownCell(o.name)} | ${o.namespace ?? ''} | ${o.action}${o.note ? `: ${markdownCell(o.note)}` : ''} |`),
  ];
  if (result.rollouts.length) {
    lines.push('', '| Workload | Rollout | Time | Detail |', '|---|---|---|---|');
    for (const r of result.rollouts) lines.push(`| ${r.kind}/${markdownCell(r.namespace)}/${markdownCell(r.name)} | ${STATUS_TEXT[r.status]} | ${formatDuration(r.seconds * 1000)} | ${markdownCell(r.message)} |`);
    for (const failed of result.rollouts.filter((r) => r.details.length)) {
      lines.push('', `Details of ${failed.workload}:`, '', ...failed.details.map((d) => `- ${markdownCell(d)}`));
    }
  }
  const traffic = result.strategy?.traffic;
  if (traffic) {
    lines.push('', `**Traffic**: ${markdownCell(traffic.words)}.`);
    if (traffic.rows.length) {
      lines.push('', '| Backend | Pods | Weight | Share |', '|---|---|---|---|');
      for (const r of traffic.rows) lines.push(`| ${markdownCell(r.backend)} | ${r.pods} | ${r.weight ?? '—'} | ${percent(r.share)} |`);
    }
  }
  if (result.strategy?.activeColour !== undefined) lines.push('', `Live colour: ${result.strategy.activeColour || 'none yet'}.`);
  if (result.images.length) lines.push('', 'Images:', '', ...result.images.map((i) => `- \`${i}\``));
  return `${lines.join('\n')}\n`;
}
