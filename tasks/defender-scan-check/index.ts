import { runTask } from '../common/entry';
import { readScanCheckOptions } from './options';

runTask(__dirname, async (pipeline, inputs) => {
  const options = readScanCheckOptions(inputs);
  // Loaded only after the inputs are valid: the Azure SDKs are slow to evaluate.
  const { runScanCheck } = await import('./run.js');
  const result = await runScanCheck(options, pipeline);
  for (const [name, value] of Object.entries(result.outputs)) pipeline.setOutput(name, value);
  pipeline.uploadSummary('Defender scan check', result.summary);
  pipeline.uploadFile('defender-scan-check.sarif', result.sarif);
  pipeline.publishJUnit('Defender scan check', result.junit);
  return { status: result.status, reason: result.reason };
});
