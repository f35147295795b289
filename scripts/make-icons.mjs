// Draws the extension's and the tasks' icons (128x128 PNG) so they can be regenerated without an image editor.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const SIZE = 128;

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

function png(pixel) {
  const raw = Buffer.alloc((SIZE * 4 + 1) * SIZE);
  for (let y = 0; y < SIZE; y++) {
    raw[y * (SIZE * 4 + 1)] = 0;
    for (let x = 0; x < SIZE; x++) raw.set(pixel(x, y), y * (SIZE * 4 + 1) + 1 + x * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(SIZE, 0);
  ihdr.writeUInt32BE(SIZE, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0)),
  ]);
}

function inRoundedSquare(x, y) {
  const r = 20, m = 4;
  const cx = Math.min(Math.max(x, m + r), SIZE - m - r), cy = Math.min(Math.max(y, m + r), SIZE - m - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r && x >= m && y >= m && x < SIZE - m && y < SIZE - m;
}

function icon(color, glyph) {
  return png((x, y) => {
    if (!inRoundedSquare(x, y)) return [0, 0, 0, 0];
    return glyph(x - SIZE / 2, y - SIZE / 2) ? [255, 255, 255, 255] : [...color, 255];
  });
}

const glyphs = {
  // an upward arrow: promotion
  promote: (x, y) => (Math.abs(x) <= 10 && y > -10 && y < 40) || (y <= -10 && y >= -40 && Math.abs(x) <= (y + 40) * 1.1),
  // a ship's wheel: Kubernetes deployment
  deploy: (x, y) => { const d = Math.hypot(x, y); return (d > 22 && d < 32) || (d < 44 && (Math.abs(x) < 4 || Math.abs(y) < 4 || Math.abs(x - y) < 5 || Math.abs(x + y) < 5)) && d > 8 || d < 8; },
  // a check mark: acceptance gate
  gate: (x, y) => Math.abs(y - (x < -8 ? x + 8 : -(x + 8) * 0.8) - 10) < 9 && x > -34 && x < 38,
  // a shield: security scan
  scan: (x, y) => y > -40 && y < 44 && Math.abs(x) < 34 - Math.max(0, y) * 0.75 && !(Math.abs(x) < 24 - Math.max(0, y) * 0.75 && y > -30 && y < 30),
  // four dots: the whole flow
  extension: (x, y) => [[-24, -24], [24, -24], [-24, 24], [24, 24]].some(([a, b]) => Math.hypot(x - a, y - b) < 16),
};

writeFileSync('tasks/promote-image/icon.png', icon([0, 120, 212], glyphs.promote));
writeFileSync('tasks/deploy-to-aks/icon.png', icon([50, 108, 229], glyphs.deploy));
writeFileSync('tasks/acceptance-gate/icon.png', icon([16, 124, 16], glyphs.gate));
writeFileSync('tasks/defender-scan-check/icon.png', icon([196, 43, 28], glyphs.scan));
writeFileSync('images/icon.png', icon([0, 90, 158], glyphs.extension));
