import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type { Environment } from '../env';
import type { Endpoint, RunOptions } from './agent';

export type AzureCredentialKind = 'secret' | 'certificate' | 'federated' | 'managed' | 'noAccess';

/**
 * An AzureRM service connection of the given kind, as the agent passes it to a task, plus the job variables that
 * kind needs (the OIDC request URI and System.AccessToken for federation, the IMDS host for a managed identity).
 * Spread the result into RunOptions and use `id` as the task's `azureSubscription` input.
 */
export function azureRmConnection(env: Environment, kind: AzureCredentialKind, overrides: { clientSecret?: string } = {}):
  { id: string; options: Pick<RunOptions, 'endpoints' | 'variables' | 'systemAccessToken' | 'env' | 'caFile'> } {
  const identity = env.identities[kind];
  const data = {
    subscriptionId: env.arm.subscriptionId,
    subscriptionName: 'Contoso delivery',
    environment: 'AzureCloud',
    scopeLevel: 'Subscription',
    activeDirectoryAuthority: `${env.entra.url}/`,
  };
  const id = kind === 'federated' ? env.federatedConnection.id : randomUUID();
  let endpoint: Endpoint;
  const options: ReturnType<typeof azureRmConnection>['options'] = { caFile: env.ca.caCertPath };
  switch (kind) {
    case 'secret':
    case 'noAccess':
      endpoint = {
        url: env.arm.url, scheme: 'ServicePrincipal', data,
        parameters: { tenantid: env.entra.tenantId, serviceprincipalid: identity.clientId, authenticationType: 'spnKey', serviceprincipalkey: overrides.clientSecret ?? identity.clientSecret! },
      };
      break;
    case 'certificate':
      endpoint = {
        url: env.arm.url, scheme: 'ServicePrincipal', data,
        parameters: { tenantid: env.entra.tenantId, serviceprincipalid: identity.clientId, authenticationType: 'spnCertificate', servicePrincipalCertificate: fs.readFileSync(env.info.entra.identities.certificate.certificatePath!, 'utf8') },
      };
      break;
    case 'federated':
      endpoint = {
        url: env.arm.url, scheme: 'WorkloadIdentityFederation', data,
        parameters: {
          tenantid: env.entra.tenantId, serviceprincipalid: identity.clientId,
          workloadIdentityFederationIssuer: env.devops.issuer, workloadIdentityFederationSubject: env.devops.subjectOf(env.federatedConnection),
        },
      };
      options.variables = { 'System.OidcRequestUri': env.devops.oidcRequestUri, 'System.CollectionUri': env.devops.collectionUri };
      options.systemAccessToken = env.devops.accessToken;
      break;
    case 'managed':
      endpoint = { url: env.arm.url, scheme: 'ManagedServiceIdentity', data: { ...data, msiclientId: identity.clientId }, parameters: { tenantid: env.entra.tenantId } };
      options.env = { AZURE_POD_IDENTITY_AUTHORITY_HOST: env.entra.url };
      break;
  }
  options.endpoints = { [id]: endpoint };
  return { id, options };
}

/** A Docker registry service connection (scheme UsernamePassword) for any OCI registry. */
export function registryConnection(loginServer: string, username: string, password: string): { id: string; endpoints: Record<string, Endpoint> } {
  const id = randomUUID();
  return {
    id,
    endpoints: { [id]: { url: `https://${loginServer}`, scheme: 'UsernamePassword', parameters: { registry: `https://${loginServer}`, username, password, email: 'pipeline@contoso.example' } } },
  };
}

/** Merges several partial RunOptions (endpoints, variables and env are combined). */
export function mergeRunOptions(...parts: Partial<RunOptions>[]): RunOptions {
  const out: RunOptions = {};
  for (const p of parts) {
    Object.assign(out, { ...p, endpoints: { ...out.endpoints, ...p.endpoints }, variables: { ...out.variables, ...p.variables }, env: { ...out.env, ...p.env }, inputs: { ...out.inputs, ...p.inputs } });
  }
  return out;
}
