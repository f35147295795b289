/**
 * A GET on a connection of its own whose answer is read straight from the socket, for large downloads (registry
 * blobs). Node's http client hands every 16 KB TLS record of a body to its parser, which copies it once more and
 * calls back into JavaScript for it: about 0.15 s of CPU per 100 MB, measured, a seventh of a whole copy's. Here the
 * records are the body's pieces as they are. The framing is HTTP/1.1's (RFC 9112 §6.3): content-length, chunked, or
 * up to the close; 1xx answers are skipped. A connection whose answer ended cleanly can be kept for the next GET
 * (`keep`), as a pool would: otherwise every blob paid a TCP and TLS handshake, two with a registry that redirects
 * blob downloads to storage as ACR does.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { Readable } from 'node:stream';
import type { Duplex } from 'node:stream';

export interface OwnConnectionResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Map<string, string>;
  body: Readable;
}

const MAX_HEAD_BYTES = 64 * 1024;

export interface OwnConnectionOptions {
  /** The longest silence before the answer's head. */
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Takes the connection once the answer's body has been read to its end and the connection can carry another
   * request (HTTP/1.1, no `connection: close`, nothing after the body). Without it the connection is closed.
   */
  keep?: (socket: Duplex) => void;
}

/**
 * Sends `GET target` on `socket` (already connected to the target's origin, through a proxy's tunnel or not) and
 * resolves once the answer's head is read.
 */
export function getOnSocket(socket: Duplex, target: URL, headers: Record<string, string>, options: OwnConnectionOptions): Promise<OwnConnectionResponse> {
  return new Promise((resolve, reject) => {
    try {
      for (const [name, value] of Object.entries(headers)) {
        validateHeaderName(name);
        validateHeaderValue(name, value);
      }
    } catch (err) {
      socket.destroy();
      return reject(err);
    }
    let settled = false;
    let head: Buffer = Buffer.alloc(0);
    let body: SocketBody | undefined;
    const fail = (err: Error) => {
      if (!settled) {
        settled = true;
        reject(err);
      } else body?.destroy(err);
      socket.destroy();
    };
    const onAbort = () => fail(Object.assign(new Error('the request was stopped'), { name: 'AbortError', code: 'ABORT_ERR' }));
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => fail(Object.assign(new Error(`no answer within ${Math.round(options.timeoutMs / 1000)} s`), { code: 'UND_ERR_HEADERS_TIMEOUT' })), options.timeoutMs);
    const onClose = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (!settled) fail(cutOff('the connection closed before an answer'));
      else body?.socketEnded();
    };
    // The answer is read to its end: the connection is handed on without anything of this request attached to it.
    const keep = options.keep;
    const handOn = keep && (() => {
      socket.off('close', onClose).off('error', fail).off('data', onData);
      options.signal?.removeEventListener('abort', onAbort);
      keep(socket);
    });
    const onData = (chunk: Buffer) => {
      if (body) return body.receive(chunk);
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      for (;;) {
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > MAX_HEAD_BYTES) fail(new Error(`the answer's head from ${target.host} is larger than ${MAX_HEAD_BYTES} bytes`));
          return;
        }
        const parsed = parseHead(head.subarray(0, end).toString('latin1'));
        if (!parsed) return fail(Object.assign(new Error(`${target.host} did not answer in HTTP/1.1`), { code: 'HPE_INVALID_CONSTANT' }));
        head = head.subarray(end + 4);
        // 100 Continue and the like precede the answer itself; 101 would switch protocols, which a GET never asks.
        if (parsed.status >= 100 && parsed.status < 200 && parsed.status !== 101) continue;
        let frame: Framing;
        try {
          frame = framing(parsed.status, parsed.headers);
        } catch (err) {
          return fail(err as Error);
        }
        clearTimeout(timer);
        settled = true;
        const reusable = parsed.minor === 1 && frame.kind !== 'close' && !/(?:^|,)\s*close\s*(?:,|$)/i.test(parsed.headers.get('connection') ?? '');
        body = new SocketBody(socket, frame, reusable ? handOn : undefined);
        resolve({ status: parsed.status, headers: parsed.headers, body });
        // What came with the head is the body's start (or, for an answer without a body, bytes nobody asked for).
        body.receive(head);
        return;
      }
    };
    socket.once('close', onClose);
    socket.on('error', fail);
    socket.on('data', onData);
    const lines = [`GET ${target.pathname}${target.search} HTTP/1.1`, `host: ${target.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), ...(keep ? [] : ['connection: close'])];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  });
}

function parseHead(text: string): { status: number; minor: number; headers: Map<string, string> } | undefined {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]);
  if (!status) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const known = headers.get(name);
    headers.set(name, known === undefined ? value : `${known}, ${value}`);
  }
  return { status: Number(status[2]), minor: Number(status[1]), headers };
}

type Framing = { kind: 'none' } | { kind: 'length'; remaining: number } | { kind: 'chunked' } | { kind: 'close' };

/** How the body of an answer to a GET ends (RFC 9112 §6.3). */
function framing(status: number, headers: Map<string, string>): Framing {
  if (status === 204 || status === 304) return { kind: 'none' };
  const coding = headers.get('transfer-encoding');
  if (coding !== undefined) return /(?:^|,)\s*chunked\s*$/i.test(coding) ? { kind: 'chunked' } : { kind: 'close' };
  const length = headers.get('content-length');
  if (length !== undefined) {
    const values = new Set(length.split(',').map((v) => v.trim()));
    const n = values.size === 1 ? Number([...values][0]) : NaN;
    if (!Number.isSafeInteger(n) || n < 0) throw Object.assign(new Error(`invalid content-length: ${length}`), { code: 'HPE_INVALID_CONTENT_LENGTH' });
    return n === 0 ? { kind: 'none' } : { kind: 'length', remaining: n };
  }
  return { kind: 'close' };
}

function cutOff(message: string): Error {
  // The code of a dropped connection: the retry rules take it for one.
  return Object.assign(new Error(message), { code: 'ECONNRESET' });
}

/**
 * The body as it comes off the socket, with backpressure: the socket is paused while the reader is behind. At the
 * body's end the socket is handed on (`handOn`) when nothing came after the body, otherwise closed; either way the
 * body no longer touches it.
 */
class SocketBody extends Readable {
  private pending: Buffer = Buffer.alloc(0);
  /** The whole body has been taken (it may not all have been read yet). */
  private complete = false;
  /** The size of the chunk being read, or -1 while its size line is read (chunked framing only). */
  private chunkLeft = -1;
  private trailers = false;

  constructor(private socket: Duplex | undefined, private readonly frame: Framing, private readonly handOn?: () => void) {
    super();
  }

  override _read(): void {
    this.socket?.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.socket?.destroy();
    callback(err);
  }

  receive(chunk: Buffer): void {
    if (this.complete || this.destroyed) return;
    const frame = this.frame;
    if (frame.kind === 'none') return this.finish(chunk.length);
    if (frame.kind === 'close') return this.deliver(chunk);
    if (frame.kind === 'length') {
      const piece = chunk.length > frame.remaining ? chunk.subarray(0, frame.remaining) : chunk;
      frame.remaining -= piece.length;
      this.deliver(piece);
      if (frame.remaining === 0) this.finish(chunk.length - piece.length);
      return;
    }
    if (frame.kind === 'chunked') this.dechunk(chunk);
  }

  /** The socket closed: the end of a close-delimited body, otherwise a body cut off. */
  socketEnded(): void {
    if (this.complete || this.destroyed) return;
    if (this.frame.kind === 'close') {
      this.complete = true;
      this.push(null);
    } else this.destroy(cutOff('the response was cut off'));
  }

  private deliver(piece: Buffer): void {
    if (piece.length && !this.push(piece)) this.socket?.pause();
  }

  /**
   * The body is complete. `trailingBytes` came after it, unasked for: the connection's state is then unknown, so it
   * is closed rather than handed on.
   */
  private finish(trailingBytes: number): void {
    this.complete = true;
    this.push(null);
    const socket = this.socket;
    this.socket = undefined;
    if (this.handOn && trailingBytes === 0 && !this.destroyed && !socket?.destroyed) this.handOn();
    else socket?.destroy();
  }

  private dechunk(chunk: Buffer): void {
    let data: Buffer = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length) {
      if (this.chunkLeft > 0) {
        const piece = data.subarray(0, this.chunkLeft);
        this.chunkLeft -= piece.length;
        data = data.subarray(piece.length);
        this.deliver(piece);
        continue;
      }
      const eol = data.indexOf('\r\n');
      if (eol < 0) {
        if (data.length > MAX_HEAD_BYTES) this.destroy(new Error('a chunk size line is too long'));
        else this.pending = data;
        return;
      }
      const line = data.subarray(0, eol).toString('latin1');
      data = data.subarray(eol + 2);
      if (this.trailers) {
        if (line === '') return this.finish(data.length);
        continue;
      }
      if (this.chunkLeft === 0) {
        // The CRLF after a chunk's data.
        if (line !== '') return void this.destroy(Object.assign(new Error('a chunk was not followed by CRLF'), { code: 'HPE_INVALID_CHUNK_SIZE' }));
        this.chunkLeft = -1;
        continue;
      }
      const size = /^([0-9a-fA-F]{1,12})(?:\s*;.*)?$/.exec(line);
      if (!size) return void this.destroy(Object.assign(new Error(`invalid chunk size line: ${line.slice(0, 40)}`), { code: 'HPE_INVALID_CHUNK_SIZE' }));
      this.chunkLeft = parseInt(size[1], 16);
      if (this.chunkLeft === 0) this.trailers = true;
    }
  }
}
