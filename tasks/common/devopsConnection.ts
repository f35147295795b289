import type { ClientApiBase } from 'azure-devops-node-api/ClientApiBases';
import { BearerCredentialHandler } from 'azure-devops-node-api/handlers/bearertoken';
import type { IRequestHandler, IRequestOptions } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import { devopsRequestOptions } from './network/clients';

/** A client class of azure-devops-node-api (GitApi, TaskApi, …): they all take a base URL, handlers and options. */
export type DevOpsClientClass<T extends ClientApiBase> = new (baseUrl: string, handlers: IRequestHandler[], options?: IRequestOptions) => T;

/**
 * The one place that opens azure-devops-node-api clients (Azure Repos for GitOps, the job's OIDC tokens), with the
 * job's access token and the agent's proxy and CA (`devopsRequestOptions`). Each caller imports only the client
 * class it needs, by subpath: the package's root and its `WebApi` require every generated client, which would put
 * 2.5 MB more in each bundle (ado-extension-engineering.md §5.5). Without WebApi there is no resource-area
 * lookup: Git and distributed-task live at the collection URL, on Azure DevOps Services and Server alike.
 * `keepAlive`, because the task polls for minutes and Node's default agent drops idle sockets after 5 s.
 */
export function devopsClient<T extends ClientApiBase>(Client: DevOpsClientClass<T>, collectionUri: string, accessToken: string): T {
  hideUrlParseDeprecation();
  return new Client(collectionUri, [new BearerCredentialHandler(accessToken, false)], {
    ...devopsRequestOptions(collectionUri), keepAlive: true, allowRetries: true, maxRetries: 3, socketTimeout: 60_000,
  });
}

/** The identity the token stands for (`GET _apis/connectionData`, what WebApi.connect reads). */
export async function authenticatedUser(client: ClientApiBase): Promise<{ id?: string; providerDisplayName?: string; customDisplayName?: string } | undefined> {
  const res = await client.rest.get<{ authenticatedUser?: { id?: string; providerDisplayName?: string; customDisplayName?: string } }>(client.vsoClient.resolveUrl('/_apis/connectionData'));
  return res.result?.authenticatedUser;
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

let urlParseHidden = false;

/**
 * azure-devops-node-api resolves its URLs with `url.parse`, which Node 24 deprecates (DEP0169) with a warning on
 * stderr: a line in every job log that the user can do nothing about. Only that warning is dropped.
 */
function hideUrlParseDeprecation(): void {
  if (urlParseHidden) return;
  urlParseHidden = true;
  const emit = process.emitWarning.bind(process) as (warning: string | Error, ...rest: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
    if (code === 'DEP0169') return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
