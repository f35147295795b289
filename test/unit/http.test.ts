import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { HttpError, NetworkError, closePools, describeNetworkFailure, httpRetryVerdict, send } from '../../tasks/common/http';
import { networkSettings, readNetworkSettings, useNetworkSettings } from '../../tasks/common/network/settings';
import { CertificateAuthority } from '../env/ca';

describe('the HTTP layer (units)', () => {
  it('retries 408, 429 and 5xx with the server\'s Retry-After, and dropped connections; nothing else', () => {
    assert.deepEqual([408, 429, 500, 503, 400, 401, 404, 501].map((s) => httpRetryVerdict(new HttpError(s, 'x')).transient), [true, true, true, true, false, false, false, false]);
    assert.equal(httpRetryVerdict(new HttpError(429, 'x', { retryAfter: '3' })).retryAfterMs, 3000);
    assert.equal(httpRetryVerdict(new HttpError(401, 'x', { transient: true })).transient, true, 'a client may mark a status transient');
    assert.equal(httpRetryVerdict(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })).transient, true);
    assert.equal(httpRetryVerdict(new Error('bad input')).transient, false);
  });

  it('keeps a short body in the error and its message', () => {
    const err = new HttpError(503, 'the registry', { body: `${'x'.repeat(500)}` });
    assert.equal(err.body.length, 300);
    assert.match(err.message, /^the registry answered 503: x+$/);
  });

  it('names the proxy when it refuses its credentials, and the certificate settings on a TLS failure', () => {
    const proxy = { origin: 'http://127.0.0.1:3128', username: 'alice', authorization: 'Basic x' };
    const url = new URL('https://acr.example.com/v2/');
    assert.match(describeNetworkFailure(new Error('Bad response: 407'), url, proxy), /the proxy http:\/\/127\.0\.0\.1:3128 refused the credentials of its user 'alice' \(407/);
    assert.match(describeNetworkFailure(new Error('tunneling socket could not be established, statusCode=407'), url, proxy), /refused the credentials of its user 'alice'/);
    assert.match(describeNetworkFailure(new Error('Bad response: 403'), url, proxy), /would not open a tunnel to acr\.example\.com/);
    const tls = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    assert.match(describeNetworkFailure(tls, url), /TLS failure with acr\.example\.com.*Agent\.CAInfo.*NODE_EXTRA_CA_CERTS/);
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', port: 3128 });
    assert.match(describeNetworkFailure(refused, url, proxy), /cannot connect to the proxy http:\/\/127\.0\.0\.1:3128/);
    assert.match(describeNetworkFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED', port: 443 }), url), /cannot connect to acr\.example\.com: connection refused/);
  });

  it('never sends the authorization header to another host on a redirect', async () => {
    const seen: { host: string; authorization?: string }[] = [];
    const other = http.createServer((req, res) => { seen.push({ host: req.headers.host!, authorization: req.headers.authorization }); res.end('blob'); });
    await new Promise<void>((r) => other.listen(0, '127.0.0.2', r));
    const origin = http.createServer((req, res) => {
      seen.push({ host: req.headers.host!, authorization: req.headers.authorization });
      res.writeHead(307, { location: `http://127.0.0.2:${(other.address() as AddressInfo).port}/storage` }).end();
    });
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    try {
      const res = await send(`http://127.0.0.1:${(origin.address() as AddressInfo).port}/v2/blob`, { headers: { authorization: 'Bearer secret' }, followRedirects: true });
      assert.equal(await res.text(), 'blob');
      assert.equal(seen[0].authorization, 'Bearer secret');
      assert.equal(seen[1].authorization, undefined);
    } finally {
      origin.close();
      other.close();
    }
  });

  it('gives the connection back to its pool after an answer without a body, or with one that is discarded', async () => {
    let connections = 0;
    const server = http.createServer((req, res) => {
      if (req.method === 'HEAD') return res.writeHead(404, { 'content-length': '19' }).end();
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[]}');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/`;
      for (const method of ['HEAD', 'GET', 'HEAD', 'GET', 'GET']) {
        const res = await send(url, { method });
        // A short answer has usually arrived whole by now, which must not keep its connection from the pool.
        await new Promise((r) => setTimeout(r, 5));
        await res.discard();
      }
      assert.equal(connections, 1, `five requests one after another took ${connections} connections`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('fails a request that gets no answer within its timeout, as a network error', async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      await assert.rejects(send(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/`, { timeoutMs: 200 }), (err: unknown) => err instanceof NetworkError && /no answer from 127\.0\.0\.1:\d+ in time/.test(err.message));
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('sends a streamed body of small pieces in a few large writes, every byte in order', async () => {
    const body = randomBytes(1024 * 1024);
    let received = '';
    const server = http.createServer((req, res) => {
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => hash.update(c)).on('end', () => {
        received = hash.digest('hex');
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // Writes to the server's socket, counted where the HTTP layer hands them to the connection.
    const writes: number[] = [];
    const write = net.Socket.prototype.write;
    net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
      if (this.remotePort === port && Buffer.isBuffer(chunk)) writes.push(chunk.length);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof write;
    try {
      // 1,024 pieces of 1 KB, as a download hands them over (one TLS record each).
      const pieces = Readable.from(Array.from({ length: 1024 }, (_, i) => body.subarray(i * 1024, (i + 1) * 1024)));
      const res = await send(`http://127.0.0.1:${port}/upload`, { method: 'PUT', headers: { 'content-length': String(body.length) }, body: pieces });
      await res.discard();
      assert.equal(res.status, 200);
      assert.equal(received, createHash('sha256').update(body).digest('hex'));
      assert.ok(writes.length <= 5, `1 MB went out in ${writes.length} writes`);
    } finally {
      net.Socket.prototype.write = write;
      server.close();
    }
  });
  it('sends a streamed body\'s last small piece at once, not after the server acknowledges the head', async () => {
    // Nagle's algorithm would hold the piece until the head is acknowledged, and the server delays that by 40 ms.
    await withAgentCaServer((req, res) => req.resume().on('end', () => res.end()), async (url) => {
      const took: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await send(url, { method: 'PUT', headers: { 'content-length': '1024' }, body: Readable.from([randomBytes(1024)]) });
        await res.discard();
        took.push(performance.now() - started);
      }
      const median = [...took].sort((a, b) => a - b)[2];
      assert.ok(median < 30, `1 KB uploads took ${took.map((t) => t.toFixed(1)).join(', ')} ms`);
    });
  });

  it('builds one TLS context with Agent.CAInfo for all of a run\'s connections', async () => {
    // The module object itself (an import's namespace is read-only), whose function node:tls's connect calls.
    const tls = process.getBuiltinModule('node:tls');
    const createSecureContext = tls.createSecureContext;
    let contexts = 0;
    let connections = 0;
    await withAgentCaServer((_req, res) => setTimeout(() => res.end('ok'), 20), async (url, server) => {
      tls.createSecureContext = (options) => { contexts++; return createSecureContext(options); };
      server.on('secureConnection', () => connections++);
      try {
        // Concurrent requests open connections of their own, in the pool and beside it.
        const answers = await Promise.all([send(url), send(url), send(url), send(url, { ownConnection: true })].map(async (r) => (await r).text()));
        assert.deepEqual(answers, ['ok', 'ok', 'ok', 'ok']);
      } finally {
        tls.createSecureContext = createSecureContext;
      }
      assert.equal(connections, 4);
      assert.equal(contexts, 1, `${connections} connections built ${contexts} TLS contexts`);
    });
  });
});

/** An HTTPS server on loopback whose CA is trusted only as the agent's Agent.CAInfo, for the length of `use`. */
async function withAgentCaServer(handler: http.RequestListener, use: (url: string, server: https.Server) => Promise<void>): Promise<void> {
  const ca = CertificateAuthority.create(fs.mkdtempSync(path.join(os.tmpdir(), 'http-ca-')));
  const server = https.createServer({ cert: ca.server.certPem, key: ca.server.keyPem }, handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const before = networkSettings();
  useNetworkSettings(readNetworkSettings({ variable: (name) => (name === 'Agent.CAInfo' ? ca.caCertPath : undefined) }, { info() {}, debug() {}, warn() {}, secret() {} }, {}));
  try {
    await use(`https://127.0.0.1:${(server.address() as AddressInfo).port}/`, server);
  } finally {
    closePools();
    useNetworkSettings(before);
    server.closeAllConnections();
    server.close();
    fs.rmSync(ca.dir, { recursive: true, force: true });
  }
}
