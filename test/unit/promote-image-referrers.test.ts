import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLog } from '../../tasks/common/log';
import { RegistryClient } from '../../tasks/common/registry/client';
import { addToFallbackIndex, listReferrers, referrersTag } from '../../tasks/common/registry/referrers';
import { summaryMarkdown, type PromoteResult } from '../../tasks/promote-image/run';

const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const SUBJECT = digestOf('subject');
const INDEX = 'application/vnd.oci.image.index.v1+json';

/** A plain-HTTP loopback registry with just enough of the distribution API for referrers. */
async function fakeRegistry(handler: (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void): Promise<{ host: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('promote-image referrers and summary (units)', () => {
  it('names the fallback tag after the digest', () => {
    assert.equal(referrersTag(SUBJECT), `sha256-${SUBJECT.slice(7)}`);
  });

  it('follows the pages of the referrers API and filters by artifact type when the registry did not', async () => {
    const a = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf('a'), size: 10, artifactType: 'application/vnd.cncf.notary.signature' };
    const b = { ...a, digest: digestOf('b'), artifactType: 'application/spdx+json' };
    const seen: string[] = [];
    const reg = await fakeRegistry((req, _body, res) => {
      seen.push(req.url!);
      if (req.url!.startsWith(`/v2/app/referrers/${SUBJECT}`) && !req.url!.includes('page=2')) {
        res.writeHead(200, { 'content-type': INDEX, link: `</v2/app/referrers/${SUBJECT}?page=2>; rel="next"` });
        return res.end(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [a] }));
      }
      if (req.url!.includes('page=2')) {
        res.writeHead(200, { 'content-type': INDEX });
        return res.end(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [b] }));
      }
      res.writeHead(404).end();
    });
    try {
      const client = new RegistryClient(reg.host, { kind: 'anonymous' }, silentLog);
      const all = await listReferrers(client, 'app', SUBJECT);
      assert.equal(all.via, 'api');
      assert.deepEqual(all.referrers.map((r) => r.digest), [a.digest, b.digest]);
      const sboms = await listReferrers(client, 'app', SUBJECT, 'application/spdx+json');
      assert.deepEqual(sboms.referrers.map((r) => r.digest), [b.digest]);
      assert.ok(seen.some((u) => u.includes('artifactType=application%2Fspdx%2Bjson')));
    } finally {
      await reg.close();
    }
  });

  it('falls back to the sha256-<hex> tag on 404, and adds a referrer to that index once', async () => {
    const manifests = new Map<string, { type: string; body: Buffer }>();
    const reg = await fakeRegistry((req, body, res) => {
      const m = /^\/v2\/app\/manifests\/(.+)$/.exec(req.url!);
      if (m && req.method === 'PUT') {
        manifests.set(m[1], { type: req.headers['content-type']!, body });
        res.writeHead(201, { 'docker-content-digest': `sha256:${createHash('sha256').update(body).digest('hex')}` });
        return res.end();
      }
      if (m && manifests.has(m[1])) {
        const stored = manifests.get(m[1])!;
        res.writeHead(200, { 'content-type': stored.type, 'docker-content-digest': `sha256:${createHash('sha256').update(stored.body).digest('hex')}` });
        return res.end(req.method === 'HEAD' ? undefined : stored.body);
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN' }] }));
    });
    try {
      const client = new RegistryClient(reg.host, { kind: 'anonymous' }, silentLog);
      assert.deepEqual(await listReferrers(client, 'app', SUBJECT), { referrers: [], via: 'tag' });
      const sig = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf('sig'), size: 5, artifactType: 'application/vnd.cncf.notary.signature', annotations: { k: 'v' } };
      assert.equal(await addToFallbackIndex(client, 'app', SUBJECT, sig), true);
      assert.equal(await addToFallbackIndex(client, 'app', SUBJECT, sig), false);
      const stored = manifests.get(referrersTag(SUBJECT))!;
      assert.equal(stored.type, INDEX);
      assert.deepEqual(JSON.parse(stored.body.toString('utf8')), { schemaVersion: 2, mediaType: INDEX, manifests: [sig] });
      assert.deepEqual((await listReferrers(client, 'app', SUBJECT)).referrers, [sig]);
    } finally {
      await reg.close();
    }
  });

  it('summarises source, target, digest, tags, referrers, bytes and time', () => {
    const result: PromoteResult = {
      source: 'reg.example/shop/web:1.4.2', digest: SUBJECT, mediaType: 'application/vnd.oci.image.manifest.v1+json', method: 'ociCopy',
      promotedImage: `prod.example/shop/web@${SUBJECT}`, promotedTags: ['1.4.2', 'stable'],
      tags: [{ tag: '1.4.2', before: 'absent', action: 'created' }, { tag: 'stable', before: 'other', previousDigest: digestOf('old'), action: 'moved' }],
      referrers: [{ digest: digestOf('sig'), subject: SUBJECT, artifactType: 'application/vnd.cncf.notary.signature', action: 'copied' }],
      counters: { bytesCopied: 3 * 1024 * 1024, bytesMounted: 1024 * 1024, blobsCopied: 2, blobsMounted: 1, blobsPresent: 4, manifestsCopied: 2 },
      operationIds: [], locked: false, alreadyPromoted: false, durationMs: 4200,
    };
    const md = summaryMarkdown(result, 'prod.example', 'shop/web');
    assert.match(md, /\| Source \| `reg\.example\/shop\/web:1\.4\.2` \|/);
    assert.match(md, /\| Target \| `prod\.example\/shop\/web` \|/);
    assert.ok(md.includes(`\`stable\` moved from \`${digestOf('old')}\``));
    assert.match(md, /application\/vnd\.cncf\.notary\.signature \(copied\)/);
    assert.match(md, /3\.0 MB copied \(2 blobs\), 1\.0 MB mounted \(1 blobs\), 4 blobs already there/);
    assert.match(md, /\| Time \| 4\.2 s \|/);
  });
});
