import { runTask } from '../common/entry';
import { readScanCheckOptions } from './options';

runTask(__dirname, async (pipeline, inputs) => {
  readScanCheckOptions(inputs);
  return { status: 'Failed', reason: pipeline.loc('NotAvailable', 'DefenderScanCheck') };
});
