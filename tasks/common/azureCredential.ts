import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';

import type { AzureConnection } from './connections';
import { UserError, errorMessage, isUserError } from './errors';
import { EntraClientCredential } from './entraClientCredential';
import { sdkNetworkFailure } from './http';
import type { TaskLog } from './log';
import { azureSdkNetworkOptions } from './network/clients';
import type { RegistryCredentials } from './registry/client';
import { pemSecretLines } from './secrets';

/**
 * A TokenCredential for an AzureRM service connection: workload identity federation, service principal
 * (secret or certificate) or managed identity. Authority and audiences come from the connection, so
 * sovereign clouds and local stand-ins work the same way. Failures become UserErrors that say what to fix.
 * A secret or a federated token is sent by the task's own client-credentials request; a certificate or a managed
 * identity goes through @azure/identity, loaded on the first token request of such a connection.
 */
export function createAzureCredential(connection: AzureConnection, log: TaskLog): TokenCredential {
  log.secret(connection.clientSecret);
  log.secret(connection.systemAccessToken);
  for (const line of pemSecretLines(connection.certificatePem)) log.secret(line);
  const onRetry = (reason: string, delayMs: number) => log.debug(`token request: ${reason}; retrying in ${delayMs} ms`);
  const client = { authorityHost: connection.authorityHost, tenantId: connection.tenantId, clientId: connection.clientId!, onRetry };
  let inner: TokenCredential;
  if (connection.scheme === 'ServicePrincipal' && !connection.certificatePem) {
    inner = new EntraClientCredential({ ...client, proof: { clientSecret: connection.clientSecret! } });
  } else if (connection.scheme === 'WorkloadIdentityFederation') {
    // The pipeline's federated token is asked for only when Entra ID is: azure-devops-node-api loads with it.
    let oidc: Promise<{ get(): Promise<string> }> | undefined;
    const assertion = async () => (await (oidc ??= import('./pipelineOidcToken.js').then((m) => new m.PipelineOidcToken(connection, log)))).get();
    inner = new EntraClientCredential({ ...client, proof: { assertion } });
  } else {
    let loaded: Promise<TokenCredential> | undefined;
    inner = { getToken: async (scopes, options) => (await (loaded ??= import('./identityCredential.js').then((m) => m.identityCredential(connection)))).getToken(scopes, options) };
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
    if (isUserError(err)) return err;
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
