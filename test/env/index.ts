import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArmEmulator } from './arm';
import { CertificateAuthority } from './ca';
import { DevOpsEmulator, type ServiceConnectionRecord } from './devops';
import { EntraEmulator, type EntraIdentity } from './entra';
import type { TlsMaterial } from './http';
import { addAcrAuthentication, addAcrDataPlane, addAcrResourceProvider, type AcrDataPlane, type ImportRecord } from './acr';
import { Registry, type RegistryUser } from './registry';
// defender-scan-check: Resource Graph serving Defender findings
import { ResourceGraphEmulator } from './resourceGraph';
// deploy-to-aks: AKS clusters (ARM managedClusters and a Kubernetes API emulator per cluster)
import { startAks, type AksEnvironment } from './aks';
// deploy-to-aks (GitOps): Flux on each cluster, reconciling a folder of the GitOps repository on Azure Repos
import { startFlux, type FluxEnvironment } from './flux';
// acceptance-gate: the sample app, Prometheus scraping it, Azure Monitor's managed Prometheus query endpoint
import { startMonitoring, type Monitoring } from './monitoring';
// every task: the agent's corporate proxy
import { SquidProxy } from './proxy';

/** How to reach the environment: the one line of JSON `npm run env` prints (DESIGN.md §5). */
export interface EnvironmentInfo {
  ca: string;
  entra: {
    authority: string;
    tenantId: string;
    /** For managed identities: the IMDS-compatible host (AZURE_POD_IDENTITY_AUTHORITY_HOST). */
    imdsHost: string;
    identities: Record<string, { clientId: string; clientSecret?: string; certificatePath?: string; managed?: boolean }>;
  };
  devops: {
    collectionUri: string; oidcRequestUri: string; accessToken: string; serviceConnectionId: string; federatedClientId: string;
    /** deploy-to-aks (GitOps): the project, and the Azure Repos repositories by name. */
    project: string; projectId: string;
    repositories: Record<string, { cloneUrl: string; project: string; id: string; defaultBranch: string }>;
  };
  arm: { url: string; subscriptionId: string };
  /** defender-scan-check: Resource Graph serves Defender records from `<findingsDir>/sha256-<hex>.json`. */
  defender: { findingsDir: string };
  /** deploy-to-aks: each AKS cluster's ARM coordinates and API server. */
  clusters: Record<'staging' | 'production', {
    resourceGroup: string; name: string; server: string; aad: boolean; disableLocalAccounts: boolean; kubeconfig: string;
    /** The URL of the cluster's shared Gateway (gateway-system/gateway, class approuting-istio), where HTTPRoutes attached to it answer. */
    gateway: string;
    /** deploy-to-aks (GitOps): the cluster's fluxConfiguration and the repository folder it reconciles. */
    fluxConfiguration: string; gitPath: string;
  }>;
  registries: Record<string, { loginServer: string; resourceGroup: string; name: string; username: string; password: string; pullUsername: string; pullPassword: string }>;
  /** acceptance-gate: the real Prometheus, the sample app (HTTP and HTTPS), and the Azure Monitor query endpoint. */
  prometheus: string;
  app: string;
  appHttps: string;
  azureMonitorPrometheus: string;
  /** squid with basic authentication on loopback, as an agent's proxy; `accessLog` shows what went through it. */
  proxy: { url: string; username: string; password: string; accessLog: string };
}

export interface EnvironmentIdentities {
  /** Service principal with a client secret, Contributor on the subscription. */
  secret: EntraIdentity;
  /** Service principal with a certificate, Contributor on the subscription. */
  certificate: EntraIdentity;
  /** Workload identity federation through the Azure DevOps OIDC endpoint, Contributor on the subscription. */
  federated: EntraIdentity;
  /** Managed identity of the agent VM, Contributor on the subscription. */
  managed: EntraIdentity;
  /** Service principal with a client secret and no role anywhere. */
  noAccess: EntraIdentity;
}

export interface RegistryHandle {
  registry: Registry;
  /** ARM id of the registry (it is an ACR: Entra identities reach it through /oauth2/exchange). */
  resourceId: string;
  resourceGroup: string;
  name: string;
  push: RegistryUser;
  pull: RegistryUser;
  /** promote-image: ACR's lock attributes and (switchable) referrers API on this registry's front. */
  acr: AcrDataPlane;
}

export interface Environment {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  readonly tls: TlsMaterial;
  readonly entra: EntraEmulator;
  readonly devops: DevOpsEmulator;
  readonly arm: ArmEmulator;
  /** defender-scan-check: Resource Graph's query endpoint on the ARM emulator. */
  readonly resourceGraph: ResourceGraphEmulator;
  /** deploy-to-aks: the AKS clusters (staging: AAD with local accounts; production: AAD, local accounts disabled). */
  readonly aks: AksEnvironment;
  /** deploy-to-aks (GitOps): the GitOps repository and each cluster's Flux. */
  readonly flux: FluxEnvironment;
  /** acceptance-gate: the sample app (state changeable while it runs), Prometheus and the Azure Monitor endpoint. */
  readonly monitoring: Monitoring;
  /** The agent's proxy (squid), for tests that run tasks with AGENT_PROXYURL. */
  readonly proxy: SquidProxy;
  readonly identities: EnvironmentIdentities;
  /** The service connection whose federated credential `identities.federated` trusts. */
  readonly federatedConnection: ServiceConnectionRecord;
  readonly registries: { nonprod: RegistryHandle; prod: RegistryHandle };
  /** promote-image: the importImage operations ARM was asked for. */
  readonly acrImports: ImportRecord[];
  readonly info: EnvironmentInfo;
  /** Clears injected faults everywhere. */
  clearFaults(): void;
  stop(): Promise<void>;
}

/**
 * Starts the local environment that stands in for Azure: a CA made for this run, the Entra ID, Azure DevOps and
 * ARM emulators, and two real registries. Tests, the demo and the benchmarks all start it through here.
 */
export async function startEnvironment(options: { dir?: string } = {}): Promise<Environment> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'aks-delivery-env-'));
  const stops: (() => Promise<void>)[] = [];
  // Stops what has started, last first, and removes the folder this function made (not one it was given).
  const stopAll = async () => {
    for (let stop = stops.pop(); stop; stop = stops.pop()) await stop().catch(() => undefined);
    if (!options.dir) fs.rmSync(dir, { recursive: true, force: true });
  };
  let stopping: Promise<void> | undefined;
  try {
    const ca = CertificateAuthority.create(path.join(dir, 'pki'));
    const tls = { cert: ca.server.certPem, key: ca.server.keyPem };

    const entra = await EntraEmulator.start(tls);
    stops.push(() => entra.close());
    const devops = await DevOpsEmulator.start(tls, path.join(dir, 'repos'));
    stops.push(() => devops.close());
    entra.trustIssuer(devops.issuer, devops.publicKeyPem);
    const arm = await ArmEmulator.start(tls, entra);
    stops.push(() => arm.close());
    // defender-scan-check: Resource Graph (routes on the ARM emulator; nothing of its own to stop)
    const resourceGraph = new ResourceGraphEmulator(arm, path.join(dir, 'defender-findings'));

    const federatedConnection = devops.addServiceConnection('delivery-arm');
    const spCert = ca.selfSigned('pipeline-certificate-sp');
    const identities: EnvironmentIdentities = {
      secret: entra.addIdentity({ name: 'secret', clientSecret: `s3cr3t~${randomSuffix()}` }),
      certificate: entra.addIdentity({ name: 'certificate', certificatePem: spCert.certPem }),
      federated: entra.addIdentity({
        name: 'federated',
        federated: { issuer: devops.issuer, subject: devops.subjectOf(federatedConnection), audience: 'api://AzureADTokenExchange' },
      }),
      managed: entra.addIdentity({ name: 'managed', managed: true }),
      noAccess: entra.addIdentity({ name: 'noAccess', clientSecret: `n0access~${randomSuffix()}` }),
    };
    for (const identity of [identities.secret, identities.certificate, identities.federated, identities.managed]) {
      arm.assignRole(identity, arm.subscriptionScope, 'Contributor');
    }

    // ---- registries
    const tokenCert = ca.selfSigned('registry-token-signer');
    const startRegistry = async (key: 'nonprod' | 'prod', name: string, resourceGroup: string): Promise<RegistryHandle> => {
      const registry = await Registry.start(key, path.join(dir, `registry-${key}`), tls, tokenCert);
      stops.push(() => registry.stop());
      // As ACR does, blob downloads are sent to storage: every client meets the redirect.
      await registry.redirectBlobDownloads(true);
      arm.resourceGroups.add(resourceGroup);
      const resourceId = `${arm.subscriptionScope}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerRegistry/registries/${name}`;
      addAcrAuthentication(registry, entra, arm, resourceId);
      const acr = addAcrDataPlane(registry);
      return {
        acr, resourceId, registry, resourceGroup, name, push: registry.addUser(`${name}-push`), pull: registry.addUser(`${name}-pull`, ['pull']) };
    };
    const [nonprod, prod] = await Promise.all([
      startRegistry('nonprod', 'contosodev', 'delivery-nonprod'),
      startRegistry('prod', 'contosoprod', 'delivery-prod'),
    ]);
    const registries = { nonprod, prod };
    // ---- promote-image: ACR resource provider (registry lookups, importImage between the local registries)
    const acrImports = addAcrResourceProvider(arm, [nonprod, prod], ca.caCertPath, dir).imports;
    // ---- deploy-to-aks: AKS clusters; kubelets pull with each registry's pull user, as an attached ACR allows
    const aks = await startAks({
      ca, entra, arm,
      registries: [nonprod, prod].map((r) => ({ loginServer: r.registry.loginServer, username: r.pull.username, password: r.pull.password })),
      aadUsers: [identities.secret, identities.certificate, identities.federated, identities.managed],
      dir: path.join(dir, 'aks'),
    });
    stops.push(() => aks.stop());
    // ---- deploy-to-aks (GitOps): Flux reconciling the GitOps repository into each cluster (stopped before the clusters)
    const flux = await startFlux({ arm, repos: devops.repos, clusters: aks.clusters, caFile: ca.caCertPath, dir: path.join(dir, 'flux') });
    stops.push(() => flux.stop());
    // ---- acceptance-gate: sample app, Prometheus, Azure Monitor query endpoint (noAccess is no Monitoring Data Reader)
    const monitoring = await startMonitoring(path.join(dir, 'monitoring'), tls, entra,
      [identities.secret, identities.certificate, identities.federated, identities.managed],
      [aks.clusters.staging, aks.clusters.production].map((c) => ({ name: c.key, kube: c.kube })));
    stops.push(() => monitoring.stop());
    // ---- the agent's proxy: squid on loopback, with basic authentication and an access log
    const proxy = await SquidProxy.start();
    stops.push(() => proxy.stop());

    const info: EnvironmentInfo = {
      ca: ca.caCertPath,
      entra: {
        authority: entra.url,
        tenantId: entra.tenantId,
        imdsHost: entra.url,
        identities: {
          secret: { clientId: identities.secret.clientId, clientSecret: identities.secret.clientSecret },
          certificate: { clientId: identities.certificate.clientId, certificatePath: spCert.bundlePath },
          federated: { clientId: identities.federated.clientId },
          managed: { clientId: identities.managed.clientId, managed: true },
          noAccess: { clientId: identities.noAccess.clientId, clientSecret: identities.noAccess.clientSecret },
        },
      },
      devops: {
        collectionUri: devops.collectionUri,
        oidcRequestUri: devops.oidcRequestUri,
        accessToken: devops.accessToken,
        serviceConnectionId: federatedConnection.id,
        federatedClientId: identities.federated.clientId,
        project: devops.project, projectId: devops.projectId,
        repositories: Object.fromEntries([...devops.repos.repositories.values()].map((r) => [r.name, {
          cloneUrl: devops.repos.cloneUrl(r), project: devops.project, id: r.id, defaultBranch: r.defaultBranch,
        }])),
      },
      arm: { url: arm.url, subscriptionId: arm.subscriptionId },
      defender: { findingsDir: resourceGraph.findingsDir },
      clusters: { // deploy-to-aks
        staging: { ...aks.info('staging'), ...fluxInfo(flux, 'staging') },
        production: { ...aks.info('production'), ...fluxInfo(flux, 'production') },
      },
      registries: Object.fromEntries(Object.entries(registries).map(([key, r]) => [key, {
        loginServer: r.registry.loginServer, resourceGroup: r.resourceGroup, name: r.name,
        username: r.push.username, password: r.push.password, pullUsername: r.pull.username, pullPassword: r.pull.password,
      }])),
      // acceptance-gate
      prometheus: monitoring.prometheus.url, app: monitoring.app.url, appHttps: monitoring.app.httpsUrl, azureMonitorPrometheus: monitoring.azureMonitor.url,
      proxy: { url: proxy.url, username: proxy.username, password: proxy.password, accessLog: proxy.accessLog },
    };

    return {
      dir, ca, tls, entra, devops, arm, identities, federatedConnection, registries, info, acrImports,
      resourceGraph, // defender-scan-check
      aks, // deploy-to-aks
      flux, // deploy-to-aks (GitOps)
      monitoring, // acceptance-gate
      proxy,
      clearFaults() {
        for (const faults of [entra.faults, devops.faults, arm.faults, nonprod.registry.faults, prod.registry.faults]) faults.clear();
        resourceGraph.reset(); // defender-scan-check
        aks.clearFaults(); // deploy-to-aks
        monitoring.azureMonitor.faults.clear(); // acceptance-gate
      },
      // A second call (a second Ctrl+C, a hook after a test that stopped it) waits for the first.
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function fluxInfo(flux: FluxEnvironment, key: 'staging' | 'production') {
  const spec = flux.reconcilers[key].spec;
  return { fluxConfiguration: spec.name, gitPath: spec.kustomizations[0].path.replace(/^\.\//, '') };
}

function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 12);
}
