import type { TokenCredential } from '@azure/identity';
import { armScope } from '../common/azureCredential';
import type { AzureConnection } from '../common/connections';
import { HttpError, httpRetryVerdict, jsonObject, send } from '../common/http';
import type { TaskLog } from '../common/log';
import { retry } from '../common/retry';

/** The api-version of the credential actions, as @azure/arm-containerservice 25.3 sends it. */
const AKS_API_VERSION = '2026-04-01';

/** ARM's answer to a failed call: its status and the `error.code` of its body (ResourceGroupNotFound, …). */
export class ArmCallError extends HttpError {
  constructor(status: number, readonly code: string | undefined, message: string, retryAfter?: string) {
    super(status, 'Azure Resource Manager', { message, retryAfter });
    this.name = 'ArmCallError';
  }
}

/**
 * The kubeconfig of an AKS cluster, as `az aks get-credentials` gets it: one POST to ARM's listClusterUserCredential
 * (or listClusterAdminCredential), whose answer holds it in base64. Sent through the project's HTTP layer (proxy,
 * CA, timeouts), with 429, 5xx and dropped connections retried, instead of loading the whole AKS management SDK
 * for one call before the task's first request.
 */
export async function clusterKubeconfig(azure: AzureConnection & { subscriptionId: string }, credential: TokenCredential, cluster: { resourceGroup: string; name: string; admin: boolean }, log: TaskLog): Promise<string | undefined> {
  const action = cluster.admin ? 'listClusterAdminCredential' : 'listClusterUserCredential';
  const url = new URL(`subscriptions/${encodeURIComponent(azure.subscriptionId)}/resourceGroups/${encodeURIComponent(cluster.resourceGroup)}/providers/Microsoft.ContainerService/managedClusters/${encodeURIComponent(cluster.name)}/${action}`, azure.armUrl);
  url.searchParams.set('api-version', AKS_API_VERSION);
  // Outside the retries below: the credential retries its own requests, and its failures are final.
  const token = await credential.getToken(armScope(azure));
  return retry(async () => {
    const res = await send(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token!.token}`, accept: 'application/json', 'content-length': '0' },
    });
    const text = await res.text();
    const answer = jsonObject(text) as { kubeconfigs?: { value?: unknown }[]; error?: { code?: unknown; message?: unknown } } | undefined;
    if (res.status >= 400) {
      const code = typeof answer?.error?.code === 'string' ? answer.error.code : undefined;
      const message = typeof answer?.error?.message === 'string' ? answer.error.message : `Azure Resource Manager answered ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`;
      throw new ArmCallError(res.status, code, message, res.header('retry-after'));
    }
    const value = answer?.kubeconfigs?.[0]?.value;
    return typeof value === 'string' && value ? Buffer.from(value, 'base64').toString('utf8') : undefined;
  }, httpRetryVerdict, { onRetry: ({ reason, delayMs }) => log.debug(`${action}: ${reason}; retrying in ${delayMs} ms`) });
}
