import { strict as assert } from 'node:assert';
import { UserError } from '../../../tasks/common/errors';
import { planTags, tagsToWrite } from '../../../tasks/promote-image/tags';

const digest = `sha256:${'a'.repeat(64)}`;
const other = `sha256:${'b'.repeat(64)}`;
const third = `sha256:${'c'.repeat(64)}`;
const where = '127.0.0.1:5001/shop/web';
/** The promotion's target: the production repository, for the build pushed to the non-production registry. */
const target = (overwriteTags: boolean) => ({ where, source: '127.0.0.1:5000/shop/web:1.0', digest, overwriteTags });

describe('promote-image tags: which target tags conflict with the promoted digest', () => {
  it('creates an absent tag, keeps one that points at the digest, and writes only the created', () => {
    const plans = planTags(['v1', 'stable'], [undefined, digest], target(false));
    assert.deepEqual(plans, [
      { tag: 'v1', before: 'absent', previousDigest: undefined, action: 'created' },
      { tag: 'stable', before: 'same', previousDigest: digest, action: 'kept' },
    ]);
    assert.deepEqual(tagsToWrite(plans), ['v1']);
  });

  it('refuses a tag that points at another digest, naming every conflict and the fix, unless overwriteTags', () => {
    const refuse = () => planTags(['v1', 'stable', 'latest'], [other, digest, third], target(false));
    assert.throws(refuse, (err: unknown) => {
      assert.ok(err instanceof UserError, 'a conflict is the user\'s to resolve, not a fault');
      assert.equal(err.message, `Tag v1 of ${where} already points at ${other}; Tag latest of ${where} already points at ${third}, not at ${digest}. `
        + 'Nothing was changed. Promote under a new tag, or set overwriteTags to true to move it.');
      return true;
    });
  });

  it('moves a conflicting tag with overwriteTags, saying where it pointed', () => {
    const plans = planTags(['v1', 'stable'], [other, digest], target(true));
    assert.deepEqual(plans, [
      { tag: 'v1', before: 'other', previousDigest: other, action: 'moved' },
      { tag: 'stable', before: 'same', previousDigest: digest, action: 'kept' },
    ]);
    assert.deepEqual(tagsToWrite(plans), ['v1']);
  });

  it('has nothing to refuse or write without tags, or when every tag points at the digest already', () => {
    assert.deepEqual(planTags([], [], target(false)), []);
    assert.deepEqual(tagsToWrite(planTags(['v1', 'v2'], [digest, digest], target(false))), []);
  });

  it('writes every absent or moved tag, in the order given', () => {
    const plans = planTags(['a', 'b', 'c', 'd'], [undefined, digest, other, undefined], target(true));
    assert.deepEqual(plans.map((p) => p.action), ['created', 'kept', 'moved', 'created']);
    assert.deepEqual(tagsToWrite(plans), ['a', 'c', 'd']);
  });
});
