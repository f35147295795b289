import { strict as assert } from 'node:assert';
import type { TaskRun } from '../helpers/agent';
import { skopeoDigest } from '../helpers/images';
import { digestOrNothing, type Fixture, usePromoteFixture } from './promote-image-fixture';

describe('PromoteImage@1 with several target tags, one of them taken', function () {
  this.timeout(120_000);
  let f: Fixture;
  usePromoteFixture((fixture) => { f = fixture; });

  const methods: ['ociCopy' | 'acrImport', (fx: Fixture, inputs: Record<string, string | boolean>) => Promise<TaskRun>][] = [
    ['ociCopy', (fx, inputs) => fx.ociRun({ ...inputs, method: 'ociCopy' })],
    ['acrImport', (fx, inputs) => fx.azureRun({ ...inputs, method: 'acrImport' })],
  ];
  for (const [method, promote] of methods) {
    it(`refuses with ${method} when a later tag points at another digest, and leaves production as it was`, async () => {
      const s = await f.seed({ referrers: 'none' });
      const other = await f.seed({ referrers: 'none' });
      const taken = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${other.repository}:${other.tag}`, targetRepository: s.repository, targetTags: 'stable' });
      assert.equal(taken.result?.status, 'Succeeded', taken.result?.message);

      const run = await promote(f, { sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, targetTags: 'v2\nrelease\nstable' });
      assert.equal(run.result?.status, 'Failed', run.result?.message);
      assert.ok(run.logLines.some((l) => (method === 'acrImport' ? /using ACR import/ : /Using an OCI registry-to-registry copy/).test(l)), run.logLines.join('\n'));
      assert.match(run.result!.message, new RegExp(`^Tag stable of ${f.prod.loginServer}/${s.repository} already points at ${other.digest}, not at ${s.digest}\\. Nothing was changed\\.`));
      assert.doesNotMatch(run.result!.message, /Tag (v2|release) /, 'only the taken tag is named');
      const summary = run.summaries[0]?.content ?? '';
      assert.match(summary, /\*\*Refused\*\*.*Nothing was changed/, 'the summary says what was refused and that nothing changed');
      assert.ok(summary.includes(`| Tag \`stable\` | already points at \`${other.digest}\` |`), summary);
      assert.ok(summary.includes(s.digest) && !/`(v2|release)`/.test(summary), 'the summary names the digest and the taken tag only');
      assert.equal(await skopeoDigest(f.prod, `${s.repository}:stable`), other.digest, 'stable did not move');
      for (const tag of ['v2', 'release']) assert.equal(await digestOrNothing(f.prod, `${s.repository}:${tag}`), undefined, `no tag ${tag} was written`);
      assert.equal(await digestOrNothing(f.prod, `${s.repository}@${s.digest}`), undefined, 'nothing was copied');
    });
  }
});
