import { runTask } from '../common/entry';
import { errorMessage, isUserError } from '../common/errors';
import { readGateOptions } from './options';

runTask(__dirname, async (pipeline, inputs) => {
  const options = readGateOptions(inputs);
  const { run } = await import('./run.js');
  try {
    const outcome = await run(options, pipeline);
    pipeline.setOutput('gateResult', outcome.gateResult);
    pipeline.setOutput('gateReason', outcome.reason);
    pipeline.uploadSummary('Acceptance gate', outcome.summary);
    if (options.publishTestResults) pipeline.publishJUnit('Acceptance gate', outcome.junit);
    return { status: outcome.status, reason: outcome.reason };
  } catch (err) {
    // A gate that cannot run has failed: pipelines that branch on gateResult must see it.
    pipeline.setOutput('gateResult', 'Failed');
    if (isUserError(err)) pipeline.setOutput('gateReason', errorMessage(err));
    throw err;
  }
});
