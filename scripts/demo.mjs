// `npm run demo`, the main job: installs what the local environment needs, builds the tasks, and runs the whole
// delivery flow (Defender gate, staging deployment, acceptance gate, promotion, production deployment) against it.
// `npm run demo -- --list` lists the scenarios; `npm run demo -- --scenario <name>` runs one (see test/e2e/demo.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageExtension } from './package.mjs';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
if (!args.includes('--list')) {
  execFileSync('bash', [path.join(root, 'scripts/install-system-deps.sh')], { stdio: 'inherit' });
  await packageExtension();
}
const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'test/e2e/demo.ts'), ...args], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
