// Fixture of the promote-image task tests: seeded images with referrers in the non-production registry, and runs of
// the built task with registry or Azure service connections.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Environment } from '../env';
import { runTask, type RunOptions, type TaskRun } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions, registryConnection } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { OciLayout, skopeoDigest, skopeoPush, skopeoPushByDigest, skopeoRaw, skopeoTarget, type Blob, type SkopeoTarget } from '../helpers/images';

export interface Seeded {
  repository: string;
  tag: string;
  digest: string;
  mediaType?: string;
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
  /** `docker`: the image is pushed in Docker's formats (a manifest list of v2 schema 2 manifests). */
  seed(options?: { multiArch?: boolean; referrers?: 'api' | 'tag' | 'none'; tag?: string; docker?: boolean; layerSizes?: number[] }): Promise<Seeded>;
  /** Runs the built task with basic credentials for both registries and the given inputs. */
  ociRun(inputs: RunOptions['inputs'], extra?: Partial<RunOptions>): Promise<TaskRun>;
  /** Runs the built task with an AzureRM connection (Entra tokens for both registries, ARM for import). */
  azureRun(inputs: RunOptions['inputs'], kind?: 'secret' | 'federated' | 'noAccess', extra?: Partial<RunOptions>): Promise<TaskRun>;
}

export const SIGNATURE = 'application/vnd.cncf.notary.signature';
export const SBOM = 'application/spdx+json';

/** The shared environment, skopeo targets for both registries, and image seeding with referrers. */
export async function promoteFixture(): Promise<Fixture> {
  const env = await sharedEnvironment();
  const certDir = path.join(env.dir, 'skopeo-certs-promote');
  const nonprod = skopeoTarget(env, env.registries.nonprod, certDir);
  const prod = skopeoTarget(env, env.registries.prod, certDir);
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
        : layout.image(options.layerSizes ?? [4000, 6000, 2000]);
      layout.tag(image, tag);
      if (options.docker) {
        await skopeoPush(layout, tag, nonprod, repository, tag, { format: 'v2s2' });
        const raw = await skopeoRaw(nonprod, `${repository}:${tag}`);
        const list = JSON.parse(raw.toString('utf8')) as { mediaType: string; manifests?: Blob[] };
        fs.rmSync(layout.dir, { recursive: true, force: true });
        return { repository, tag, digest: await skopeoDigest(nonprod, `${repository}:${tag}`), mediaType: list.mediaType, children: (list.manifests ?? []).map((m) => m.digest), signature: '', sbom: '', sbomSignature: '' };
      }
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

/** Registers the hooks of the promotion suites: the fixture before the first test; faults and ACR state reset after each. */
export function usePromoteFixture(ready: (f: Fixture) => void): void {
  let fixture: Fixture | undefined;
  before(async () => {
    fixture = await promoteFixture();
    ready(fixture);
  });
  afterEach(() => {
    fixture?.env.clearFaults();
    fixture?.env.registries.nonprod.acr.reset();
    fixture?.env.registries.prod.acr.reset();
  });
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

