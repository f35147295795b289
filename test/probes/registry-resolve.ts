// Test probe: resolves the `image` input to its digest with the real registry client, authenticating with the
// `azureSubscription` connection (ACR token exchange), the `registryConnection` (basic), or anonymously.
import { armScope, createAzureCredential } from '../../tasks/common/azureCredential';
import { readAzureConnection, readRegistryConnection } from '../../tasks/common/connections';
import { runTask } from '../../tasks/common/entry';
import { UserError } from '../../tasks/common/errors';
import { parseImageReference } from '../../tasks/common/imageReference';
import { RegistryClient, type RegistryCredentials } from '../../tasks/common/registry/client';

runTask(__dirname, async (pipeline, inputs) => {
  const image = parseImageReference(inputs.required('image', 'give an image'), "Input 'image'");
  const azure = readAzureConnection(inputs, 'azureSubscription', false);
  const basic = readRegistryConnection(inputs, 'registryConnection');
  let credentials: RegistryCredentials = { kind: 'anonymous' };
  if (azure) credentials = { kind: 'entra', credential: createAzureCredential(azure, pipeline), tenantId: azure.tenantId, scope: armScope(azure), source: `service connection '${azure.id}'` };
  if (basic) credentials = { kind: 'basic', username: basic.username ?? '', password: basic.password ?? '', source: `registry connection '${basic.id}'` };
  const client = new RegistryClient(image.registry, credentials, pipeline);
  const found = await client.manifest(image.repository, image.digest ?? image.tag ?? 'latest');
  if (!found) throw new UserError(`${image.repository} has no manifest ${image.digest ?? image.tag}`);
  pipeline.setOutput('digest', found.digest);
  pipeline.setOutput('mediaType', found.mediaType);
  return { status: 'Succeeded', reason: found.digest };
});
