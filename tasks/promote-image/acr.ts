import { ContainerRegistryManagementClient, type ImportImageParameters } from '@azure/arm-containerregistry';
import type { TokenCredential } from '@azure/identity';
import { armClientOptions } from '../common/azureCredential';
import { requireSubscription, type AzureConnection } from '../common/connections';
import { sdkNetworkFailure } from '../common/http';
import { UserError, errorMessage, isUserError } from '../common/errors';
import { formatDuration, type TaskLog } from '../common/log';

export interface AcrRegistry {
  id: string;
  name: string;
  resourceGroup: string;
  loginServer: string;
  sku?: string;
}

/** ARM access to the registries of the service connection's subscription. */
export class AcrManagement {
  private client: ContainerRegistryManagementClient;
  private registries?: AcrRegistry[];

  constructor(private readonly connection: AzureConnection, credential: TokenCredential, private readonly log: TaskLog) {
    this.client = new ContainerRegistryManagementClient(credential, requireSubscription(connection, 'the target registry'), armClientOptions(connection));
  }

  /** The ACR whose login server is `loginServer`, looked up among the subscription's registries. */
  async find(loginServer: string): Promise<AcrRegistry | undefined> {
    if (!this.registries) {
      const found: AcrRegistry[] = [];
      try {
        for await (const r of this.client.registries.list()) {
          if (!r.id || !r.name || !r.loginServer) continue;
          found.push({ id: r.id, name: r.name, loginServer: r.loginServer, sku: r.sku?.name, resourceGroup: /\/resourceGroups\/([^/]+)/i.exec(r.id)?.[1] ?? '' });
        }
      } catch (err) {
        throw this.explain(err, `list the container registries of subscription ${this.connection.subscriptionId}`);
      }
      this.registries = found;
      this.log.debug(`registries in the subscription: ${found.map((r) => r.loginServer).join(', ') || 'none'}`);
    }
    return this.registries.find((r) => r.loginServer.toLowerCase() === loginServer.toLowerCase());
  }

  /**
   * Imports by digest through ARM and waits for the long-running operation; returns its operation id (the
   * `registries-<guid>` of the Location URL) for support requests.
   */
  async importImage(target: AcrRegistry, parameters: ImportImageParameters): Promise<string | undefined> {
    let operationId: string | undefined;
    let correlationId: string | undefined;
    const started = Date.now();
    const progress = setInterval(() => this.log.info(`ACR import into ${target.name} still running (${formatDuration(Date.now() - started)})`), 15_000);
    try {
      const poller = this.client.registries.importImage(target.resourceGroup, target.name, parameters, {
        onResponse: (raw) => {
          const location = raw.headers.get('location') ?? raw.headers.get('azure-asyncoperation');
          const id = location && /operationResults\/([^/?]+)/i.exec(location)?.[1];
          if (id && !operationId) {
            operationId = id;
            this.log.info(`ACR import operation ${id} started`);
          }
          correlationId ??= raw.headers.get('x-ms-correlation-request-id') ?? undefined;
        },
      });
      await poller;
      return operationId;
    } catch (err) {
      const where = `${operationId ? `operation ${operationId}: ` : ''}`;
      if (correlationId) this.log.debug(`correlation id ${correlationId}`);
      throw this.explain(err, `import ${parameters.source.sourceImage} into ${target.name}`, where);
    } finally {
      clearInterval(progress);
    }
  }

  private explain(err: unknown, what: string, prefix = ''): Error {
    if (isUserError(err)) return err;
    const status = (err as { statusCode?: number }).statusCode;
    const code = (err as { code?: string }).code;
    const message = errorMessage(err);
    const conn = `the service connection '${this.connection.id}'`;
    if (status === 403 || code === 'AuthorizationFailed') {
      return new UserError(`Could not ${what}: ${prefix}${conn} is not authorised (${code ?? status}). Give it the importImage action on the target registry (Contributor, or a custom role with Microsoft.ContainerRegistry/registries/importImage/action) and read access to the source registry.`, { cause: err });
    }
    if (status !== undefined && status < 500) {
      return new UserError(`Could not ${what}: ${prefix}ACR import failed${code ? ` (${code})` : ''}: ${message}`, { cause: err });
    }
    const network = status === undefined ? sdkNetworkFailure(err, this.connection.armUrl) : undefined;
    if (network) return new UserError(`Could not ${what}: ${prefix}${network}.`, { cause: err });
    return new Error(`Could not ${what}: ${prefix}${message}`, { cause: err });
  }
}
