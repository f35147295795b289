import { build } from 'esbuild';
const [entry] = process.argv.slice(2);
const r = await build({ entryPoints: [entry], bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify: true, write: false, metafile: true, outfile: '/tmp/x.js', external: ['bufferutil','utf-8-validate','encoding'], alias: { punycode: 'punycode/' }, logLevel: 'error' });
const out = Object.values(r.metafile.outputs)[0];
const byPkg = {};
for (const [f, v] of Object.entries(out.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f);
  const k = m ? m[1] : f.replace(/\/[^/]+$/, '');
  byPkg[k] = (byPkg[k] ?? 0) + v.bytesInOutput;
}
console.log(entry, out.bytes);
for (const [k, v] of Object.entries(byPkg).sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(String(v).padStart(9), k);
