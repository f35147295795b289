import { runTask } from '../common/entry';
import { readDeployOptions } from './options';

runTask(__dirname, async (pipeline, inputs) => {
  readDeployOptions(inputs);
  return { status: 'Failed', reason: pipeline.loc('NotAvailable', 'DeployToAks') };
});
