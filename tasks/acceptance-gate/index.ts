import { runTask } from '../common/entry';
import { readGateOptions } from './options';

runTask(__dirname, async (pipeline, inputs) => {
  readGateOptions(inputs);
  return { status: 'Failed', reason: pipeline.loc('NotAvailable', 'AcceptanceGate') };
});
