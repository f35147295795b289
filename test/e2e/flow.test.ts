import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Environment } from '../env';
import { secretLeaks } from '../helpers/agent';
import { sharedEnvironment } from '../helpers/environment';
import { runDeliveryFlow, type FlowResult } from './flow';

describe('the delivery flow, end to end', function () {
  this.timeout(600_000);
  let env: Environment;
  let flow: FlowResult;
  let dir: string;

  before(async () => {
    env = await sharedEnvironment();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'delivery-flow-'));
    flow = await runDeliveryFlow(env, dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs every step to success', () => {
    assert.deepEqual(flow.steps.map((s) => [s.task, s.run.result?.status]), [
      ['defender-scan-check', 'Succeeded'],
      ['deploy-to-aks', 'Succeeded'],
      ['acceptance-gate', 'Succeeded'],
      ['promote-image', 'Succeeded'],
      ['deploy-to-aks', 'Succeeded'],
    ]);
  });

  it('promotes and deploys to production exactly the digest that was scanned, tested and deployed to staging', () => {
    const [scan, staging, gateRun, promote, production] = flow.steps.map((s) => s.run);
    assert.equal(scan.outputs.scanResult, 'Passed');
    assert.equal(gateRun.outputs.gateResult, 'Succeeded');
    assert.equal(promote.outputs.imageDigest, flow.builtDigest);
    assert.equal(flow.productionDigest, flow.builtDigest, 'skopeo reads the same digest in production');
    assert.match(staging.outputs.deployedImages, new RegExp(`${env.registries.nonprod.registry.loginServer}/shop/web@${flow.builtDigest}`));
    assert.match(production.outputs.deployedImages, new RegExp(`${env.registries.prod.registry.loginServer}/shop/web@${flow.builtDigest}`));
    // Pods of an earlier revision may still be Terminating once the rollout is complete; they are on their way out.
    const prodPods = env.aks.clusters.production.kube.list('v1', 'Pod', 'shop', (p) => !p.metadata.deletionTimestamp);
    assert.ok(prodPods.length >= 2 && prodPods.every((p) => JSON.stringify(p).includes(flow.builtDigest)), 'production pods run the promoted digest');
  });

  it('reports each step in the pipeline UI and leaks none of the credentials it received', () => {
    for (const { task, run, credentials } of flow.steps) {
      assert.ok(run.summaries.length >= 1, `${task} uploads a summary`);
      // Each step gets the job's access token; those that call Azure also mint a federated and an Entra access token.
      assert.ok(credentials.includes(env.devops.accessToken), `${task} received the job's access token`);
      assert.ok(credentials.length >= (task === 'acceptance-gate' ? 1 : 3), `${task} received ${credentials.length} credentials`);
      assert.deepEqual(secretLeaks(run, credentials), [], `${task} leaks none of its credentials`);
    }
  });
});
