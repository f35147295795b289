import { TagConflict } from './refusal';

/** What a target tag pointed at before the promotion: nothing, the promoted digest, or another digest. */
export type TagState = 'absent' | 'same' | 'other';

export interface TagPlan {
  tag: string;
  before: TagState;
  previousDigest?: string;
  action: 'kept' | 'created' | 'moved';
}

export interface TagTarget {
  /** `registry/repository`, for the messages. */
  where: string;
  /** The promoted image's reference, for the refusal's summary. */
  source: string;
  digest: string;
  overwriteTags: boolean;
}

/**
 * What becomes of each target tag, given the digest each points at now (`undefined`: the tag does not exist).
 * A tag that points at another digest is a conflict: without overwriteTags nothing may change, so every conflicting
 * tag is named in one error before anything is written.
 */
export function planTags(tags: string[], current: (string | undefined)[], target: TagTarget): TagPlan[] {
  const plans = tags.map((tag, i): TagPlan => {
    const previousDigest = current[i];
    const before: TagState = !previousDigest ? 'absent' : previousDigest === target.digest ? 'same' : 'other';
    return { tag, before, previousDigest, action: before === 'same' ? 'kept' : before === 'absent' ? 'created' : 'moved' };
  });
  const blocked = plans.filter((t) => t.before === 'other');
  if (blocked.length && !target.overwriteTags) {
    throw new TagConflict(target.source, target.digest, target.where, blocked.map((t) => ({ tag: t.tag, previousDigest: t.previousDigest! })));
  }
  return plans;
}

/** The tags the promotion writes: created or moved, not those that already point at the digest. */
export function tagsToWrite(plans: TagPlan[]): string[] {
  return plans.filter((t) => t.before !== 'same').map((t) => t.tag);
}
