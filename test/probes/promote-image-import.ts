// Test probe: one ACR importImage through the official SDK (@azure/arm-containerregistry), as the promote-image
// task calls it, so tests can hold the ARM emulator's long-running operation and its failures to the SDK's reading.
import { ContainerRegistryManagementClient } from '@azure/arm-containerregistry';
import { armClientOptions, createAzureCredential } from '../../tasks/common/azureCredential';
import { readAzureConnection } from '../../tasks/common/connections';
import { runTask } from '../../tasks/common/entry';

runTask(__dirname, async (pipeline, inputs) => {
  const azure = readAzureConnection(inputs, 'azureSubscription', true);
  const client = new ContainerRegistryManagementClient(createAzureCredential(azure, pipeline), azure.subscriptionId!, armClientOptions(azure));
  try {
    await client.registries.importImage(inputs.required('resourceGroup', ''), inputs.required('registry', ''), JSON.parse(inputs.required('body', '')));
    pipeline.setOutput('outcome', 'Succeeded');
  } catch (err) {
    const e = err as { statusCode?: number; code?: string; message: string };
    pipeline.setOutput('outcome', `${e.statusCode ?? ''} ${e.code ?? ''} ${e.message}`);
  }
  return { status: 'Succeeded', reason: 'done' };
});
