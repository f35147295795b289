import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import semver from 'semver';
import { ROOT } from '../helpers/agent';

// Packages whose declared engine is newer than Node 20 but which are bundled and verified to run on it (the
// bundles are tested under Node 20 and Node 24). Anything else requiring Node 22 would break the Node20_1 handler.
const KNOWN_ENGINE_EXCEPTIONS: Record<string, string> = {
  '@azure/arm-resourcegraph': 'declares >=22 since 5.0.0 although it runs on Node 20; 5.0.0-beta.4 is the last release declaring >=20',
};

interface LockPackage {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  engines?: { node?: string } | string[];
}

describe('dependencies', () => {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockPackage> };

  it('every package that ships in a bundle runs on the agent\'s Node 20 (20.19) and Node 24', () => {
    const offenders: string[] = [];
    for (const [where, p] of Object.entries(lock.packages)) {
      if (!where || p.dev) continue;
      const name = where.replace(/^.*node_modules\//, '');
      const range = Array.isArray(p.engines) ? undefined : p.engines?.node;
      if (!range || name in KNOWN_ENGINE_EXCEPTIONS) continue;
      for (const node of ['20.19.0', '24.0.0']) {
        if (!semver.satisfies(node, range)) offenders.push(`${name}@${p.version} needs node ${range} (not ${node})`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('pins the last Node-20 releases of the SDKs that moved to Node 22', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.equal(pkg.dependencies['@azure/identity'], '4.13.1');
    assert.equal(pkg.dependencies['@kubernetes/client-node'], '1.4.0');
  });
});
