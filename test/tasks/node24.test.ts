import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import type { Environment } from '../env';
import { runScriptAsAgent, runTask } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { NODE24_VERSION, node24Binary } from '../helpers/node24';

describe('the Node24 handler', function () {
  this.timeout(120_000);
  let node: string;
  let env: Environment;
  before(async () => {
    node = node24Binary();
    env = await sharedEnvironment();
  });

  it(`runs Node ${NODE24_VERSION}`, () => {
    assert.equal(execFileSync(node, ['--version'], { encoding: 'utf8' }).trim(), `v${NODE24_VERSION}`);
  });

  for (const folder of ['promote-image', 'deploy-to-aks', 'acceptance-gate', 'defender-scan-check']) {
    it(`runs the ${folder} bundle, which validates its inputs`, async () => {
      const run = await runTask(folder, { node, timeoutMs: 10_000 });
      assert.equal(run.result?.status, 'Failed');
      assert.match(run.result!.message, /Input '\w+'( or '\w+')? is required/);
      assert.equal(run.stderr, '');
    });
  }

  it('authenticates through workload identity federation', async () => {
    const { id, options } = azureRmConnection(env, 'federated');
    const run = await runScriptAsAgent(path.join(__dirname, '../probes/azure-token.ts'), mergeRunOptions(options, { node, inputs: { azureSubscription: id } }));
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.equal(run.outputs.appid, env.identities.federated.clientId);
  });
});
