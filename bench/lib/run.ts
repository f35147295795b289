import * as fs from 'node:fs';
import * as path from 'node:path';
import { startEnvironment, type Environment } from '../../test/env';

/**
 * Runs a benchmark against a freshly started local environment, stopped afterwards whatever happens; a failure
 * prints its error and exits 1, so `npm run bench` says which benchmark failed. `main` is also told how long the
 * environment took to start.
 */
export function runBenchmark(main: (env: Environment, startSeconds: number) => Promise<void>): void {
  (async () => {
    const started = Date.now();
    const env = await startEnvironment();
    try {
      await main(env, (Date.now() - started) / 1000);
    } finally {
      await env.stop();
    }
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

/** The staging cluster's admin kubeconfig, written where kubectl and the task's kubeconfig connection read it. */
export function stagingKubeconfig(env: Environment): string {
  const file = path.join(env.dir, 'bench.kubeconfig');
  fs.writeFileSync(file, env.aks.clusters.staging.adminKubeconfig());
  return file;
}
