import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Environment, RegistryHandle } from '../env';
import { runTask, secretLeaks, type RunOptions, type TaskRun } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions, registryConnection } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { OciLayout, skopeoCertDir, skopeoDigest, skopeoPush, skopeoPushByDigest, skopeoRaw, type Blob, type SkopeoTarget } from '../helpers/images';

export interface Seeded {
  repository: string;
  tag: string;
  digest: string;
  /** Child manifests of a multi-architecture image. */
  children: string[];
  signature: string;
  sbom: string;
  /** A signature of the SBOM: a referrer of a referrer. */
  sbomSignature: string;
}

export interface Fixture {
  env: Environment;
  nonprod: SkopeoTarget;
  prod: SkopeoTarget;
  seed(options?: { multiArch?: boolean; referrers?: 'api' | 'tag' | 'none'; tag?: string }): Promise<Seeded>;
  /** Runs the built task with basic credentials for both registries and the given inputs. */
  ociRun(inputs: RunOptions['inputs'], extra?: Partial<RunOptions>): Promise<TaskRun>;
  /** Runs the built task with an AzureRM connection (Entra tokens for both registries, ARM for import). */
  azureRun(inputs: RunOptions['inputs'], kind?: 'secret' | 'federated' | 'noAccess', extra?: Partial<RunOptions>): Promise<TaskRun>;
}

const SIGNATURE = 'application/vnd.cncf.notary.signature';
const SBOM = 'application/spdx+json';

/** The shared environment, skopeo targets for both registries, and image seeding with referrers. */
export async function promoteFixture(): Promise<Fixture> {
  const env = await sharedEnvironment();
  const certDir = skopeoCertDir(env.ca.caCertPath, path.join(env.dir, 'skopeo-certs-promote'));
  const target = (h: RegistryHandle): SkopeoTarget => ({ loginServer: h.registry.loginServer, username: h.push.username, password: h.push.password, certDir });
  const nonprod = target(env.registries.nonprod);
  const prod = target(env.registries.prod);
  const conns = () => {
    const src = registryConnection(nonprod.loginServer, env.registries.nonprod.pull.username, env.registries.nonprod.pull.password);
    const dst = registryConnection(prod.loginServer, prod.username, prod.password);
    return { src, dst };
  };
  return {
    env, nonprod, prod,
    async seed(options = {}) {
      const layout = new OciLayout(fs.mkdtempSync(path.join(os.tmpdir(), 'promote-oci-')));
      const repository = `shop/web-${randomBytes(4).toString('hex')}`;
      const tag = options.tag ?? '1.4.2';
      const image = options.multiArch
        ? layout.multiArch([{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }], [3000, 5000])
        : layout.image([4000, 6000, 2000]);
      layout.tag(image, tag);
      await skopeoPush(layout, tag, nonprod, repository, tag);
      const children = options.multiArch
        ? (JSON.parse(fs.readFileSync(path.join(layout.dir, 'blobs/sha256', image.digest.slice(7)), 'utf8')) as { manifests: Blob[] }).manifests.map((m) => m.digest)
        : [];
      const referrers = options.referrers ?? 'tag';
      if (referrers === 'none') return { repository, tag, digest: image.digest, children, signature: '', sbom: '', sbomSignature: '' };
      const signature = layout.artifact(image, SIGNATURE, randomBytes(300), 'application/jose+json', { 'io.cncf.notary.x509chain.thumbprint#S256': '["abc"]' });
      const sbom = layout.artifact(image, SBOM, Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: repository })), 'application/spdx+json');
      const sbomSignature = layout.artifact(sbom, SIGNATURE, randomBytes(200), 'application/jose+json');
      for (const [i, a] of [signature, sbom, sbomSignature].entries()) {
        layout.tag(a, `ref-${i}`);
        await skopeoPushByDigest(layout, `ref-${i}`, nonprod, repository, a.digest);
      }
      if (referrers === 'tag') {
        // skopeo 1.9 cannot write an index whose descriptors carry artifactType without converting it, so the
        // fallback indexes are put with a plain PUT, as a client of a registry without the referrers API does.
        const put = async (blob: Blob, tagName: string) => {
          const bytes = fs.readFileSync(path.join(layout.dir, 'blobs/sha256', blob.digest.slice(7)));
          const registry = env.registries.nonprod.registry;
          const res = await fetch(`${registry.backendUrl}/v2/${repository}/manifests/${tagName}`, {
            method: 'PUT', body: bytes,
            headers: { 'content-type': blob.mediaType, authorization: `Bearer ${registry.issueToken('test', [{ type: 'repository', name: repository, actions: ['pull', 'push'] }])}` },
          });
          assert.equal(res.status, 201, await res.text());
        };
        await put(layout.referrersIndex([signature, sbom]), `sha256-${image.digest.slice(7)}`);
        await put(layout.referrersIndex([sbomSignature]), `sha256-${sbom.digest.slice(7)}`);
      }
      fs.rmSync(layout.dir, { recursive: true, force: true });
      return { repository, tag, digest: image.digest, children, signature: signature.digest, sbom: sbom.digest, sbomSignature: sbomSignature.digest };
    },
    ociRun(inputs, extra = {}) {
      const { src, dst } = conns();
      return runTask('promote-image', mergeRunOptions({
        caFile: env.ca.caCertPath, endpoints: { ...src.endpoints, ...dst.endpoints },
        inputs: { targetRegistry: prod.loginServer, sourceRegistryConnection: src.id, targetRegistryConnection: dst.id, ...inputs },
      }, extra));
    },
    azureRun(inputs, kind = 'secret', extra = {}) {
      const { id, options } = azureRmConnection(env, kind);
      return runTask('promote-image', mergeRunOptions(options, { inputs: { targetRegistry: prod.loginServer, azureSubscription: id, ...inputs } }, extra));
    },
  };
}

/** Digest of `reference` in the registry, or undefined when skopeo cannot find it. */
export async function digestOrNothing(target: SkopeoTarget, reference: string): Promise<string | undefined> {
  try {
    return await skopeoDigest(target, reference);
  } catch {
    return undefined;
  }
}

export function referrerDigests(raw: Buffer): string[] {
  return ((JSON.parse(raw.toString('utf8')) as { manifests?: { digest: string }[] }).manifests ?? []).map((m) => m.digest).sort();
}

describe('PromoteImage@1 with an OCI copy (agent run)', function () {
  this.timeout(120_000);
  let f: Fixture;

  before(async () => {
    f = await promoteFixture();
  });
  afterEach(() => {
    f.env.clearFaults();
    f.env.registries.nonprod.acr.reset();
    f.env.registries.prod.acr.reset();
  });

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
