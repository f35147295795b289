import type { KubeConfig, User } from '@kubernetes/client-node';
import type { TokenCredential } from '@azure/identity';
import type { AzureConnection } from '../common/connections';
import { UserError, errorMessage, isUserError } from '../common/errors';
import { sdkNetworkFailure } from '../common/http';
import type { TaskLog } from '../common/log';
import { pemSecretLines } from '../common/secrets';
import { clusterKubeconfig } from './clusterCredentials';
import { KubeClient } from './kubeClient';
import type { ClusterConnection } from './options';

/** The AAD server application of AKS: the audience of every AAD cluster's tokens, in every tenant. */
export const AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';
const AAD_PROVIDER = 'aks-secure-delivery-aad';

export interface ClusterSession {
  client: KubeClient;
  /** e.g. "AKS cluster 'aks-staging' in resource group 'rg'". */
  description: string;
  /** How the task authenticates, for the log: "Microsoft Entra token (workload identity federation)". */
  authentication: string;
}

/**
 * The Kubernetes SDK (a bundle of its own, 1 MB) is loaded when a connection is opened, and the credential code only
 * for an AzureRM connection: a task that ends on its inputs, or reaches a cluster through a kubeconfig, does not pay
 * for what it never uses, and an ARM run sends its token request and gets its kubeconfig before the Kubernetes SDK
 * loads.
 */
async function newKubeConfig(): Promise<KubeConfig> {
  const { KubeConfig } = await import('./kubeSdk.js');
  return new KubeConfig();
}

/** Opens the cluster the options name: AKS through ARM, a Kubernetes service connection, or a kubeconfig file. */
export async function connectToCluster(connection: ClusterConnection, log: TaskLog): Promise<ClusterSession> {
  switch (connection.type) {
    case 'azureResourceManager': return connectThroughArm(connection, log);
    case 'kubernetesServiceConnection': {
      const kc = await newKubeConfig();
      const description = `the Kubernetes service connection '${connection.endpointId}'`;
      if (connection.authorizationType === 'Kubeconfig') {
        if (!connection.kubeconfig) throw new UserError(`Input 'kubernetesServiceConnection': ${description} holds no kubeconfig. Edit the service connection and paste the kubeconfig.`);
        loadKubeconfig(kc, connection.kubeconfig, description);
        registerSecrets(kc, log);
        if (connection.clusterContext) {
          if (!kc.getContextObject(connection.clusterContext)) throw new UserError(`Input 'kubernetesServiceConnection': the context '${connection.clusterContext}' of ${description} is not in its kubeconfig.`);
          kc.setCurrentContext(connection.clusterContext);
        }
      } else {
        if (!connection.server || !connection.token) throw new UserError(`Input 'kubernetesServiceConnection': ${description} has no server URL or service account token. Edit the service connection.`);
        log.secret(connection.token);
        kc.loadFromOptions({
          clusters: [{ name: 'cluster', server: connection.server, caData: connection.caData, skipTLSVerify: connection.acceptUntrustedCerts }],
          users: [{ name: 'service-account', token: connection.token }],
          contexts: [{ name: 'cluster', cluster: 'cluster', user: 'service-account', namespace: connection.namespace }],
          currentContext: 'cluster',
        });
      }
      if (connection.acceptUntrustedCerts) skipTlsVerify(kc);
      refuseInteractiveLogin(kc, description, "Input 'kubernetesServiceConnection'");
      return session(kc, log, description);
    }
    case 'kubeconfig': {
      const kc = await newKubeConfig();
      const description = `the kubeconfig file '${connection.path}'`;
      try {
        kc.loadFromFile(connection.path);
      } catch (err) {
        throw new UserError(`Input 'kubeconfig': ${description} could not be read: ${errorMessage(err)}. Give the path of a kubeconfig file on the agent.`, { cause: err });
      }
      registerSecrets(kc, log);
      refuseInteractiveLogin(kc, description, "Input 'kubeconfig'");
      return session(kc, log, description);
    }
  }
}

/** A session on the kubeconfig's current cluster, named by its server and where the kubeconfig came from. */
function session(kc: KubeConfig, log: TaskLog, source: string): ClusterSession {
  const client = new KubeClient(kc, log, source);
  return { client, description: `the cluster ${client.server} (from ${source})`, authentication: authenticationOf(kc.getCurrentUser()) };
}

function loadKubeconfig(kc: KubeConfig, text: string, description: string): void {
  try {
    kc.loadFromString(text);
  } catch (err) {
    throw new UserError(`${description}: the kubeconfig is not valid: ${errorMessage(err)}.`, { cause: err });
  }
}

/**
 * Registers the credentials a kubeconfig holds (tokens, passwords, private keys, in base64 and as PEM lines)
 * before anything could print them. Server addresses and CA certificates are not secrets and stay readable.
 */
function registerSecrets(kc: KubeConfig, log: TaskLog): void {
  for (const user of kc.users) {
    log.secret(user.token);
    log.secret(user.password);
    if (user.keyData) {
      log.secret(user.keyData);
      for (const line of pemSecretLines(Buffer.from(user.keyData, 'base64').toString('utf8'))) log.secret(line);
    }
    for (const e of ((user.exec as { env?: { value?: string }[] } | undefined)?.env ?? [])) log.secret(e.value);
  }
}

function skipTlsVerify(kc: KubeConfig): void {
  const current = kc.getCurrentCluster();
  if (!current) return;
  kc.clusters = kc.clusters.map((c) => (c.name === current.name ? { ...c, skipTLSVerify: true } : c));
}

function isAadUser(user: User | null): boolean {
  if (!user) return false;
  if (user.authProvider?.name === 'azure') return true;
  const exec = user.exec as { command?: string; args?: string[] } | undefined;
  return !!exec && (/kubelogin/i.test(exec.command ?? '') || (exec.args ?? []).includes(AKS_SERVER_APP_ID));
}

/** A kubeconfig that would make kubelogin prompt for a device code would hang the job: refuse it up front. */
function refuseInteractiveLogin(kc: KubeConfig, description: string, input: string): void {
  const user = kc.getCurrentUser();
  if (!isAadUser(user)) return;
  const args = ((user!.exec as { args?: string[] } | undefined)?.args ?? []);
  const login = args[args.indexOf('--login') + 1] ?? args[args.indexOf('-l') + 1];
  const interactive = user!.authProvider?.name === 'azure' || !login || ['devicecode', 'interactive'].includes(login);
  if (interactive) {
    throw new UserError(`${input}: ${description} signs in to a Microsoft Entra (AAD) cluster interactively (kubelogin ${login ?? 'devicecode'}), which cannot work in a pipeline. Use connectionType 'azureResourceManager' with an Azure Resource Manager service connection: the task then gets the cluster's token from that connection, without kubelogin.`);
  }
}

function authenticationOf(user: User | null): string {
  if (!user) return 'no credentials';
  if (user.authProvider?.name === AAD_PROVIDER) return 'Microsoft Entra token';
  if (user.exec) return `exec plugin '${(user.exec as { command?: string }).command}'`;
  if (user.certData || user.certFile) return 'client certificate';
  if (user.token) return 'bearer token';
  if (user.username) return 'basic authentication';
  return 'no credentials';
}

async function connectThroughArm(connection: Extract<ClusterConnection, { type: 'azureResourceManager' }>, log: TaskLog): Promise<ClusterSession> {
  const { azure, resourceGroup, clusterName, useClusterAdmin } = connection;
  const description = `the AKS cluster '${clusterName}' in resource group '${resourceGroup}'`;
  if (!azure.subscriptionId) {
    throw new UserError(`Input 'azureSubscription': the service connection '${azure.id}' is not scoped to a subscription. Use a service connection at subscription scope.`);
  }
  const { armCredential } = await import('./armCredential.js');
  const { credential, token } = await armCredential(azure, log);
  const kind = useClusterAdmin ? 'admin' : 'user';
  log.info(`Getting the ${kind} credentials of ${description}`);
  let text: string | undefined;
  try {
    await token;
    text = await clusterKubeconfig({ ...azure, subscriptionId: azure.subscriptionId }, credential, { resourceGroup, name: clusterName, admin: useClusterAdmin }, log);
  } catch (err) {
    throw explainArmError(err, connection);
  }
  if (!text) throw new UserError(`Azure returned no kubeconfig for ${description}.`);
  const kc = await newKubeConfig();
  loadKubeconfig(kc, text, description);
  registerSecrets(kc, log);
  const user = kc.getCurrentUser();
  let authentication = authenticationOf(user);
  if (isAadUser(user)) {
    useEntraToken(kc, azure, credential, log);
    authentication = `Microsoft Entra token of the service connection (${schemeName(azure)}), minted in-process`;
  }
  return { client: new KubeClient(kc, log, description), description, authentication };
}

/** Replaces the kubeconfig's kubelogin user with a token for the AKS server app, from the same service connection. */
function useEntraToken(kc: KubeConfig, azure: AzureConnection, credential: TokenCredential, log: TaskLog): void {
  const current = kc.getContextObject(kc.getCurrentContext());
  if (!current) return;
  kc.users = kc.users.map((u) => (u.name === current.user ? { name: u.name, authProvider: { name: AAD_PROVIDER, config: {} } } : u));
  let cached: { token: string; refreshAt: number } | undefined;
  kc.addAuthenticator({
    isAuthProvider: (user) => user?.authProvider?.name === AAD_PROVIDER,
    applyAuthentication: async (_user, opts) => {
      if (!cached || Date.now() >= cached.refreshAt) {
        const token = await credential.getToken(`${AKS_SERVER_APP_ID}/.default`);
        if (!token) throw new UserError(`Input 'azureSubscription': the service connection '${azure.id}' returned no token for the AKS server application.`);
        // Refresh well before expiry (five minutes, or half the lifetime of a short-lived token), so a long wait
        // never sends an expired token.
        const lifetime = token.expiresOnTimestamp - Date.now();
        cached = { token: token.token, refreshAt: Date.now() + Math.max(1000, lifetime - Math.min(5 * 60_000, lifetime / 2)) };
        log.debug(`Got a Microsoft Entra token for the AKS server application, valid until ${new Date(token.expiresOnTimestamp).toISOString()}`);
      }
      (opts as { headers?: Record<string, string> }).headers = { ...(opts as { headers?: Record<string, string> }).headers, Authorization: `Bearer ${cached.token}` };
    },
  });
}

function schemeName(azure: AzureConnection): string {
  if (azure.scheme === 'WorkloadIdentityFederation') return 'workload identity federation';
  if (azure.scheme === 'ManagedServiceIdentity') return 'managed identity';
  return azure.certificatePem ? 'service principal certificate' : 'service principal secret';
}

function explainArmError(err: unknown, connection: Extract<ClusterConnection, { type: 'azureResourceManager' }>): Error {
  if (isUserError(err)) return err;
  const { azure, resourceGroup, clusterName, useClusterAdmin } = connection;
  const status = (err as { status?: number }).status;
  const code = (err as { code?: string }).code;
  const message = errorMessage(err);
  if (status === 404) {
    if (code === 'ResourceGroupNotFound') return new UserError(`Input 'resourceGroup': the resource group '${resourceGroup}' does not exist in subscription ${azure.subscriptionId}. Check the name, or the subscription of the service connection '${azure.id}'.`, { cause: err });
    return new UserError(`Input 'kubernetesCluster': there is no AKS cluster '${clusterName}' in resource group '${resourceGroup}'. Check the cluster name and resource group.`, { cause: err });
  }
  if (status === 403) {
    const role = useClusterAdmin ? 'Azure Kubernetes Service Cluster Admin Role' : 'Azure Kubernetes Service Cluster User Role';
    return new UserError(`Input 'azureSubscription': the service connection '${azure.id}' may not get the ${useClusterAdmin ? 'admin' : 'user'} credentials of the AKS cluster '${clusterName}'. Give its identity the '${role}' on the cluster. (${firstLine(message)})`, { cause: err });
  }
  if (status === 400 && /disable local accounts|local accounts/i.test(message)) {
    return new UserError(`Input 'useClusterAdmin': the AKS cluster '${clusterName}' has local accounts disabled, so it has no admin credentials. Set useClusterAdmin to false: the task then signs in with the service connection's Microsoft Entra identity, which needs a Kubernetes role on the cluster.`, { cause: err });
  }
  const network = sdkNetworkFailure(err, azure.armUrl);
  return new UserError(`Getting the credentials of the AKS cluster '${clusterName}' failed: ${network ?? firstLine(message)}`, { cause: err });
}

function firstLine(text: string): string {
  return text.split('\n')[0];
}
