import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Environment, RegistryHandle } from '../env';
import { skopeoCertDir } from '../env/ca';

const run = promisify(execFile);

export interface Blob {
  digest: string;
  size: number;
  mediaType: string;
}

/** A one-file tar archive (ustar), the content of an image layer. */
export function tarWithFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write(`${Math.floor(Date.UTC(2026, 0, 1) / 1000).toString(8).padStart(11, '0')}\0`, 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024)]);
}

/** An OCI image layout on disk that tests fill with images and push with skopeo. */
export class OciLayout {
  private readonly index: { schemaVersion: 2; manifests: (Blob & { annotations?: Record<string, string> })[] } = { schemaVersion: 2, manifests: [] };

  constructor(readonly dir: string) {
    fs.mkdirSync(path.join(dir, 'blobs/sha256'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  writeBlob(content: Buffer, mediaType: string): Blob {
    const hex = createHash('sha256').update(content).digest('hex');
    fs.writeFileSync(path.join(this.dir, 'blobs/sha256', hex), content);
    return { digest: `sha256:${hex}`, size: content.length, mediaType };
  }

  /**
   * A single-platform image of random layers (each of `layerBytes` before compression: random data barely
   * compresses, so a layer's size on the wire is about the same).
   */
  image(layerBytes: number[], platform = { os: 'linux', architecture: 'amd64' }): Blob {
    const layers: Blob[] = [];
    const diffIds: string[] = [];
    layerBytes.forEach((bytes, i) => {
      const tar = tarWithFile(`layer-${i}.bin`, randomBytes(bytes));
      diffIds.push(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
      layers.push(this.writeBlob(gzipSync(tar, { level: 1 }), 'application/vnd.oci.image.layer.v1.tar+gzip'));
    });
    const config = this.writeBlob(Buffer.from(JSON.stringify({
      architecture: platform.architecture, os: platform.os, created: '2026-01-01T00:00:00Z',
      config: { Entrypoint: ['/app'] }, rootfs: { type: 'layers', diff_ids: diffIds },
    })), 'application/vnd.oci.image.config.v1+json');
    return this.writeBlob(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers,
    })), 'application/vnd.oci.image.manifest.v1+json');
  }

  /** A multi-architecture OCI index of single-platform images, one per platform. */
  multiArch(platforms: { os: string; architecture: string; variant?: string }[], layerBytes: number[]): Blob {
    const manifests = platforms.map((platform) => ({ ...this.image(layerBytes, platform), platform }));
    return this.writeBlob(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests,
    })), 'application/vnd.oci.image.index.v1+json');
  }

  /**
   * An OCI 1.1 artifact that refers to `subject` (a signature, an SBOM, an attestation): empty config, one layer
   * holding `payload`, `artifactType` and annotations. Returns its descriptor as a referrers listing shows it.
   */
  artifact(subject: Blob, artifactType: string, payload: Buffer, layerMediaType: string, annotations: Record<string, string> = {}): Blob & { artifactType: string; annotations: Record<string, string> } {
    const config = this.writeBlob(Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
    const layer = this.writeBlob(payload, layerMediaType);
    const all = { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z', ...annotations };
    const manifest = this.writeBlob(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType, config, layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size }, annotations: all,
    })), 'application/vnd.oci.image.manifest.v1+json');
    return { ...manifest, artifactType, annotations: all };
  }

  /** The index a registry without the referrers API keeps under the tag `sha256-<hex>` of the subject. */
  referrersIndex(referrers: (Blob & { artifactType: string; annotations: Record<string, string> })[]): Blob {
    return this.writeBlob(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: referrers.map((r) => ({ mediaType: r.mediaType, digest: r.digest, size: r.size, artifactType: r.artifactType, annotations: r.annotations })),
    })), 'application/vnd.oci.image.index.v1+json');
  }

  /** Makes `manifest` reachable in the layout under `tag`. */
  tag(manifest: Blob, tag: string): void {
    this.index.manifests = this.index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag);
    this.index.manifests.push({ ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } });
    fs.writeFileSync(path.join(this.dir, 'index.json'), JSON.stringify(this.index));
  }
}

export interface SkopeoTarget {
  loginServer: string;
  username: string;
  password: string;
  /** A directory holding the environment's CA as ca.crt (skopeo's --cert-dir). */
  certDir: string;
}

export { skopeoCertDir };

/** skopeo's view of an environment registry as its push (or pull) user, with the environment's CA put in `certDir`. */
export function skopeoTarget(env: Environment, handle: RegistryHandle, certDir: string, user: 'push' | 'pull' = 'push'): SkopeoTarget {
  const { username, password } = handle[user];
  return { loginServer: handle.registry.loginServer, username, password, certDir: skopeoCertDir(env.ca.caCertPath, certDir) };
}

/** `skopeo copy` of a tagged manifest of an OCI layout to `docker://<loginServer>/<destination>`. */
async function skopeoCopy(layout: OciLayout, tag: string, target: SkopeoTarget, destination: string, format?: 'v2s2'): Promise<void> {
  // Converting to another format changes the digests, which --preserve-digests refuses.
  const formatArgs = format ? ['--format', format] : ['--preserve-digests'];
  await run('skopeo', ['copy', '--all', ...formatArgs, '--dest-cert-dir', target.certDir,
    '--dest-creds', `${target.username}:${target.password}`,
    `oci:${layout.dir}:${tag}`, `docker://${target.loginServer}/${destination}`], { maxBuffer: 10 * 1024 * 1024 });
}

/**
 * Pushes a tagged image of an OCI layout to a registry with skopeo (independent of the project's code), as it is
 * or, with `format: 'v2s2'`, converted to Docker manifests (lists for indexes).
 */
export async function skopeoPush(layout: OciLayout, tag: string, target: SkopeoTarget, repository: string, destTag = tag, options: { format?: 'v2s2' } = {}): Promise<void> {
  await skopeoCopy(layout, tag, target, `${repository}:${destTag}`, options.format);
}

/** Pushes a tagged manifest of an OCI layout by its digest only (no tag in the registry), as referrers are pushed. */
export async function skopeoPushByDigest(layout: OciLayout, tag: string, target: SkopeoTarget, repository: string, digest: string): Promise<void> {
  await skopeoCopy(layout, tag, target, `${repository}@${digest}`);
}

/** The raw manifest skopeo reads for a reference. */
export async function skopeoRaw(target: SkopeoTarget, reference: string): Promise<Buffer> {
  const { stdout } = await run('skopeo', ['inspect', '--raw', '--cert-dir', target.certDir,
    '--creds', `${target.username}:${target.password}`, `docker://${target.loginServer}/${reference}`], { encoding: 'buffer', maxBuffer: 10 * 1024 * 1024 });
  return stdout;
}

/** The digest skopeo reads for a reference (sha256 of the raw manifest it fetched). */
export async function skopeoDigest(target: SkopeoTarget, reference: string): Promise<string> {
  return `sha256:${createHash('sha256').update(await skopeoRaw(target, reference)).digest('hex')}`;
}
