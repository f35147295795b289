import { markdownCell } from '../../common/format';
import { describeObjects, type GitOpsResult } from './deliver';

/** The Markdown summary of a GitOps delivery: the commit (linked), the pull request, and Flux's verdict per Kustomization and object. */
export function gitOpsSummaryMarkdown(result: GitOpsResult): string {
  const lines = [
    `### GitOps delivery to ${markdownCell(result.repository)}/${markdownCell(result.path)} (${markdownCell(result.branch)})`,
    '',
    `**${result.ok ? 'Succeeded' : 'Failed'}**: ${markdownCell(result.reason)}`,
    '',
  ];
  if (result.commit) lines.push(`- Commit: [${result.commit.sha.slice(0, 8)}](${result.commit.url})`);
  if (result.pullRequest) lines.push(`- Pull request: [!${result.pullRequest.id}](${result.pullRequest.url}) (${result.pullRequest.state})`);
  if (result.appliedRevision) lines.push(`- Applied revision: \`${result.appliedRevision}\``);
  lines.push('', '| File | Change |', '|---|---|', ...result.files.map((f) => `| \`${markdownCell(f.path)}\` | ${f.action} |`));
  if (result.flux) {
    lines.push('', `Flux configuration **${markdownCell(result.flux.configuration)}**: ${markdownCell(result.flux.verdict)}`, '', '| Kind | Object | Compliance | Condition |', '|---|---|---|---|');
    for (const s of result.flux.statuses) {
      const ready = s.conditions.find((c) => c.type === 'Ready') ?? s.conditions[0];
      const condition = ready ? `${ready.type}=${ready.status} ${ready.reason ?? ''}: ${ready.message ?? ''}` : '';
      lines.push(`| ${s.kind} | ${markdownCell(s.namespace ? `${s.namespace}/${s.name}` : s.name)} | ${s.complianceState} | ${markdownCell(condition)} |`);
    }
    const failing = describeObjects(result.flux.statuses.filter((s) => s.appliedBy));
    if (failing.length) lines.push('', ...failing.map((l) => `- ${markdownCell(l)}`));
  }
  if (result.images.length) lines.push('', 'Images (pinned by digest):', '', ...result.images.map((i) => `- \`${i}\``));
  return `${lines.join('\n')}\n`;
}
