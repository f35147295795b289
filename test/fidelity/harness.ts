import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireCommand } from '../env/processes';
import { cleanNamespaces, deployFixture, freshNamespace, type DeployFixture } from '../tasks/deploy-to-aks-fixture';

const exec = promisify(execFile);

/**
 * The kubectl-driven fidelity suite: each case runs a real client (kubectl 1.32, or raw HTTP where kubectl hides
 * the answer) against the Kubernetes emulator and asserts what a real 1.32 API server does. Every case counts
 * towards one line, `kubectl fidelity: N same of M`, printed after the run, so progress is visible.
 */
const tally = { same: 0, total: 0, differ: [] as string[] };

after(() => {
  if (tally.total === 0) return;
  console.log(`\n  kubectl fidelity: ${tally.same} same of ${tally.total}`);
  for (const name of tally.differ) console.log(`    differs: ${name}`);
});

export interface FidelityContext {
  f: DeployFixture;
  /** A fresh namespace in the staging cluster, deleted after the case. */
  namespace(): string;
  /** Runs kubectl with the cluster admin's kubeconfig; rejects with stderr on a non-zero exit. */
  kubectl(...args: string[]): Promise<string>;
  /** Runs kubectl and returns its exit status and both streams, for cases where the refusal is the answer. */
  kubectlResult(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Declares a fidelity case: `source` says where the expected behaviour is documented (a Kubernetes doc page or
 * source file), for anything that is not common knowledge.
 */
export function fidelity(name: string, source: string, body: (c: FidelityContext) => Promise<void>, timeoutMs = 60_000): void {
  it(`${name} [${source}]`, async function () {
    this.timeout(timeoutMs);
    tally.total++;
    try {
      await body(await context());
      tally.same++;
    } catch (error) {
      tally.differ.push(name);
      throw error;
    } finally {
      cleanNamespaces();
    }
  });
}

async function context(): Promise<FidelityContext> {
  requireCommand('kubectl', 'kubectl');
  const f = await deployFixture();
  const base = ['--kubeconfig', f.adminKubeconfigPath];
  return {
    f,
    namespace: () => freshNamespace(f, 'fid'),
    kubectl: async (...args) => (await exec('kubectl', [...base, ...args], { timeout: 30_000 })).stdout,
    kubectlResult: async (...args) => {
      try {
        const { stdout, stderr } = await exec('kubectl', [...base, ...args], { timeout: 30_000 });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    },
  };
}
