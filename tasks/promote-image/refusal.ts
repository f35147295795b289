import { UserError } from '../common/errors';

/** A target tag that already points at another digest. */
export interface BlockedTag {
  tag: string;
  previousDigest: string;
}

/**
 * The promotion refused because target tags point at other digests and overwriteTags is false. It is a UserError
 * (the entry fails the task with its message) that also carries what the summary tab shows.
 */
export class TagConflict extends UserError {
  constructor(
    readonly source: string,
    readonly digest: string,
    readonly target: string,
    readonly blocked: BlockedTag[],
  ) {
    super(`${blocked.map((t) => `Tag ${t.tag} of ${target} already points at ${t.previousDigest}`).join('; ')}, not at ${digest}. Nothing was changed. Promote under a new tag, or set overwriteTags to true to move it.`);
  }
}

/** The summary of a refused promotion: what was refused, why, and that the target was left as it was. */
export function refusalMarkdown(r: TagConflict): string {
  const lines = [
    `**Refused**: ${r.blocked.length > 1 ? 'tags point' : 'a tag points'} at another digest in \`${r.target}\`. Nothing was changed.`,
    '',
    '| What | Value |',
    '|---|---|',
    `| Source | \`${r.source}\` |`,
    `| Digest | \`${r.digest}\` |`,
    ...r.blocked.map((t) => `| Tag \`${t.tag}\` | already points at \`${t.previousDigest}\` |`),
    '| Changed | nothing: no blob, manifest or tag was written |',
    '',
    'Promote under a new tag, or set `overwriteTags: true` to move the tag.',
  ];
  return `${lines.join('\n')}\n`;
}
