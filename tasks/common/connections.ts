import { UserError } from './errors';
import { Inputs } from './inputs';

/** Authentication schemes of an AzureRM service connection that a task can use without a person. */
export type AzureAuthScheme = 'WorkloadIdentityFederation' | 'ServicePrincipal' | 'ManagedServiceIdentity';

/** Everything needed to authenticate as an AzureRM service connection, read from the agent's variables. */
export interface AzureConnection {
  /** The input that named it, for messages. */
  input: string;
  /** Service connection id (a GUID). */
  id: string;
  scheme: AzureAuthScheme;
  tenantId: string;
  clientId?: string;
  clientSecret?: string;
  /** PEM holding the certificate and its private key. */
  certificatePem?: string;
  /** ARM endpoint, e.g. `https://management.azure.com/`. */
  armUrl: string;
  /** Audience of ARM tokens, e.g. `https://management.azure.com/`. */
  armResource: string;
  /** Entra authority host, e.g. `https://login.microsoftonline.com/`. */
  authorityHost: string;
  subscriptionId?: string;
  environment?: string;
  /** Workload identity federation: the agent's OIDC request endpoint and the job's access token. */
  oidcRequestUri?: string;
  systemAccessToken?: string;
  msiClientId?: string;
}

/** Credentials for a Docker registry service connection (any OCI registry). */
export interface RegistryConnection {
  input: string;
  id: string;
  /** Registry host as given by the connection (`registry` parameter or the endpoint URL). */
  registry: string;
  username?: string;
  password?: string;
}

const PUBLIC_AUTHORITY = 'https://login.microsoftonline.com/';

function connectionId(inputs: Inputs, input: string, required: boolean, hint: string): string | undefined {
  return required ? inputs.required(input, hint) : inputs.text(input);
}

/** Reads the AzureRM service connection named by `input`; undefined when the input is empty and optional. */
export function readAzureConnection(inputs: Inputs, input: string, required: true): AzureConnection;
export function readAzureConnection(inputs: Inputs, input: string, required: boolean): AzureConnection | undefined;
export function readAzureConnection(inputs: Inputs, input: string, required: boolean): AzureConnection | undefined {
  const id = connectionId(inputs, input, required, 'choose an Azure Resource Manager service connection');
  if (!id) return undefined;
  const src = inputs.source;
  const armUrl = src.endpointUrl(id);
  if (!armUrl) {
    throw new UserError(`Input '${input}': the service connection '${id}' is not available to this job. Check its name, and that the pipeline is authorised to use it.`);
  }
  const rawScheme = (src.endpointScheme(id) ?? 'ServicePrincipal').toLowerCase();
  const scheme: AzureAuthScheme | undefined = {
    workloadidentityfederation: 'WorkloadIdentityFederation',
    serviceprincipal: 'ServicePrincipal',
    managedserviceidentity: 'ManagedServiceIdentity',
  }[rawScheme] as AzureAuthScheme | undefined;
  if (!scheme) {
    throw new UserError(`Input '${input}': the service connection '${id}' uses the authentication scheme '${src.endpointScheme(id)}', which this task cannot use. Use workload identity federation, a service principal or a managed identity.`);
  }
  const auth = (key: string) => src.endpointAuthParameter(id, key)?.trim() || undefined;
  const data = (key: string) => src.endpointDataParameter(id, key)?.trim() || undefined;
  const tenantId = auth('tenantid');
  if (!tenantId) throw new UserError(`Input '${input}': the service connection '${id}' has no tenant id. Edit the service connection and verify it.`);

  const connection: AzureConnection = {
    input,
    id,
    scheme,
    tenantId,
    clientId: auth('serviceprincipalid'),
    armUrl: withTrailingSlash(armUrl),
    armResource: withTrailingSlash(data('activeDirectoryServiceEndpointResourceId') ?? armAudience(armUrl)),
    authorityHost: withTrailingSlash(data('activeDirectoryAuthority') ?? data('environmentAuthorityUrl') ?? PUBLIC_AUTHORITY),
    subscriptionId: data('subscriptionId'),
    environment: data('environment'),
    msiClientId: data('msiclientId'),
  };
  if (scheme === 'ServicePrincipal') {
    if (!connection.clientId) throw new UserError(`Input '${input}': the service connection '${id}' has no service principal id.`);
    if (auth('authenticationType')?.toLowerCase() === 'spncertificate') {
      connection.certificatePem = src.endpointAuthParameter(id, 'servicePrincipalCertificate');
      if (!connection.certificatePem) throw new UserError(`Input '${input}': the service connection '${id}' is set to certificate authentication but holds no certificate.`);
    } else {
      connection.clientSecret = auth('serviceprincipalkey');
      if (!connection.clientSecret) throw new UserError(`Input '${input}': the service connection '${id}' has no service principal key.`);
    }
  }
  if (scheme === 'WorkloadIdentityFederation') {
    if (!connection.clientId) throw new UserError(`Input '${input}': the service connection '${id}' has no service principal (client) id.`);
    connection.oidcRequestUri = inputs.variable('System.OidcRequestUri');
    connection.systemAccessToken = src.endpointAuthParameter('SystemVssConnection', 'AccessToken');
  }
  return connection;
}

/** The subscription of an AzureRM connection, for ARM calls that need one; `holding` says what it must hold. */
export function requireSubscription(connection: AzureConnection, holding: string): string {
  if (!connection.subscriptionId) {
    throw new UserError(`Input '${connection.input}': the service connection '${connection.id}' is not scoped to a subscription. Use an Azure Resource Manager service connection scoped to the subscription that holds ${holding}.`);
  }
  return connection.subscriptionId;
}

/** Reads a Docker registry service connection: endpoint URL plus `registry`, `username`, `password`. */
export function readRegistryConnection(inputs: Inputs, input: string): RegistryConnection | undefined {
  const id = inputs.text(input);
  if (!id) return undefined;
  const src = inputs.source;
  const url = src.endpointUrl(id);
  const registryParam = src.endpointAuthParameter(id, 'registry')?.trim();
  const registry = hostOf(registryParam || url);
  if (!registry) {
    throw new UserError(`Input '${input}': the Docker registry service connection '${id}' is not available to this job or has no registry URL.`);
  }
  return {
    input,
    id,
    registry,
    username: src.endpointAuthParameter(id, 'username') || undefined,
    password: src.endpointAuthParameter(id, 'password') || undefined,
  };
}

function hostOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (!/^[a-z]+:\/\//i.test(value)) return value.replace(/\/+$/, '');
  const u = new URL(value);
  return u.host;
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** The token audience that matches an ARM URL: the URL's origin, as Azure's clouds use it. */
function armAudience(armUrl: string): string {
  return new URL(armUrl).origin;
}
