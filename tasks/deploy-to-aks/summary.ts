import type { DeployResult } from './run';

const STATUS_TEXT = { ready: 'ready', failed: 'failed', progressDeadline: 'progress deadline exceeded', timeout: 'timed out', stopped: 'not finished' } as const;

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** The Markdown summary tab: each object's action and each workload's rollout result. */
export function summaryMarkdown(result: DeployResult): string {
  const lines = [
    `### ${result.dryRun ? 'Dry run against' : 'Deployment to'} ${cell(result.cluster)}`,
    '',
    `**${result.ok ? 'Succeeded' : 'Failed'}**: ${cell(result.reason)}`,
    '',
    '| Object | Namespace | Action |',
    '|---|---|---|',
    ...result.objects.map((o) => `| ${o.kind}/${cell(o.name)} | ${o.namespace ?? ''} | ${o.action}${o.note ? `: ${cell(o.note)}` : ''} |`),
  ];
  if (result.rollouts.length) {
    lines.push('', '| Workload | Rollout | Time | Detail |', '|---|---|---|---|');
    for (const r of result.rollouts) lines.push(`| ${r.kind}/${cell(r.namespace)}/${cell(r.name)} | ${STATUS_TEXT[r.status]} | ${r.seconds} s | ${cell(r.message)} |`);
    const failed = result.rollouts.find((r) => r.details.length);
    if (failed) lines.push('', `Details of ${failed.workload}:`, '', ...failed.details.map((d) => `- ${cell(d)}`));
  }
  if (result.images.length) lines.push('', 'Images:', '', ...result.images.map((i) => `- \`${i}\``));
  return `${lines.join('\n')}\n`;
}
