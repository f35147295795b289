// `npm run bench`: builds and packages the extension, then runs each benchmark in bench/ (or those named on the
// command line, e.g. `npm run bench -- foundation`). Each prints its figures beside its anchor and writes
// build/bench/<name>.json. Benchmarks are not part of the test run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { packageExtension } from './package.mjs';

const root = path.resolve(import.meta.dirname, '..');
const wanted = process.argv.slice(2);
const all = readdirSync(path.join(root, 'bench')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
const names = wanted.length ? wanted : ['foundation', ...all.filter((n) => n !== 'foundation')];
await packageExtension({ quiet: true });
let failed = false;
for (const name of names) {
  console.log(`\n== ${name}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'bench', `${name}.ts`)], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
