import { WebApi, getBearerHandler } from 'azure-devops-node-api/WebApi';

/**
 * The one place that opens azure-devops-node-api connections (Azure Repos for GitOps, the job's OIDC tokens), so
 * that the agent's network settings are given to every Azure DevOps client here. Imported by subpath, not from
 * the package root, which would bundle every generated client (ado-extension-engineering.md §5.5).
 * `keepAlive`, because Node's default agent drops idle sockets after 5 s and the task polls for minutes.
 */
export function devopsConnection(collectionUri: string, accessToken: string): WebApi {
  return new WebApi(collectionUri, getBearerHandler(accessToken), { keepAlive: true, allowRetries: true, maxRetries: 3, socketTimeout: 60_000 });
}

/** What typed-rest-client attaches to a failed call: the status and the service's error body. */
export interface DevOpsFailure {
  statusCode?: number;
  message: string;
  result?: { typeKey?: string; message?: string };
}

export function devopsFailure(err: unknown): DevOpsFailure | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as Error & { statusCode?: number; result?: { typeKey?: string; message?: string } };
  return e.statusCode === undefined ? undefined : { statusCode: e.statusCode, message: e.message, result: e.result };
}
