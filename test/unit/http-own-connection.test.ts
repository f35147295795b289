import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { NetworkError, closePools, httpRetryVerdict, send } from '../../tasks/common/http';

/**
 * A server that answers every request with `answer`, written in the pieces given, and records what it was sent and
 * how many connections it was sent on.
 */
async function rawServer(answer: (socket: net.Socket, request: number) => void): Promise<{ url: string; requests: string[]; connections: () => number; close(): Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let head = '';
    socket.on('data', (d) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        requests.push(head);
        head = '';
        answer(socket, requests.length);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    connections: () => connections,
    // The client's kept connections go too: the server closes only once every connection has.
    close: () => new Promise<void>((r) => {
      closePools();
      server.close(() => r());
      for (const socket of sockets) socket.destroy();
    }),
  };
}

/** Writes the pieces one at a time, a few milliseconds apart, so that the reader meets every split. */
function writeSlowly(socket: net.Socket, pieces: (string | Buffer)[], end = true): void {
  let i = 0;
  const next = () => {
    if (i === pieces.length) return end ? void socket.end() : undefined;
    socket.write(pieces[i++]);
    setTimeout(next, 2);
  };
  next();
}

const get = (url: string, options: Parameters<typeof send>[1] = {}) => send(url, { ownConnection: true, ...options });

describe('the HTTP layer: downloads on a connection of their own (units)', () => {
  it('reads a content-length body split anywhere, stops at its length and closes a connection that sent more', async () => {
    const body = randomBytes(50_000);
    const head = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nDocker-Content-Digest: sha256:x\r\n\r\n`;
    let closed: Promise<unknown> | undefined;
    const server = await rawServer((s) => {
      closed = once(s, 'close');
      // The head split inside a line and inside the final CRLF; bytes after the body are never part of it.
      writeSlowly(s, [head.slice(0, 7), head.slice(7, head.length - 1), Buffer.concat([Buffer.from(head.slice(-1)), body.subarray(0, 3)]), body.subarray(3, 40_000), Buffer.concat([body.subarray(40_000), Buffer.from('garbage')])], false);
    });
    try {
      const res = await get(`${server.url}/v2/a/blobs/sha256:x?x=1`, { headers: { authorization: 'Bearer t' } });
      assert.equal(res.status, 200);
      assert.equal(res.header('Docker-Content-Digest'), 'sha256:x');
      assert.deepEqual(await res.bytes(), body);
      assert.match(server.requests[0], /^GET \/v2\/a\/blobs\/sha256:x\?x=1 HTTP\/1\.1\r\n/);
      assert.match(server.requests[0], /\r\nhost: 127\.0\.0\.1:\d+\r\n/);
      assert.match(server.requests[0], /\r\nauthorization: Bearer t\r\n/);
      assert.doesNotMatch(server.requests[0], /\r\nconnection:/i);
      // Bytes after the body: the client closes the connection (the test times out otherwise).
      await closed;
    } finally {
      await server.close();
    }
  });

  it('decodes a chunked body with extensions and trailers, split across the pieces, and skips a 100 Continue', async () => {
    const parts = ['hello ', 'chunked ', 'world'];
    const wire = `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${parts.map((p, i) => `${p.length.toString(16)}${i === 1 ? ';name=value' : ''}\r\n${p}\r\n`).join('')}0\r\nX-Trailer: 1\r\n\r\n`;
    const server = await rawServer((s) => writeSlowly(s, wire.match(/[\s\S]{1,5}/g)!, false));
    try {
      const res = await get(`${server.url}/x`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), parts.join(''));
    } finally {
      await server.close();
    }
  });

  it('reads a body without length up to the close', async () => {
    const server = await rawServer((s) => writeSlowly(s, ['HTTP/1.1 200 OK\r\n\r\n', 'all of ', 'it']));
    try {
      assert.equal(await (await get(`${server.url}/x`)).text(), 'all of it');
    } finally {
      await server.close();
    }
  });

  it('reports a body cut off before its length as a dropped connection, worth another try', async () => {
    const server = await rawServer((s) => writeSlowly(s, ['HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'only this']));
    try {
      const res = await get(`${server.url}/x`);
      const err = await res.bytes().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof Error);
      assert.equal((err as { code?: string }).code, 'ECONNRESET');
      assert.equal(httpRetryVerdict(err).transient, true);
    } finally {
      await server.close();
    }
  });

  it('holds the sender back while the body is not read (backpressure), and delivers every byte once read', async () => {
    const size = 64 * 1024 * 1024;
    const block = randomBytes(1024 * 1024);
    let written = 0;
    const server = await rawServer((s) => {
      s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
      const pump = () => {
        while (written < size) {
          written += block.length;
          if (!s.write(block)) return void s.once('drain', pump);
        }
      };
      pump();
    });
    try {
      const res = await get(`${server.url}/x`);
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(written < size / 2, `the server wrote ${written} bytes while nothing was read`);
      const hash = createHash('sha256');
      let seen = 0;
      for await (const chunk of res.body) {
        hash.update(chunk as Buffer);
        seen += (chunk as Buffer).length;
      }
      const expected = createHash('sha256');
      for (let i = 0; i < size / block.length; i++) expected.update(block);
      assert.equal(seen, size);
      assert.equal(hash.digest('hex'), expected.digest('hex'));
    } finally {
      await server.close();
    }
  });

  it('follows a redirect to another host without the authorization header, as the pooled requests do', async () => {
    const seen: { host: string; authorization?: string }[] = [];
    const storage = http.createServer((req, res) => { seen.push({ host: req.headers.host!, authorization: req.headers.authorization }); res.end('blob'); });
    await new Promise<void>((r) => storage.listen(0, '127.0.0.2', r));
    const location = `http://127.0.0.2:${(storage.address() as AddressInfo).port}/signed?sig=1`;
    const server = await rawServer((s) => s.end(`HTTP/1.1 307 Temporary Redirect\r\nLocation: ${location}\r\nContent-Length: 5\r\n\r\nmoved`));
    try {
      const res = await get(`${server.url}/v2/a/blobs/sha256:x`, { headers: { authorization: 'Bearer secret' }, followRedirects: true });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'blob');
      assert.deepEqual(seen, [{ host: location.slice(7, location.indexOf('/signed')), authorization: undefined }]);
    } finally {
      await server.close();
      await new Promise<void>((r) => { storage.close(() => r()); });
    }
  });

  it('keeps a connection whose answer ended cleanly for the next download from the same origin, and one per download at a time', async () => {
    const body = (n: number) => `blob ${n}`;
    const server = await rawServer((s, n) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body(n).length}\r\n\r\n${body(n)}`));
    try {
      for (let i = 1; i <= 3; i++) assert.equal(await (await get(`${server.url}/b${i}`)).text(), body(i));
      assert.equal(server.connections(), 1, 'three downloads one after another: one connection');
      // Two at once need two connections; both are kept, so a third and fourth at once open none.
      const texts = async () => Promise.all([get(`${server.url}/x`), get(`${server.url}/y`)].map(async (r) => (await r).text()));
      await texts();
      await texts();
      assert.equal(server.connections(), 2);
      assert.equal(server.requests.length, 7);
    } finally {
      await server.close();
    }
  });

  it('does not keep a connection the answer closes, one of HTTP/1.0, or one that sent bytes after a body', async () => {
    const answers = [
      'HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1',
    ];
    for (const answer of answers) {
      // The server leaves the connection open and answers on it again: only the client can decide not to use it.
      const server = await rawServer((s) => s.write(answer));
      try {
        assert.equal(await (await get(`${server.url}/a`)).text(), 'ok');
        assert.equal(await (await get(`${server.url}/b`)).text(), 'ok');
        assert.equal(server.connections(), 2, answer.split('\r\n').slice(0, 2).join(' '));
      } finally {
        await server.close();
      }
    }
  });

  it('sends the GET again on a new connection when a kept one was closed by the server before it answered', async () => {
    const server = await rawServer((s, n) => {
      // The second request finds its connection closed: the server lets it go without an answer.
      if (n === 2) return void s.destroy();
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    try {
      assert.equal(await (await get(`${server.url}/a`)).text(), 'ok');
      assert.equal(await (await get(`${server.url}/b`)).text(), 'ok');
      assert.equal(server.connections(), 2);
      assert.deepEqual(server.requests.map((r) => r.split(' ')[1]), ['/a', '/b', '/b']);
    } finally {
      await server.close();
    }
  });

  it('does not use a kept connection again once the server has closed it: the next download opens a new one', async () => {
    let first: net.Socket | undefined;
    const server = await rawServer((s) => {
      first ??= s;
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    try {
      assert.equal(await (await get(`${server.url}/a`)).text(), 'ok');
      // The server's socket closes once the client has seen the end and closed its side too.
      first!.end();
      await once(first!, 'close');
      assert.equal(await (await get(`${server.url}/b`)).text(), 'ok');
      assert.equal(server.connections(), 2);
      assert.equal(server.requests.length, 2);
    } finally {
      await server.close();
    }
  });

  it('fails as a network error on no answer within the timeout, on an answer that is not HTTP/1.1, and on a header with a line break', async () => {
    const silent = await rawServer(() => undefined);
    const garbled = await rawServer((s) => s.end('SSH-2.0-OpenSSH\r\n\r\n'));
    try {
      await assert.rejects(get(`${silent.url}/x`, { timeoutMs: 200 }), (err: unknown) => err instanceof NetworkError && /no answer from 127\.0\.0\.1:\d+ in time/.test(err.message));
      await assert.rejects(get(`${garbled.url}/x`), (err: unknown) => err instanceof NetworkError && /did not answer in HTTP\/1\.1/.test(err.message));
      await assert.rejects(get(`${garbled.url}/x`, { headers: { authorization: 'Bearer a\r\nX-Injected: 1' } }), /Invalid character in header content/);
    } finally {
      await silent.close();
      await garbled.close();
    }
  });
});
