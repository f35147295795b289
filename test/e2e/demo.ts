// The main job: starts the local environment and runs the whole delivery flow against it, printing each step.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startEnvironment } from '../env';
import { runDeliveryFlow } from './flow';

async function main(): Promise<number> {
  const started = Date.now();
  console.log('starting the local environment (CA, Entra ID, Azure DevOps, ARM, registries, AKS clusters, Prometheus)…');
  const env = await startEnvironment();
  console.log(`environment ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  try {
    const result = await runDeliveryFlow(env, path.join(env.dir, 'demo'), (line) => console.log(line));
    const same = result.productionDigest === result.builtDigest;
    console.log(`\n${same ? 'delivered' : 'MISMATCH:'} ${result.builtDigest} from the non-production registry to production in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const step of result.steps) {
      const summary = step.run.summaries[0]?.content;
      if (summary) console.log(`\n---- ${step.name}: summary\n${summary.trim()}`);
    }
    return same ? 0 : 1;
  } catch (err) {
    console.error(`\nthe flow stopped: ${(err as Error).message}`);
    return 1;
  } finally {
    await env.stop();
    fs.rmSync(path.join(env.dir, 'demo'), { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
