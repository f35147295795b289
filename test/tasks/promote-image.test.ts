import { strict as assert } from 'node:assert';
import { runTask, secretLeaks } from '../helpers/agent';
import { mergeRunOptions, registryConnection } from '../helpers/connections';
import { skopeoDigest, skopeoRaw } from '../helpers/images';
import { SBOM, SIGNATURE, digestOrNothing, referrerDigests, type Fixture, usePromoteFixture } from './promote-image-fixture';

describe('PromoteImage@1 with an OCI copy (agent run)', function () {
  this.timeout(120_000);
  let f: Fixture;
  usePromoteFixture((fixture) => { f = fixture; });

  it('promotes a tag by its digest with its referrers (tag fallback), and a second run changes nothing', async () => {
    const s = await f.seed();
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, method: 'ociCopy' });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(run.outputs.imageDigest, s.digest);
    assert.equal(run.outputs.promotedImage, `${f.prod.loginServer}/${s.repository}@${s.digest}`);
    assert.equal(run.outputs.promotedTags, s.tag);
    assert.ok(run.logLines.some((l) => l.includes(`Tag ${s.tag} of ${f.nonprod.loginServer}/${s.repository} points at ${s.digest}`)), 'the log says which digest the tag meant');
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
    for (const d of [s.signature, s.sbom, s.sbomSignature]) assert.equal(await skopeoDigest(f.prod, `${s.repository}@${d}`), d);
    assert.deepEqual(referrerDigests(await skopeoRaw(f.prod, `${s.repository}:sha256-${s.digest.slice(7)}`)), [s.signature, s.sbom].sort());
    assert.deepEqual(referrerDigests(await skopeoRaw(f.prod, `${s.repository}:sha256-${s.sbom.slice(7)}`)), [s.sbomSignature]);
    const summary = run.summaries[0]?.content ?? '';
    for (const text of [s.digest, s.repository, 'copied', s.tag, SIGNATURE, SBOM]) assert.ok(summary.includes(text), `summary shows ${text}`);
    assert.deepEqual(secretLeaks(run, [f.prod.password, f.env.registries.nonprod.pull.password]), []);

    const again = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, method: 'ociCopy' });
    assert.equal(again.result?.status, 'Succeeded', again.result?.message);
    assert.match(again.result!.message, /Already promoted/);
    assert.ok(again.logLines.some((l) => /already points at/.test(l)));
    assert.ok(again.summaries[0]?.content.includes('Already promoted'));
  });

  it('promotes a multi-architecture index with every child, through the referrers API and Entra tokens', async () => {
    f.env.registries.nonprod.acr.referrersApi = true;
    f.env.registries.prod.acr.referrersApi = true;
    const s = await f.seed({ multiArch: true, referrers: 'api' });
    const run = await f.azureRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}@${s.digest}`, targetTags: 'release-7\nstable', method: 'ociCopy' }, 'federated');
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(run.outputs.promotedTags, 'release-7,stable');
    for (const tag of ['release-7', 'stable']) assert.equal(await skopeoDigest(f.prod, `${s.repository}:${tag}`), s.digest);
    for (const child of s.children) assert.equal(await skopeoDigest(f.prod, `${s.repository}@${child}`), child);
    const indexed = f.env.registries.prod.acr.referrers.get(s.repository);
    assert.deepEqual([...(indexed?.get(s.digest)?.keys() ?? [])].sort(), [s.signature, s.sbom].sort());
    assert.deepEqual([...(indexed?.get(s.sbom)?.keys() ?? [])], [s.sbomSignature]);
    assert.equal(await digestOrNothing(f.prod, `${s.repository}:sha256-${s.digest.slice(7)}`), undefined, 'no fallback tag where the API serves referrers');
  });

  it('promotes a Docker manifest list with every child manifest, keeping the digests', async () => {
    const s = await f.seed({ multiArch: true, docker: true });
    assert.equal(s.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
    assert.equal(s.children.length, 2);
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}` });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
    for (const child of s.children) assert.equal(await skopeoDigest(f.prod, `${s.repository}@${child}`), child);
  });

  it('promotes a digest without tags (untagged) and without referrers when copyReferrers is false', async () => {
    const s = await f.seed();
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}@${s.digest}`, copyReferrers: false, targetRepository: `${s.repository}-prod` });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(run.outputs.promotedTags, '');
    assert.equal(await skopeoDigest(f.prod, `${s.repository}-prod@${s.digest}`), s.digest);
    assert.equal(await digestOrNothing(f.prod, `${s.repository}-prod@${s.signature}`), undefined);
  });

  it('refuses to move a tag that points at another digest, and moves it with overwriteTags', async () => {
    const s = await f.seed({ referrers: 'none' });
    const other = await f.seed({ referrers: 'none' });
    const first = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${other.repository}:${other.tag}`, targetRepository: s.repository });
    assert.equal(first.result?.status, 'Succeeded', first.result?.message);
    const refused = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}` });
    assert.equal(refused.result?.status, 'Failed');
    assert.match(refused.result!.message, new RegExp(`Tag ${s.tag} of .* already points at ${other.digest}.*Nothing was changed.*overwriteTags`));
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), other.digest);
    assert.equal(await digestOrNothing(f.prod, `${s.repository}@${s.digest}`), undefined, 'nothing was copied');
    const moved = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, overwriteTags: true });
    assert.equal(moved.result?.status, 'Succeeded', moved.result?.message);
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
    assert.ok(moved.summaries[0]?.content.includes(`moved from \`${other.digest}\``));
  });

  it('locks the promoted tag and digest on ACR, and a locked tag then refuses to move', async () => {
    const s = await f.seed({ referrers: 'none' });
    const run = await f.azureRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, method: 'ociCopy', lockPromotedImage: true });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    const acr = f.env.registries.prod.acr;
    assert.equal(acr.tagAttributes.get(`${s.repository}:${s.tag}`)?.writeEnabled, false);
    assert.equal(acr.manifestAttributes.get(`${s.repository}@${s.digest}`)?.deleteEnabled, false);
    const other = await f.seed({ referrers: 'none' });
    const moved = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${other.repository}:${other.tag}`, targetRepository: s.repository, overwriteTags: true });
    assert.equal(moved.result?.status, 'Failed');
    assert.match(moved.result!.message, /does not allow PUT .*locked tag or manifest/);
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
  });

  it('mounts blobs across repositories inside one registry instead of copying them', async () => {
    const s = await f.seed({ referrers: 'none' });
    const conn = registryConnection(f.nonprod.loginServer, f.nonprod.username, f.nonprod.password);
    const run = await runTask('promote-image', mergeRunOptions({
      caFile: f.env.ca.caCertPath, endpoints: conn.endpoints,
      inputs: { sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, targetRegistry: f.nonprod.loginServer, targetRepository: `${s.repository}/release`, sourceRegistryConnection: conn.id, targetRegistryConnection: conn.id },
    }));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(await skopeoDigest(f.nonprod, `${s.repository}/release:${s.tag}`), s.digest);
    assert.match(run.summaries[0]?.content ?? '', /0\.0 MB copied \(0 blobs\), [0-9.]+ MB mounted \(4 blobs\)/);
  });

  it('gets blob downloads from the storage the source registry sends them to (as ACR does), without its credential, keeping connections to both', async () => {
    // Twelve layers and the config: thirteen downloads, six at a time.
    const s = await f.seed({ referrers: 'none', layerSizes: Array.from({ length: 12 }, (_, i) => 5000 + i) });
    const source = f.env.registries.nonprod.registry;
    const storage = await source.redirectBlobDownloads(true);
    const [registryBefore, storageBefore, requestsBefore] = [source.connections, storage.connections, storage.requests.length];
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, method: 'ociCopy' });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
    assert.match(run.summaries[0]?.content ?? '', /copied \(13 blobs\)/);
    const downloads = storage.requests.slice(requestsBefore);
    assert.equal(downloads.length, 13, 'every blob came from the storage');
    assert.deepEqual(downloads.filter((r) => r.authorization !== undefined), [], 'the storage never got the registry\'s authorization');
    // Six for the downloads; the registry's pool has a few more for the probe, the token, the manifest and the referrers.
    assert.ok(storage.connections - storageBefore <= 6, `the storage accepted ${storage.connections - storageBefore} TLS connections for 13 downloads`);
    assert.ok(source.connections - registryBefore <= 9, `the registry accepted ${source.connections - registryBefore} TLS connections`);
    assert.deepEqual(secretLeaks(run, [f.prod.password, f.env.registries.nonprod.pull.password]), []);
  });

  it('survives dropped blob uploads, 429 and 503 from the registry, with the same digest at the end', async () => {
    const s = await f.seed({ multiArch: true });
    const faults = f.env.registries.prod.registry.faults;
    faults.failNext('drop', 2, { match: /^PUT .*\/blobs\/uploads\// });
    faults.failNext('429', 1, { match: /^PUT .*\/manifests\//, retryAfterSeconds: 0 });
    faults.failNext('503', 1, { match: /^HEAD .*\/blobs\// });
    f.env.registries.nonprod.registry.faults.failNext('drop', 1, { match: /^GET .*\/blobs\// });
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}` });
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.deepEqual([faults.served.drop, faults.served['429'], faults.served['503'], f.env.registries.nonprod.registry.faults.served.drop], [2, 1, 1, 1]);
    assert.equal(await skopeoDigest(f.prod, `${s.repository}:${s.tag}`), s.digest);
    for (const child of s.children) assert.equal(await skopeoDigest(f.prod, `${s.repository}@${child}`), child);
  });

  it('leaves no tag pointing at a partial image when uploads keep failing', async () => {
    const s = await f.seed({ referrers: 'none' });
    f.env.registries.prod.registry.faults.setRates({ rateDrop: 1, match: /^PUT .*\/blobs\/uploads\// });
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}` });
    assert.equal(run.result?.status, 'Failed');
    f.env.clearFaults();
    assert.equal(await digestOrNothing(f.prod, `${s.repository}:${s.tag}`), undefined);
    assert.equal(await digestOrNothing(f.prod, `${s.repository}@${s.digest}`), undefined);
  });
});
