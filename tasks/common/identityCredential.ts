import { ClientCertificateCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import type { AzureConnection } from './connections';
import { azureSdkNetworkOptions } from './network/clients';

/**
 * The credentials of @azure/identity for what the task's own client-credentials request does not cover: a service
 * principal's certificate (a signed assertion) and managed identity (IMDS, App Service, pod identity). This module,
 * and MSAL with it, is loaded only for a connection that uses one of them.
 */
export function identityCredential(connection: AzureConnection): TokenCredential {
  if (connection.scheme === 'ManagedServiceIdentity') {
    return new ManagedIdentityCredential({ ...(connection.msiClientId ? { clientId: connection.msiClientId } : {}), ...azureSdkNetworkOptions(managedIdentityEndpoint()) });
  }
  // MSAL's requests go through core-rest-pipeline, so the agent's proxy and CA reach them through these options.
  const common = { authorityHost: connection.authorityHost, disableInstanceDiscovery: true, ...azureSdkNetworkOptions(connection.authorityHost) };
  return new ClientCertificateCredential(connection.tenantId, connection.clientId!, { certificate: connection.certificatePem! }, common);
}

/**
 * Where @azure/identity's managed identity asks for tokens: App Service's IDENTITY_ENDPOINT, a pod identity host, or
 * the VM's instance metadata service (plain HTTP on a link-local address, which an agent's bypass list usually names).
 */
function managedIdentityEndpoint(): string {
  return process.env.IDENTITY_ENDPOINT || process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST || 'http://169.254.169.254';
}
