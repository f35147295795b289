// Test probe: reads the AzureRM service connection named by the `azureSubscription` input through the real pipeline
// adapter, gets a token for ARM with the real credential code, and reports its claims as output variables.
import { createHash } from 'node:crypto';
import { runTask } from '../../tasks/common/entry';
import { armScope, createAzureCredential } from '../../tasks/common/azureCredential';
import { readAzureConnection } from '../../tasks/common/connections';

runTask(__dirname, async (pipeline, inputs) => {
  const connection = readAzureConnection(inputs, 'azureSubscription', true);
  const credential = createAzureCredential(connection, pipeline);
  const token = await credential.getToken(armScope(connection));
  if (!token) throw new Error('no token');
  const claims = JSON.parse(Buffer.from(token.token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
  pipeline.setOutput('appid', String(claims.appid));
  pipeline.setOutput('aud', String(claims.aud));
  pipeline.setOutput('tokenSha256', createHash('sha256').update(token.token).digest('hex'));
  pipeline.setOutput('expiresInSeconds', String(Math.round((token.expiresOnTimestamp - Date.now()) / 1000)));
  return { status: 'Succeeded', reason: `token for ${String(claims.aud)}` };
});
