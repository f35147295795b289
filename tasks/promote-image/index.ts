import { runTask } from '../common/entry';
import { readPromoteOptions } from './options';

runTask(__dirname, async (pipeline, inputs) => {
  readPromoteOptions(inputs);
  return { status: 'Failed', reason: pipeline.loc('NotAvailable', 'PromoteImage') };
});
