import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { HttpError } from '../../tasks/common/http';
import { silentLog } from '../../tasks/common/log';
import { RegistryClient } from '../../tasks/common/registry/client';

const PUSH = 'repository:app:pull,push';

/**
 * A plain-HTTP loopback registry with token authentication whose tokens carry exactly the scopes asked for, and
 * which refuses every cross-repository mount (as a registry does when the token lacks pull on the source).
 */
async function tokenRegistry(): Promise<{ host: string; stored: Map<string, Buffer>; tokenRequests: string[][]; expire: () => void; close: () => Promise<void> }> {
  const stored = new Map<string, Buffer>();
  const tokenRequests: string[][] = [];
  let generation = 0;
  let host = '';
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, `http://${host}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (url.pathname === '/token') {
        const scopes = url.searchParams.getAll('scope');
        tokenRequests.push(scopes);
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ token: Buffer.from(JSON.stringify({ generation, scopes })).toString('base64url') }));
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const granted = bearer ? (JSON.parse(Buffer.from(bearer, 'base64url').toString('utf8')) as { generation: number; scopes: string[] }) : undefined;
      if (!granted || granted.generation !== generation || !granted.scopes.includes(PUSH)) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="fake",scope="${PUSH}"` });
        return res.end();
      }
      if (req.method === 'POST' && url.pathname === '/v2/app/blobs/uploads/') {
        res.writeHead(202, { location: '/v2/app/blobs/uploads/session-1' });
        return res.end();
      }
      if (req.method === 'PUT' && url.pathname === '/v2/app/blobs/uploads/session-1') {
        const body = Buffer.concat(chunks);
        const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
        if (digest !== url.searchParams.get('digest')) return res.writeHead(400).end();
        stored.set(digest, body);
        res.writeHead(201, { 'docker-content-digest': digest });
        return res.end();
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    stored,
    tokenRequests,
    expire: () => { generation++; },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

describe('promote-image blob uploads with token authentication (units)', () => {
  const blob = randomBytes(4096);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;

  it('streams a blob after a refused mount with a token for the upload\'s own scopes', async () => {
    const reg = await tokenRegistry();
    try {
      const client = new RegistryClient(reg.host, { kind: 'anonymous' }, silentLog);
      const upload = await client.startUpload('app', { mountFrom: 'src', digest });
      assert.equal(upload.mounted, false);
      if (upload.mounted) return;
      await client.putBlob('app', upload.location, digest, blob.length, Readable.from([blob]));
      assert.deepEqual(reg.stored.get(digest), blob);
      // One token, asked for with the registry's challenge for the mount's scopes, serves the upload too: it covers
      // the upload's own scopes, so the streamed PUT goes out authorized without a token request of its own.
      assert.deepEqual(reg.tokenRequests, [[PUSH, 'repository:src:pull']]);
    } finally {
      await reg.close();
    }
  });

  it('renews an expired token when the upload is started again, before the stream is sent', async () => {
    const reg = await tokenRegistry();
    const start = async () => {
      const upload = await client.startUpload('app', { mountFrom: 'src', digest });
      assert.equal(upload.mounted, false);
      return upload.mounted ? '' : upload.location;
    };
    const client = new RegistryClient(reg.host, { kind: 'anonymous' }, silentLog);
    try {
      await client.putBlob('app', await start(), digest, blob.length, Readable.from([blob]));
      reg.expire();
      reg.stored.clear();
      // The upload's POST meets the expiry (it can be sent again); the stream then goes with the new token.
      await client.putBlob('app', await start(), digest, blob.length, Readable.from([blob]));
      assert.deepEqual(reg.stored.get(digest), blob);
      assert.equal(reg.tokenRequests.length, 2, 'one token before the expiry, one after');
    } finally {
      await reg.close();
    }
  });

  it('answers a streamed upload refused with 401 (its token expired in flight) as worth starting again, and drops the token', async () => {
    const reg = await tokenRegistry();
    const client = new RegistryClient(reg.host, { kind: 'anonymous' }, silentLog);
    try {
      const upload = await client.startUpload('app', { mountFrom: 'src', digest });
      assert.equal(upload.mounted, false);
      if (upload.mounted) return;
      reg.expire();
      await assert.rejects(client.putBlob('app', upload.location, digest, blob.length, Readable.from([blob])), (err: unknown) => err instanceof HttpError && err.status === 401 && err.transient === true);
      const again = await client.startUpload('app', { mountFrom: 'src', digest });
      if (again.mounted) return;
      await client.putBlob('app', again.location, digest, blob.length, Readable.from([blob]));
      assert.deepEqual(reg.stored.get(digest), blob);
    } finally {
      await reg.close();
    }
  });
});

describe('ACR token exchange (units)', () => {
  it('registers the Entra token it sends to the registry as a secret before sending it', async () => {
    const secrets: string[] = [];
    let host = '';
    let seenAtExchange: string[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        if (req.url === '/oauth2/exchange') {
          seenAtExchange = [...secrets];
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ refresh_token: `refresh-for-${form.get('access_token')}` }));
        }
        if (req.url === '/oauth2/token') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ access_token: 'acr-access-token' }));
        }
        if (req.headers.authorization !== 'Bearer acr-access-token') {
          res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/oauth2/token",service="${host}",scope="repository:app:pull"` });
          return res.end();
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const log = { ...silentLog, secret: (v: string | undefined) => { if (v) secrets.push(v); } };
      const credential = { getToken: () => Promise.resolve({ token: 'entra-access-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
      const client = new RegistryClient(host, { kind: 'entra', credential, tenantId: 'tenant', scope: 'https://management.azure.com/.default', source: 'test' }, log);
      assert.equal(await client.manifestHead('app', 'latest'), undefined);
      assert.ok(seenAtExchange.includes('entra-access-token'), `registered before the exchange: ${JSON.stringify(seenAtExchange)}`);
      for (const token of ['refresh-for-entra-access-token', 'acr-access-token']) assert.ok(secrets.includes(token), token);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('a loopback registry over plain HTTP (units)', () => {
  it('is reached over plain HTTP by requests that start together, before the first has found out', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(404).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new RegistryClient(`127.0.0.1:${(server.address() as AddressInfo).port}`, { kind: 'anonymous' }, silentLog);
      const heads = await Promise.all(['1.0', '2.0', 'latest'].map((tag) => client.manifestHead('app', tag)));
      assert.deepEqual(heads, [undefined, undefined, undefined]);
      assert.match(await client.baseUrl(), /^http:\/\//);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
