import { strict as assert } from 'node:assert';
import { secretLeaks } from '../helpers/agent';
import { skopeoDigest, skopeoRaw } from '../helpers/images';
import { digestOrNothing, referrerDigests, type Fixture, usePromoteFixture } from './promote-image-fixture';

describe('PromoteImage@1 with ACR import (agent run)', function () {
  this.timeout(120_000);
  let f: Fixture;
  usePromoteFixture((fixture) => { f = fixture; });

  const importsFor = (repository: string) => f.env.acrImports.filter((i) => i.body.source?.sourceImage?.startsWith(`${repository}@`));

  it('chooses ACR import for an ACR of the subscription, imports by digest, then imports each referrer and locks', async () => {
    const s = await f.seed();
    const run = await f.azureRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, lockPromotedImage: true });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.ok(run.logLines.some((l) => l.includes(`is the ACR ${f.env.registries.prod.name}`)), 'the log says why ACR import was chosen');
    const imports = importsFor(s.repository);
    assert.equal(imports.length, 4, 'the image and three referrers');
    assert.deepEqual(imports[0].body, {
      source: { resourceId: f.env.registries.nonprod.resourceId, sourceImage: `${s.repository}@${s.digest}` },
      targetTags: [`${s.repository}:${s.tag}`], mode: 'NoForce',
    });
    assert.deepEqual(imports.slice(1).map((i) => i.body.untaggedTargetRepositories), [[s.repository], [s.repository], [s.repository]]);
    assert.ok(imports.every((i) => i.outcome === 'succeeded'));
    for (const i of imports) assert.ok(run.logLines.some((l) => l.includes(`operation ${i.operationId}`)), `operation id ${i.operationId} logged`);
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
    for (const d of [s.signature, s.sbom, s.sbomSignature]) assert.equal(await skopeoDigest(f.prod, `${s.repository}@${d}`), d);
    assert.deepEqual(referrerDigests(await skopeoRaw(f.prod, `${s.repository}:sha256-${s.digest.slice(7)}`)), [s.signature, s.sbom].sort());
    const prodAcr = f.env.registries.prod.acr;
    assert.deepEqual(prodAcr.tagAttributes.get(`${s.repository}:${s.tag}`), { writeEnabled: false, deleteEnabled: false, readEnabled: true, listEnabled: true });
    assert.equal(prodAcr.manifestAttributes.get(`${s.repository}@${s.digest}`)?.writeEnabled, false);
    assert.match(run.summaries[0]?.content ?? '', /ACR import[\s\S]*server-side[\s\S]*Locked \| yes/);
    assert.deepEqual(secretLeaks(run, [f.env.identities.secret.clientSecret]), []);

    // Promoting again: a quick success that changes nothing and starts no import.
    const again = await f.azureRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, lockPromotedImage: true });
    assert.equal(again.result?.status, 'Succeeded', again.result?.message);
    assert.match(again.result!.message, /Already promoted/);
    assert.equal(importsFor(s.repository).length, 4);

    // A locked tag is not moved even with overwriteTags: the registry refuses and the tag stays.
    const other = await f.seed({ referrers: 'none' });
    prodAcr.tagAttributes.set(`${s.repository}:${s.tag}`, { writeEnabled: false, deleteEnabled: false, readEnabled: true, listEnabled: true });
    const locked = await f.azureRun({ sourceImage: `${f.nonprod.loginServer}/${other.repository}:${other.tag}`, targetRepository: s.repository, overwriteTags: true, copyReferrers: false });
    assert.equal(locked.result?.status, 'Failed');
    assert.match(locked.result!.message, /locked/);
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
  });

  it('imports a multi-architecture index with all platforms, through the referrers API', async () => {
    f.env.registries.nonprod.acr.referrersApi = true;
    f.env.registries.prod.acr.referrersApi = true;
    const s = await f.seed({ multiArch: true, referrers: 'api' });
    const run = await f.azureRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}@${s.digest}`, targetTags: 'v7', method: 'acrImport' }, 'federated');
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:v7`), s.digest);
    for (const child of s.children) assert.equal(await skopeoDigest(f.prod, `${s.repository}@${child}`), child);
    assert.deepEqual([...(f.env.registries.prod.acr.referrers.get(s.repository)?.get(s.digest)?.keys() ?? [])].sort(), [s.signature, s.sbom].sort());
    assert.equal(await digestOrNothing(f.prod, `${s.repository}:sha256-${s.digest.slice(7)}`), undefined);
  });

  it('fails before importing when a target tag points at another digest, and imports with Force when allowed', async () => {
    const s = await f.seed({ referrers: 'none' });
    const other = await f.seed({ referrers: 'none' });
    assert.equal((await f.azureRun({ sourceImage: `${f.nonprod.loginServer}/${other.repository}:${other.tag}`, targetRepository: s.repository })).result?.status, 'Succeeded');
    const refused = await f.azureRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}` });
    assert.equal(refused.result?.status, 'Failed');
    assert.match(refused.result!.message, /already points at .*Nothing was changed/);
    assert.equal(importsFor(s.repository).length, 0, 'no import was started');
    const forced = await f.azureRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, overwriteTags: true });
    assert.equal(forced.result?.status, 'Succeeded', forced.result?.message);
    assert.equal(importsFor(s.repository)[0].body.mode, 'Force');
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
  });

  it('survives 429 and 500 from ARM and a 503 while polling, with the same digest at the end', async () => {
    const s = await f.seed({ referrers: 'none' });
    const faults = f.env.arm.faults;
    faults.failNext('429', 1, { match: /importImage/, retryAfterSeconds: 1 });
    faults.failNext('500', 1, { match: /registries\?/ });
    faults.failNext('503', 1, { match: /operationResults/ });
    const run = await f.azureRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}` });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.deepEqual([faults.served['429'], faults.served['500'], faults.served['503']], [1, 1, 1]);
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
  });
});
