import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { silentLog } from '../../../tasks/common/log';
import type { RegistryClient } from '../../../tasks/common/registry/client';
import { OciCopier } from '../../../tasks/promote-image/ociCopy';

/** A source whose blob download answers when `answer` is called, and a target that records its upload. */
function registries(blob: Buffer) {
  const events: string[] = [];
  let answer!: (body: Readable | Error) => void;
  const source = {
    registry: 'source.example.test',
    blobStream: () => new Promise<Readable>((resolve, reject) => {
      answer = (body) => {
        events.push('download answered');
        if (body instanceof Error) reject(body);
        else resolve(body);
      };
    }),
  };
  const uploaded: Buffer[] = [];
  let uploadEnded: 'complete' | 'stopped' | undefined;
  const heads: string[] = [];
  const target = {
    registry: 'target.example.test',
    blobHead: async (_repository: string, digest: string) => { heads.push(digest); return undefined; },
    startUpload: async () => ({ mounted: false, location: 'https://target.example.test/v2/app/blobs/uploads/1' }),
    putBlob: (_repository: string, _location: string, _digest: string, _size: number, body: Readable) => {
      events.push('upload sent');
      // As the HTTP layer does: a request ends when its body ends, or fails when its body fails (a body destroyed
      // without an error would leave the request waiting).
      return new Promise<void>((resolve, reject) => {
        body.on('data', (c: Buffer) => uploaded.push(c));
        body.once('end', () => { uploadEnded = 'complete'; resolve(); });
        body.once('error', (err) => { uploadEnded = 'stopped'; reject(err); });
      });
    },
  };
  const copier = new OciCopier(source as unknown as RegistryClient, 'app', target as unknown as RegistryClient, 'app', silentLog);
  const descriptor = { mediaType: 'application/octet-stream', digest: `sha256:${createHash('sha256').update(blob).digest('hex')}`, size: blob.length };
  const copy = (copier as unknown as { copyBlob(d: typeof descriptor): Promise<void> }).copyBlob.bind(copier);
  return { events, heads, copier, descriptor, answer: (b: Readable | Error) => answer(b), uploaded, uploadEnded: () => uploadEnded, copy: () => copy(descriptor) };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

describe('promote-image OCI copy of one blob', () => {
  it('sends the upload before the download answers, then streams the blob into it', async () => {
    const blob = randomBytes(256 * 1024);
    const r = registries(blob);
    const done = r.copy();
    await tick();
    assert.deepEqual(r.events, ['upload sent'], 'the upload goes out while the download has not answered');
    r.answer(Readable.from([blob.subarray(0, 100_000), blob.subarray(100_000)]));
    await done;
    assert.deepEqual(Buffer.concat(r.uploaded), blob);
    assert.equal(r.uploadEnded(), 'complete');
  });

  it('stops the upload when the download fails, and tells the download\'s error', async () => {
    const r = registries(randomBytes(1024));
    const done = r.copy();
    await tick();
    r.answer(Object.assign(new Error('GET source.example.test/v2/app/blobs: 404 blob unknown'), { status: 404 }));
    await assert.rejects(done, /404 blob unknown/);
    assert.equal(r.uploadEnded(), 'stopped');
  });

  it('stops the upload before it completes when the bytes do not match the digest, and says so', async () => {
    const r = registries(randomBytes(1024));
    const done = r.copy();
    await tick();
    r.answer(Readable.from([randomBytes(1024)]));
    await assert.rejects(done, /the source sent 1024 bytes with digest sha256:\w+ for the blob sha256:\w+ of 1024 bytes/);
    assert.notEqual(r.uploadEnded(), 'complete');
  });

  it('asks the target for the blobs of a manifest ahead, once, and the copy uses that answer', async () => {
    const blob = randomBytes(1024);
    const r = registries(blob);
    const manifest = { mediaType: 'application/vnd.oci.image.manifest.v1+json', manifest: { layers: [r.descriptor] } };
    r.copier.lookAhead(manifest as unknown as Parameters<OciCopier['lookAhead']>[0]);
    assert.deepEqual(r.heads, [r.descriptor.digest], 'asked before the copy starts');
    const done = r.copy();
    await tick();
    r.answer(Readable.from([blob]));
    await done;
    assert.deepEqual(r.heads, [r.descriptor.digest], 'not asked again');
    r.copier.lookAhead({ ...manifest, mediaType: 'application/vnd.oci.image.index.v1+json' } as unknown as Parameters<OciCopier['lookAhead']>[0]);
    assert.equal(r.heads.length, 1, 'nothing asked for an index, whose children are not read yet');
  });
});
