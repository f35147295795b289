import { TaskApi } from 'azure-devops-node-api/TaskApi';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type AccessToken,
  type GetTokenOptions,
  type TokenCredential,
} from '@azure/identity';

import type { AzureConnection } from './connections';
import { UserError, errorMessage } from './errors';
import { devopsClient, devopsFailure } from './devopsConnection';
import { HttpError, httpRetryVerdict, sdkNetworkFailure } from './http';
import type { TaskLog } from './log';
import { azureSdkNetworkOptions } from './network/clients';
import type { RegistryCredentials } from './registry/client';
import { retry } from './retry';
import { pemSecretLines } from './secrets';

/**
 * A TokenCredential for an AzureRM service connection: workload identity federation, service principal
 * (secret or certificate) or managed identity. Authority and audiences come from the connection, so
 * sovereign clouds and local stand-ins work the same way. Failures become UserErrors that say what to fix.
 */
export function createAzureCredential(connection: AzureConnection, log: TaskLog): TokenCredential {
  log.secret(connection.clientSecret);
  log.secret(connection.systemAccessToken);
  for (const line of pemSecretLines(connection.certificatePem)) log.secret(line);
  // MSAL's requests go through core-rest-pipeline, so the agent's proxy and CA reach them through these options.
  const common = { authorityHost: connection.authorityHost, disableInstanceDiscovery: true, ...azureSdkNetworkOptions(connection.authorityHost) };
  const clientId = connection.clientId!;
  let inner: TokenCredential;
  switch (connection.scheme) {
    case 'ServicePrincipal':
      inner = connection.certificatePem
        ? new ClientCertificateCredential(connection.tenantId, clientId, { certificate: connection.certificatePem }, common)
        : new ClientSecretCredential(connection.tenantId, clientId, connection.clientSecret!, common);
      break;
    case 'WorkloadIdentityFederation': {
      const oidc = new PipelineOidcToken(connection, log);
      inner = new ClientAssertionCredential(connection.tenantId, clientId, () => oidc.get(), common);
      break;
    }
    case 'ManagedServiceIdentity':
      inner = new ManagedIdentityCredential({ ...(connection.msiClientId ? { clientId: connection.msiClientId } : {}), ...azureSdkNetworkOptions(managedIdentityEndpoint()) });
      break;
  }
  return new ExplainingCredential(inner, connection, log);
}

/** The `.default` scope of ARM for this connection's cloud. */
export function armScope(connection: AzureConnection): string {
  return `${connection.armResource}.default`;
}

/**
 * Registry credentials of an AzureRM connection: its Entra token for ARM's audience, which ACR accepts at
 * /oauth2/exchange, is traded there for an ACR refresh token.
 */
export function acrCredentials(connection: AzureConnection, credential: TokenCredential): RegistryCredentials {
  return { kind: 'entra', credential, tenantId: connection.tenantId, scope: armScope(connection), source: `service connection '${connection.id}'` };
}

/** Options for the ARM SDK clients: endpoint and audience from the connection, retries for 429/5xx. */
export function armClientOptions(connection: AzureConnection) {
  return {
    endpoint: connection.armUrl,
    credentials: { scopes: [armScope(connection)] },
    retryOptions: { maxRetries: 4, retryDelayInMs: 500, maxRetryDelayInMs: 15_000 },
    userAgentOptions: { userAgentPrefix: 'aks-secure-delivery' },
    ...azureSdkNetworkOptions(connection.armUrl),
  };
}

/**
 * Where @azure/identity's managed identity asks for tokens: App Service's IDENTITY_ENDPOINT, a pod identity host, or
 * the VM's instance metadata service (plain HTTP on a link-local address, which an agent's bypass list usually names).
 */
function managedIdentityEndpoint(): string {
  return process.env.IDENTITY_ENDPOINT || process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST || 'http://169.254.169.254';
}

/**
 * The federated token of workload identity federation, requested as Microsoft's own tasks do (AzureCLIV2,
 * azure-arm-rest): azure-devops-node-api's TaskApi `createOidcToken` with the job's access token, for the plan and
 * job that System.OidcRequestUri names. Kept for a few minutes because MSAL asks for it twice per token; the
 * endpoint's tokens live ~10. Throttling, server errors and dropped connections are retried.
 */
class PipelineOidcToken {
  private cached?: { token: string; until: number };

  constructor(private readonly connection: AzureConnection, private readonly log: TaskLog) {}

  async get(): Promise<string> {
    if (this.cached && Date.now() < this.cached.until) return this.cached.token;
    const { oidcRequestUri, systemAccessToken, id, input } = this.connection;
    if (!oidcRequestUri) {
      throw new UserError(`Input '${input}': the service connection uses workload identity federation, but this job has no OIDC request endpoint (System.OidcRequestUri). Run the task in Azure DevOps Services, or use a service principal connection.`);
    }
    if (!systemAccessToken) {
      throw new UserError(`Input '${input}': workload identity federation needs the job's access token (System.AccessToken), which this job does not have. Allow scripts to access the OAuth token for this job.`);
    }
    const job = oidcJob(oidcRequestUri, input);
    const token = await retry(async () => {
      // A client per attempt: VsoClient keeps the promise of its location lookup, a failed one included.
      const tasks = devopsClient(TaskApi, job.collectionUri, systemAccessToken);
      let answer: { oidcToken?: string } | null;
      try {
        answer = await tasks.createOidcToken({}, job.projectId, job.hub, job.planId, job.jobId, id);
      } catch (err) {
        const failure = devopsFailure(err);
        if (!failure?.statusCode) throw err;
        const headers = (err as { responseHeaders?: Record<string, string | string[] | undefined> }).responseHeaders ?? {};
        const retryAfter = headers['retry-after'];
        throw new HttpError(failure.statusCode, "the agent's OIDC endpoint", { retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, body: failure.result?.message ?? failure.message });
      }
      if (typeof answer?.oidcToken !== 'string' || !answer.oidcToken) {
        throw new UserError(`Input '${input}': the agent's OIDC endpoint answered without a token. Check that the service connection '${id}' uses workload identity federation.`);
      }
      return answer.oidcToken;
    }, httpRetryVerdict, { onRetry: ({ delayMs, reason }) => this.log.debug(`OIDC token request: ${reason}; retrying in ${delayMs} ms`) });
    this.log.secret(token);
    this.cached = { token, until: Date.now() + 4 * 60_000 };
    return token;
  }
}

/**
 * The collection, project, hub, plan and job of System.OidcRequestUri
 * (`{collection}{projectId}/_apis/distributedtask/hubs/{hub}/plans/{planId}/jobs/{jobId}/oidctoken`): the agent
 * builds it for the job it runs, which is right in classic releases too, where hand-built URLs went wrong.
 */
function oidcJob(uri: string, input: string): { collectionUri: string; projectId: string; hub: string; planId: string; jobId: string } {
  const url = new URL(uri);
  const m = /^(.*\/)([^/]+)\/_apis\/distributedtask\/hubs\/([^/]+)\/plans\/([^/]+)\/jobs\/([^/]+)\/oidctoken\/?$/i.exec(url.pathname);
  if (!m) throw new UserError(`Input '${input}': the job's OIDC request endpoint (System.OidcRequestUri) is not in the form the agent writes: ${url.origin}${url.pathname}.`);
  const [, base, projectId, hub, planId, jobId] = m.map(decodeURIComponent);
  return { collectionUri: `${url.origin}${base}`, projectId, hub, planId, jobId };
}

/** AADSTS codes Entra ID returns, and what the pipeline author should do about each. */
const AADSTS_ADVICE: Record<string, string> = {
  '7000215': 'the client secret is wrong or expired: renew it in the app registration and update the service connection',
  '7000222': 'the client secret has expired: create a new one and update the service connection',
  '700016': 'the application (client id) is not known in this tenant: check the service connection\'s client id and tenant',
  '90002': 'the tenant does not exist: check the service connection\'s tenant id',
  '700024': 'the federated token is outside its validity window: rerun the job (federated tokens live about ten minutes)',
  '70021': 'no federated credential on the app registration matches this pipeline: add one with the issuer and subject shown on the service connection',
  '700213': 'no federated credential on the app registration matches this pipeline: add one with the issuer and subject shown on the service connection',
  '700027': 'the certificate is not registered on the app registration or its signature is wrong: upload the certificate to the app registration',
  '700023': 'the certificate or client assertion was rejected: check the certificate of the service connection',
};

/**
 * Wraps a credential so that every token it hands out is registered with the agent as a secret (once), and its
 * failures name the service connection and the fix, with no secret in them.
 */
class ExplainingCredential implements TokenCredential {
  private readonly registered = new Set<string>();

  constructor(private readonly inner: TokenCredential, private readonly connection: AzureConnection, private readonly log: TaskLog) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    try {
      const token = await this.inner.getToken(scopes, options);
      if (!token) throw new Error('no token was returned');
      if (!this.registered.has(token.token)) {
        this.registered.add(token.token);
        this.log.secret(token.token);
      }
      return token;
    } catch (err) {
      throw this.explain(err, scopes);
    }
  }

  private explain(err: unknown, scopes: string | string[]): Error {
    if (err instanceof UserError) return err;
    const { input, id, scheme, authorityHost } = this.connection;
    const raw = this.scrub(errorMessage(err));
    const code = /AADSTS(\d+)/.exec(raw)?.[1];
    const prefix = `Input '${input}': the service connection '${id}' (${scheme}) could not get a token for ${[scopes].flat().join(' ')}`;
    if (code && AADSTS_ADVICE[code]) return new UserError(`${prefix}: ${AADSTS_ADVICE[code]} (AADSTS${code}).`, { cause: err });
    if (code) return new UserError(`${prefix}: Entra ID refused it (AADSTS${code}). ${firstSentence(raw)}`, { cause: err });
    const network = sdkNetworkFailure(err, authorityHost);
    if (network) return new UserError(`${prefix}: ${network}.`, { cause: err });
    if (/endpoints_resolution_error/.test(raw)) {
      return new UserError(`${prefix}: the authority ${authorityHost} could not be reached or is not trusted. Check the connection's authority URL and that the agent trusts its TLS certificate.`, { cause: err });
    }
    return new UserError(`${prefix}: ${raw}`, { cause: err });
  }

  private scrub(text: string): string {
    let out = text;
    for (const secret of [this.connection.clientSecret, this.connection.systemAccessToken]) {
      if (secret) out = out.split(secret).join('***');
    }
    return out.replace(/Bearer [A-Za-z0-9._~+/=-]+/g, 'Bearer ***');
  }
}

function firstSentence(text: string): string {
  const description = /Description: (AADSTS\d+: [^.]*\.)/.exec(text)?.[1];
  return description ?? text.split('\n')[0];
}
