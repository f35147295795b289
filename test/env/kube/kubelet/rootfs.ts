import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * Unpacks an image's layers, in order, into `root`, as a container runtime's snapshotter lays them over each other
 * (the OCI image spec's "Applying Changesets"): regular files, directories, symbolic and hard links; a whiteout
 * `.wh.<name>` removes `<name>` from the layers below, and the opaque whiteout `.wh..wh..opq` empties its directory.
 * Layers are tar archives, gzip-compressed or not (the media type says; the gzip magic number decides). No entry
 * may reach outside `root`. Ownership is not applied: the processes run as this user (processes, not isolation).
 */
export function unpackLayers(root: string, layers: { path: string; mediaType: string }[]): void {
  fs.mkdirSync(root, { recursive: true });
  for (const layer of layers) {
    let tar = fs.readFileSync(layer.path);
    if (tar[0] === 0x1f && tar[1] === 0x8b) tar = gunzipSync(tar);
    else if (layer.mediaType.endsWith('+zstd')) throw new Error(`layer media type ${layer.mediaType} is not supported by this kubelet`);
    applyLayer(root, tar);
  }
}

interface Entry {
  name: string;
  type: string;
  mode: number;
  linkName: string;
  body: Buffer;
}

function* entries(tar: Buffer): Generator<Entry> {
  let offset = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) return;
    const field = (start: number, length: number) => header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(257, 6).startsWith('ustar') ? field(345, 155) : '';
    const body = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') { longName = body.toString('utf8').replace(/\0.*$/s, ''); continue; }
    if (type === 'K') { longLink = body.toString('utf8').replace(/\0.*$/s, ''); continue; }
    if (type === 'x') { pax = parsePax(body); continue; }
    if (type === 'g') continue;
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const linkName = pax.linkpath ?? longLink ?? field(157, 100);
    yield { name, type, mode: parseInt(field(100, 8).trim() || '644', 8), linkName, body };
    longName = undefined; longLink = undefined; pax = {};
  }
}

/** PAX extended header records: "<length> <key>=<value>\n". */
function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const space = body.indexOf(0x20, i);
    if (space < 0) break;
    const length = Number(body.subarray(i, space).toString('utf8'));
    if (!length) break;
    const record = body.subarray(space + 1, i + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    i += length;
  }
  return out;
}

function applyLayer(root: string, tar: Buffer): void {
  for (const entry of entries(tar)) {
    const target = inside(root, entry.name);
    if (!target) continue;
    const base = path.basename(target);
    if (base === '.wh..wh..opq') {
      const dir = path.dirname(target);
      for (const child of fs.existsSync(dir) ? fs.readdirSync(dir) : []) fs.rmSync(path.join(dir, child), { recursive: true, force: true });
      continue;
    }
    if (base.startsWith('.wh.')) {
      fs.rmSync(path.join(path.dirname(target), base.slice(4)), { recursive: true, force: true });
      continue;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (entry.type === '5') {
      if (fs.existsSync(target) && !fs.lstatSync(target).isDirectory()) fs.rmSync(target, { force: true });
      fs.mkdirSync(target, { recursive: true });
      fs.chmodSync(target, (entry.mode & 0o7777) | 0o700);
      continue;
    }
    // A later layer's entry replaces what an earlier one had at that path.
    if (fs.existsSync(target) || isSymlink(target)) fs.rmSync(target, { recursive: true, force: true });
    if (entry.type === '2') fs.symlinkSync(entry.linkName, target);
    else if (entry.type === '1') {
      const source = inside(root, entry.linkName);
      if (source && fs.existsSync(source)) fs.copyFileSync(source, target);
    } else if (entry.type === '0' || entry.type === '7') {
      fs.writeFileSync(target, entry.body, { mode: (entry.mode & 0o7777) | 0o600 });
    }
    // Devices and FIFOs (types 3, 4, 6) need privileges a process emulation does not have; they are skipped.
  }
}

/** The entry's path under root, or undefined for a name that climbs out of it. */
function inside(root: string, name: string): string | undefined {
  const target = path.resolve(root, `./${name.replace(/^\/+/, '')}`);
  return target === root || target.startsWith(`${root}${path.sep}`) ? target : undefined;
}

function isSymlink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
