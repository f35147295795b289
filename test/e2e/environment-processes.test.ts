import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startEnvironment } from '../env';
import { sampleAppImage } from '../env/sample-app/image';
import { isReady } from '../env/kube/status';
import { OciLayout, skopeoPush, skopeoTarget } from '../helpers/images';

const exec = promisify(execFile);

/** The live pids of the process table (/proc) whose working directory is under `dir` (a pod's root is). */
function processesIn(dir: string): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/cwd`).startsWith(dir) && !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch {
      return false;
    }
  }).map(Number);
}

describe('The local environment runs what it deploys, and ends it', function () {
  this.timeout(120_000);

  it('leaves no process of its pods behind once stopped (checked in the process table)', async () => {
    const env = await startEnvironment();
    let stopped = false;
    try {
      const layout = new OciLayout(path.join(env.dir, 'procs-layout'));
      layout.tag(sampleAppImage(layout), 'procs');
      await skopeoPush(layout, 'procs', skopeoTarget(env, env.registries.nonprod, path.join(env.dir, 'procs-certs')), 'shop/procs');
      const cluster = env.aks.clusters.staging;
      const file = path.join(env.dir, 'procs.yaml');
      fs.writeFileSync(file, `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web, namespace: default }\nspec:\n  replicas: 2\n  selector: { matchLabels: { app: web } }\n  template:\n    metadata: { labels: { app: web } }\n    spec:\n      containers:\n      - { name: web, image: "${env.registries.nonprod.registry.loginServer}/shop/procs:procs" }\n`);
      await exec('kubectl', ['--kubeconfig', cluster.kubeconfigPath, 'apply', '--server-side', '-f', file]);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && cluster.kube.list('v1', 'Pod', 'default').filter(isReady).length < 2) await new Promise((r) => setTimeout(r, 100));
      // Each pod's root is under the environment's folder, so the processes of this environment are told apart.
      const mine = processesIn(env.dir);
      assert.ok(mine.length >= 2, `the pods' processes run (${mine.length})`);
      await env.stop();
      stopped = true;
      assert.deepEqual(mine.filter((pid) => processesIn(env.dir).includes(pid)), [], 'no process of the environment is left');
    } finally {
      if (!stopped) await env.stop();
    }
  });
});
