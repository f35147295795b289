// `npm test`: installs missing system packages, builds and packages the extension (the tests run the built tasks
// and inspect the .vsix), then runs every test with mocha.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { packageExtension } from './package.mjs';

const root = path.resolve(import.meta.dirname, '..');
execFileSync('bash', [path.join(root, 'scripts/install-system-deps.sh')], { stdio: 'inherit' });
await packageExtension({ quiet: true });
const mocha = path.join(root, 'node_modules/mocha/bin/mocha.js');
const DEFAULT_SPECS = ['test/unit/**/*.test.ts', 'test/tasks/**/*.test.ts', 'test/fidelity/**/*.test.ts', 'test/e2e/**/*.test.ts'];
const args = process.argv.slice(2);
const specs = args.some((a) => !a.startsWith('-')) ? [] : DEFAULT_SPECS;
const result = spawnSync(process.execPath, [mocha, ...args, ...specs], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
