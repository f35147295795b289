import { strict as assert } from 'node:assert';
import type { RecordedRequest } from '../env/registry';
import { skopeoDigest } from '../helpers/images';
import { type Fixture, usePromoteFixture } from './promote-image-fixture';

describe('PromoteImage@1 writes the target tags last', function () {
  this.timeout(120_000);
  let f: Fixture;
  usePromoteFixture((fixture) => { f = fixture; });

  it('puts no target tag before every blob and manifest of the image and its referrers is in the registry', async () => {
    const s = await f.seed({ multiArch: true, referrers: 'tag' });
    const registry = f.env.registries.prod.registry;
    // The signature of the SBOM (a referrer of a referrer) is stored slowly: a tag put before it finished would show.
    registry.faults.failNext('slow', 1, { match: new RegExp(`^PUT /v2/${s.repository}/manifests/${s.sbomSignature}$`), slowMs: 1500 });
    const recorder = registry.recordRequests();
    const run = await f.ociRun({ sourceImage: `${f.nonprod.loginServer}/${s.repository}:${s.tag}`, targetTags: 'v3\nstable', method: 'ociCopy' });
    const requests = recorder.stop().filter((r) => r.path.startsWith(`/v2/${s.repository}/`));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(registry.faults.served.slow, 1, 'the slow write happened');

    const isWrite = (r: RecordedRequest) => ['PUT', 'POST', 'PATCH'].includes(r.method) && (r.status ?? 0) < 400;
    const tagPut = (r: RecordedRequest) => r.method === 'PUT' && /\/manifests\/(v3|stable)$/.test(r.path);
    const content = requests.filter((r) => isWrite(r) && (/\/blobs\/uploads\//.test(r.path) || /\/manifests\/sha256:[0-9a-f]{64}$/.test(r.path)));
    const tags = requests.filter(tagPut);
    const manifests = content.filter((r) => r.path.includes('/manifests/')).map((r) => r.path.slice(r.path.lastIndexOf('/') + 1));
    for (const d of [...s.children, s.signature, s.sbom, s.sbomSignature]) assert.ok(manifests.includes(d), `${d} was put by digest`);
    // The image's own manifest is put once, under its first tag, which stores and tags it in one request.
    assert.ok(!manifests.includes(s.digest), `${s.digest} was put by digest too`);
    assert.deepEqual(tags.map((r) => r.path.slice(r.path.lastIndexOf('/') + 1)).sort(), ['stable', 'v3']);
    const lastContent = Math.max(...content.map((r) => r.finished ?? Infinity));
    const firstTag = Math.min(...tags.map((r) => r.started));
    const early = content.filter((r) => (r.finished ?? Infinity) > firstTag).map((r) => `${r.method} ${r.path}`);
    assert.ok(firstTag > lastContent, `a tag was put while these writes had not finished: ${early.join(', ')}`);
    for (const tag of ['v3', 'stable']) assert.equal(await skopeoDigest(f.prod, `${s.repository}:${tag}`), s.digest);
  });
});
