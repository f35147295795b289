import type { TokenCredential } from '@azure/identity';
import type { AzureConnection } from '../common/connections';
import type { TaskLog } from '../common/log';
import type { ClusterConnection } from './options';

// A bundle of its own, which the entry loads before run.js and connect.ts after it: both then hold the same module,
// and with it the same credential and token.

export interface ArmCredential {
  credential: TokenCredential;
  /** The ARM token asked for ahead (`prefetchArmToken`); its failure is reported when the connection is opened. */
  token?: Promise<unknown>;
}

const armCredentials = new WeakMap<AzureConnection, Promise<ArmCredential>>();

/** One credential per service connection (and with it one token cache), whether or not its token was asked for ahead. */
export function armCredential(azure: AzureConnection, log: TaskLog): Promise<ArmCredential> {
  let found = armCredentials.get(azure);
  if (!found) {
    found = import('../common/azureCredential.js').then((m) => ({ credential: m.createAzureCredential(azure, log) }));
    armCredentials.set(azure, found);
  }
  return found;
}

/**
 * For an AzureRM cluster connection: sends the request for the ARM token now, so that its round trips overlap the
 * loading of run.js and the reading of the manifests, and returns once it is under way. Silent: its answer, or its
 * failure, is for `connectToCluster`, which a run with bad manifests never reaches.
 */
export async function prefetchArmToken(connection: ClusterConnection, log: TaskLog): Promise<void> {
  if (connection.type !== 'azureResourceManager') return;
  const { azure } = connection;
  const found = await armCredential(azure, log);
  const { armScope } = await import('../common/azureCredential.js');
  found.token ??= found.credential.getToken(armScope(azure));
  found.token.catch(() => undefined);
  // One turn of the event loop: the request's connection is then open, and reading the manifests does not hold it up.
  await new Promise<void>((resolve) => setImmediate(resolve));
}
