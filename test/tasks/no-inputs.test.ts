import { strict as assert } from 'node:assert';
import { runTask } from '../helpers/agent';

const REQUIRED_FIRST: Record<string, RegExp> = {
  'promote-image': /Input 'sourceImage' is required/,
  'deploy-to-aks': /Input 'azureSubscription' is required/,
  'acceptance-gate': /Input 'gate' or 'gateFile' is required/,
  'defender-scan-check': /Input 'azureSubscription' is required/,
};

describe('each built task run with no inputs', () => {
  for (const [folder, message] of Object.entries(REQUIRED_FIRST)) {
    it(`${folder} fails within a second, naming the missing input`, async () => {
      const run = await runTask(folder, { timeoutMs: 10_000 });
      assert.equal(run.result?.status, 'Failed');
      assert.match(run.result!.message, message);
      assert.ok(run.durationMs < 1000, `took ${run.durationMs} ms`);
      assert.equal(run.stderr, '');
      assert.ok(run.issues.some((i) => i.type === 'error' && message.test(i.message)), 'the error is shown as an issue');
    });
  }
});
