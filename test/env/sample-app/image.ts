import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { tarWithFile, type Blob, type OciLayout } from '../../helpers/images';

/** The sample app's source, the one file of the image's layer. */
export const SAMPLE_APP_SOURCE = path.join(__dirname, 'server.js');

/**
 * Writes the sample app's image into an OCI layout: one gzip layer holding /app/server.js, and a config whose
 * Entrypoint is `node server.js` in WorkingDir /app, with `env` added to its Env (a build with other settings:
 * `{ EXIT_CODE: '3' }` is an image that crashes, `{ ERROR_RATIO: '0.5' }` one that fails half its requests).
 * The kubelet finds `node` on the host's PATH, as the image carries no Node of its own.
 */
export function sampleAppImage(layout: OciLayout, env: Record<string, string> = {}): Blob {
  const tar = tarWithFile('app/server.js', fs.readFileSync(SAMPLE_APP_SOURCE));
  const layer = layout.writeBlob(gzipSync(tar), 'application/vnd.oci.image.layer.v1.tar+gzip');
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const config = layout.writeBlob(Buffer.from(JSON.stringify({
    architecture: hostArchitecture(), os: 'linux', created: '2026-01-01T00:00:00Z',
    config: {
      Entrypoint: ['node', 'server.js'], WorkingDir: '/app', ExposedPorts: { '8080/tcp': {} },
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'PORT=8080', ...Object.entries(env).map(([k, v]) => `${k}=${v}`)],
    },
    rootfs: { type: 'layers', diff_ids: [diffId] },
  })), 'application/vnd.oci.image.config.v1+json');
  return layout.writeBlob(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer],
  })), 'application/vnd.oci.image.manifest.v1+json');
}

function hostArchitecture(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
}
