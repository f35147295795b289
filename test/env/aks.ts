import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArmError, type ArmEmulator } from './arm';
import { CertificateAuthority } from './ca';
import type { EntraEmulator, EntraIdentity } from './entra';
import { AKS_SERVER_APP_ID, KubeCluster } from './kube/cluster';
import { Controllers } from './kube/controllers';
import type { RegistryAccess } from './kube/kubelet/images';
import { Kubelet } from './kube/kubelet/kubelet';
import { loopbackBlockOf } from './kube/network/addresses';
import { GatewayController, installGatewayApi } from './kube/network/gateway';
import { ServiceProxy } from './kube/network/services';

/** Api-versions of Microsoft.ContainerService/managedClusters the emulator answers (the SDK 25.3.0 sends 2026-04-01). */
export const AKS_API_VERSIONS = ['2026-04-01', '2025-10-01', '2025-07-01', '2025-05-01', '2024-10-01', '2024-05-01', '2024-02-01', '2023-08-01', '2017-08-31'];

/** The public client of kubelogin's interactive flows, named in AAD kubeconfigs. */
const AKS_CLIENT_APP_ID = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';

export interface AksClusterSpec {
  key: 'staging' | 'production';
  name: string;
  resourceGroup: string;
  aad: boolean;
  disableLocalAccounts: boolean;
}

/** One emulated AKS cluster: its ARM resource and its Kubernetes API server. */
export interface AksCluster extends AksClusterSpec {
  kube: KubeCluster;
  controllers: Controllers;
  /** The cluster's kubelet stand-in (its registries, pull cache and containers). */
  kubelet: Kubelet;
  /** The cluster's Services on loopback addresses, and its EndpointSlices. */
  services: ServiceProxy;
  /** The cluster's Gateway API gateway (the managed GatewayClass, its Gateways and HTTPRoutes). */
  gateway: GatewayController;
  resourceId: string;
  /** Kubeconfig YAML of `listClusterUserCredential` (AAD: the kubelogin exec plugin; else a client certificate). */
  userKubeconfig(format?: 'exec' | 'azure'): string;
  /** Kubeconfig YAML of `listClusterAdminCredential`: a client certificate of the cluster admin. */
  adminKubeconfig(): string;
  /** A kubeconfig for a service account token limited to `namespaces` (a Kubernetes service connection). */
  serviceAccountKubeconfig(namespaces?: string[], readOnly?: boolean): { kubeconfig: string; token: string };
  /** A kubeconfig file with a cluster-admin token, for people and tools driving the environment (kubectl). */
  kubeconfigPath: string;
}

export interface AksEnvironment {
  clusters: { staging: AksCluster; production: AksCluster };
  /** A cluster's entry in the environment info: ARM coordinates, API server, and a kubeconfig file for kubectl. */
  info(key: 'staging' | 'production'): { resourceGroup: string; name: string; server: string; aad: boolean; disableLocalAccounts: boolean; kubeconfig: string; gateway: string };
  clearFaults(): void;
  stop(): Promise<void>;
}

const SPECS: AksClusterSpec[] = [
  { key: 'staging', name: 'aks-staging', resourceGroup: 'delivery-staging', aad: true, disableLocalAccounts: false },
  { key: 'production', name: 'aks-production', resourceGroup: 'delivery-prod', aad: true, disableLocalAccounts: true },
];

/**
 * Two AKS clusters (DESIGN §5): staging, AAD-enabled with local accounts; production, AAD-enabled with local
 * accounts disabled. ARM serves the managedClusters resources and their credentials; each cluster has its own
 * Kubernetes API emulator with controllers and a kubelet that pulls from the local registries.
 */
export async function startAks(options: {
  ca: CertificateAuthority; entra: EntraEmulator; arm: ArmEmulator; registries: RegistryAccess[]; aadUsers: EntraIdentity[];
  /** Where the clusters' kubeconfig files are written. */
  dir: string;
}): Promise<AksEnvironment> {
  const { ca, entra, arm } = options;
  const started: AksCluster[] = [];
  try {
    for (const spec of SPECS) {
      // An AKS cluster has a CA of its own: Agent.CAInfo and NODE_EXTRA_CA_CERTS do not trust its API server.
      const clusterCa = CertificateAuthority.create(path.join(options.dir, `ca-${spec.key}`));
      const kube = await KubeCluster.start(spec.name, clusterCa, entra);
      const controllers = new Controllers(kube);
      controllers.start();
      const kubelet = new Kubelet(kube, options.registries, ca.caPem, path.join(options.dir, `kubelet-${spec.key}`));
      kubelet.start();
      const services = new ServiceProxy(kube, loopbackBlockOf(kube));
      services.start();
      installGatewayApi(kube);
      const gateway = new GatewayController(kube, loopbackBlockOf(kube));
      gateway.start();
      for (const identity of options.aadUsers) kube.grantAad(identity);
      arm.resourceGroups.add(spec.resourceGroup);
      const admin = kube.issueClientCertificate({ name: 'masterclient', groups: ['system:masters', 'system:authenticated'] });
      const user = kube.issueClientCertificate({ name: 'clusterUser', groups: ['system:authenticated'] });
      const adminToken = kube.issueToken({ name: 'clusterAdmin', groups: ['system:masters'] });
      const caData = Buffer.from(clusterCa.caPem).toString('base64');
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      const kubeconfig = (userName: string, userYaml: string[]) => [
        'apiVersion: v1', 'kind: Config', 'preferences: {}',
        'clusters:', '- cluster:', `    certificate-authority-data: ${caData}`, `    server: ${kube.url}`, `  name: ${spec.name}`,
        'contexts:', '- context:', `    cluster: ${spec.name}`, `    user: ${userName}`, `  name: ${spec.name}`,
        `current-context: ${spec.name}`,
        'users:', `- name: ${userName}`, '  user:', ...userYaml.map((l) => `    ${l}`), '',
      ].join('\n');
      const kubeconfigPath = path.join(options.dir, `kubeconfig-${spec.key}.yaml`);
      const cluster: AksCluster = {
        ...spec, kube, controllers, kubelet, services, gateway, kubeconfigPath,
        resourceId: `${arm.subscriptionScope}/resourceGroups/${spec.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${spec.name}`,
        userKubeconfig(format = 'exec') {
          const userName = `clusterUser_${spec.resourceGroup}_${spec.name}`;
          if (!spec.aad) return kubeconfig(userName, [`client-certificate-data: ${b64(user.certPem)}`, `client-key-data: ${b64(user.keyPem)}`]);
          if (format === 'azure') {
            return kubeconfig(userName, ['auth-provider:', '  name: azure', '  config:', `    apiserver-id: ${AKS_SERVER_APP_ID}`, `    client-id: ${AKS_CLIENT_APP_ID}`, '    config-mode: "1"', '    environment: AzurePublicCloud', `    tenant-id: ${entra.tenantId}`]);
          }
          return kubeconfig(userName, [
            'exec:', '  apiVersion: client.authentication.k8s.io/v1beta1', '  command: kubelogin', '  args:',
            ...['get-token', '--environment', 'AzurePublicCloud', '--server-id', AKS_SERVER_APP_ID, '--client-id', AKS_CLIENT_APP_ID, '--tenant-id', entra.tenantId, '--login', 'devicecode'].map((a) => `  - ${a}`),
            '  env: null', '  installHint: |', '    kubelogin is not installed which is required to connect to AAD enabled cluster.', '  interactiveMode: IfAvailable', '  provideClusterInfo: false',
          ]);
        },
        adminKubeconfig() {
          return kubeconfig(`clusterAdmin_${spec.resourceGroup}_${spec.name}`, [`client-certificate-data: ${b64(admin.certPem)}`, `client-key-data: ${b64(admin.keyPem)}`, `token: ${adminToken}`]);
        },
        serviceAccountKubeconfig(namespaces, readOnly) {
          const token = kube.issueToken({ name: `system:serviceaccount:${namespaces?.[0] ?? 'kube-system'}:deployer`, groups: ['system:serviceaccounts'], namespaces, readOnly });
          return { token, kubeconfig: kubeconfig('deployer', [`token: ${token}`]) };
        },
      };
      fs.mkdirSync(options.dir, { recursive: true });
      fs.writeFileSync(kubeconfigPath, kubeconfig('cluster-admin', [`token: ${kube.issueToken({ name: 'cluster-admin', groups: ['system:masters'] })}`]), { mode: 0o600 });
      started.push(cluster);
    }
  } catch (err) {
    for (const c of started) { c.controllers.stop(); c.services.close(); c.gateway.close(); await c.kubelet.stop(); await c.kube.close(); }
    throw err;
  }
  const [staging, production] = started;
  addRoutes(arm, started);
  return {
    clusters: { staging, production },
    info(key) {
      const c = key === 'staging' ? staging : production;
      return { resourceGroup: c.resourceGroup, name: c.name, server: c.kube.url, aad: c.aad, disableLocalAccounts: c.disableLocalAccounts, kubeconfig: c.kubeconfigPath, gateway: c.gateway.sharedGatewayUrl() };
    },
    clearFaults() {
      for (const c of started) c.kube.faults.clear();
    },
    async stop() {
      for (const c of started) { c.controllers.stop(); c.services.close(); c.gateway.close(); await c.kubelet.stop(); await c.kube.close(); }
    },
  };
}

function addRoutes(arm: ArmEmulator, clusters: AksCluster[]): void {
  const base = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/Microsoft.ContainerService/managedClusters';
  const find = (rg: string, name: string) => {
    const c = clusters.find((x) => x.resourceGroup.toLowerCase() === rg.toLowerCase() && x.name.toLowerCase() === name.toLowerCase());
    if (!c) throw new ArmError(404, 'ResourceNotFound', `The Resource 'Microsoft.ContainerService/managedClusters/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`);
    return c;
  };
  const resource = (c: AksCluster) => ({
    id: c.resourceId, name: c.name, type: 'Microsoft.ContainerService/ManagedClusters', location: arm.location,
    sku: { name: 'Base', tier: 'Standard' }, identity: { type: 'SystemAssigned' },
    properties: {
      provisioningState: 'Succeeded', powerState: { code: 'Running' }, kubernetesVersion: '1.32.6', currentKubernetesVersion: '1.32.6',
      dnsPrefix: c.name, fqdn: new URL(c.kube.url).host, azurePortalFQDN: new URL(c.kube.url).host,
      enableRBAC: true, disableLocalAccounts: c.disableLocalAccounts,
      ...(c.aad ? { aadProfile: { managed: true, enableAzureRBAC: false, tenantID: undefined } } : {}),
      apiServerAccessProfile: { enablePrivateCluster: false },
    },
  });
  arm.route('GET', '/subscriptions/:subscriptionId/providers/Microsoft.ContainerService/managedClusters', AKS_API_VERSIONS, (x, caller) => {
    const visible = clusters.filter((c) => { try { arm.authorize(caller, c.resourceId, 'Microsoft.ContainerService/managedClusters/read'); return true; } catch { return false; } });
    x.sendJson(200, { value: visible.map(resource) });
  });
  arm.route('GET', base, AKS_API_VERSIONS, (x, caller) => {
    const scope = `${arm.subscriptionScope}/resourceGroups/${x.params.resourceGroupName}`;
    arm.authorize(caller, scope, 'Microsoft.ContainerService/managedClusters/read');
    x.sendJson(200, { value: clusters.filter((c) => c.resourceGroup.toLowerCase() === x.params.resourceGroupName.toLowerCase()).map(resource) });
  });
  arm.route('GET', `${base}/:name`, AKS_API_VERSIONS, (x, caller) => {
    const c = find(x.params.resourceGroupName, x.params.name);
    arm.authorize(caller, c.resourceId, 'Microsoft.ContainerService/managedClusters/read');
    x.sendJson(200, resource(c));
  });
  arm.route('POST', `${base}/:name/listClusterUserCredential`, AKS_API_VERSIONS, (x, caller) => {
    const c = find(x.params.resourceGroupName, x.params.name);
    arm.authorize(caller, c.resourceId, 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action');
    const format = x.query('format');
    if (format !== undefined && !['exec', 'azure'].includes(format.toLowerCase())) {
      throw new ArmError(400, 'InvalidParameter', `The value of parameter format is invalid: '${format}'. Supported values are 'azure' and 'exec'.`);
    }
    x.sendJson(200, { kubeconfigs: [{ name: 'clusterUser', value: Buffer.from(c.userKubeconfig(format?.toLowerCase() as 'exec' | 'azure' | undefined)).toString('base64') }] });
  });
  arm.route('POST', `${base}/:name/listClusterAdminCredential`, AKS_API_VERSIONS, (x, caller) => {
    const c = find(x.params.resourceGroupName, x.params.name);
    arm.authorize(caller, c.resourceId, 'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action');
    if (c.disableLocalAccounts) {
      throw new ArmError(400, 'BadRequest', 'Getting static credential is not allowed because this cluster is set to disable local accounts.');
    }
    x.sendJson(200, { kubeconfigs: [{ name: 'clusterAdmin', value: Buffer.from(c.adminKubeconfig()).toString('base64') }] });
  });
}
