import { readAzureConnection, type AzureConnection } from '../common/connections';
import { UserError } from '../common/errors';
import { parseImageReference, type ImageReference } from '../common/imageReference';
import type { Inputs } from '../common/inputs';
import { readGitOpsOptions, type GitOpsOptions } from './gitops/options';

export type ClusterConnection =
  | { type: 'azureResourceManager'; azure: AzureConnection; resourceGroup: string; clusterName: string; useClusterAdmin: boolean }
  | {
    type: 'kubernetesServiceConnection';
    endpointId: string;
    /** `Kubeconfig`, or `ServiceAccount` / `AzureSubscription` (server URL, service account token and CA). */
    authorizationType: 'Kubeconfig' | 'ServiceAccount';
    kubeconfig?: string;
    clusterContext?: string;
    server?: string;
    token?: string;
    /** Base64 PEM of the cluster CA. */
    caData?: string;
    namespace?: string;
    acceptUntrustedCerts: boolean;
  }
  | { type: 'kubeconfig'; path: string };

export interface DeployOptions {
  connection: ClusterConnection;
  /** File globs, one per entry. */
  manifests: string[];
  namespace?: string;
  images: ImageReference[];
  imagePullSecrets: string[];
  rolloutTimeoutSeconds: number;
  dryRun: boolean;
  prune: boolean;
  rollbackOnFailure: boolean;
  /** Delete the old-revision pods that keep an OrderedReady StatefulSet from rolling forward. */
  recreateStuckPods: boolean;
  /** When another writer replaces the applied template while the task waits: fail (default), or warn (SucceededWithIssues). */
  onSuperseded: 'fail' | 'warn';
  /** Label value that marks the objects of this app, for prune. */
  appName: string;
  /** Pipeline metadata written as annotations of every applied object. */
  metadata: Record<string, string>;
  /**
   * deliveryMode gitops: commit the rendered objects to Azure Repos for Flux instead of applying them. The cluster
   * connection is then used only to watch the rollouts, and only when it is a Kubernetes connection.
   */
  gitops?: GitOpsOptions;
  /** How the new version reaches users; `rolling` is a plain deployment. */
  strategy: Strategy;
}

export const STRATEGIES = ['rolling', 'canary', 'blueGreen'] as const;
export const ACTIONS = ['deploy', 'promote', 'reject'] as const;
export const TRAFFIC_SPLITS = ['replicas', 'gatewayApi'] as const;
export type TrafficSplit = (typeof TRAFFIC_SPLITS)[number];
export type StrategyAction = (typeof ACTIONS)[number];

export type Strategy =
  | { name: 'rolling' }
  | { name: 'canary'; action: StrategyAction; traffic: TrafficSplit; percentage: number; httpRoute?: string }
  | { name: 'blueGreen'; action: StrategyAction; traffic: TrafficSplit; httpRoute?: string; scaleDownDelaySeconds: number };

/** The canary's share when `percentage` is not given. */
export const DEFAULT_PERCENTAGE = 10;
/** Argo Rollouts' default: kube-proxy and load balancers need a moment after the switch before the old pods go. */
export const DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30;

/** Reads strategy, action, trafficSplit, percentage, httpRoute and scaleDownDelaySeconds, refusing what cannot work. */
export function readStrategy(inputs: Inputs, dryRun: boolean): Strategy {
  const name = inputs.choice('strategy', STRATEGIES, 'rolling');
  const given = (input: string) => inputs.text(input) !== undefined;
  if (name === 'rolling') {
    for (const input of ['action', 'trafficSplit', 'percentage', 'httpRoute', 'scaleDownDelaySeconds']) {
      if (given(input) && !(input === 'action' && inputs.text(input) === 'deploy')) {
        throw new UserError(`Input '${input}' applies to strategy canary or blueGreen only: set 'strategy' to canary or blueGreen, or remove '${input}'.`);
      }
    }
    return { name };
  }
  if (dryRun) throw new UserError(`Input 'dryRun' applies to strategy rolling only: a ${name} deployment reads the live stable objects to build its own, so run the dry run with strategy rolling.`);
  const action = inputs.choice('action', ACTIONS, 'deploy');
  const traffic = inputs.choice('trafficSplit', TRAFFIC_SPLITS, 'replicas');
  const httpRoute = inputs.text('httpRoute');
  if (traffic === 'gatewayApi' && !httpRoute) {
    throw new UserError("Input 'httpRoute' is required when trafficSplit is gatewayApi: give the name of the HTTPRoute (in the app's namespace) whose backendRefs send traffic to the app's Service.");
  }
  if (traffic === 'replicas' && httpRoute) throw new UserError("Input 'httpRoute' applies to trafficSplit gatewayApi only: set 'trafficSplit' to gatewayApi, or remove 'httpRoute'.");
  if (httpRoute && !(DNS_SUBDOMAIN.test(httpRoute) && httpRoute.length <= 253)) throw new UserError(`Input 'httpRoute': '${httpRoute}' is not a valid object name.`);
  if (name === 'canary') {
    if (given('scaleDownDelaySeconds')) throw new UserError("Input 'scaleDownDelaySeconds' applies to strategy blueGreen only: remove it, or set 'strategy' to blueGreen.");
    const percentage = inputs.int('percentage', DEFAULT_PERCENTAGE, 1, 99);
    if (percentage >= 50) {
      throw new UserError(`Input 'percentage': ${percentage} % cannot be reached: the baseline gets the same share as the canary beside the stable version, so the canary can have at most 49 %. Give a percentage from 1 to 49.`);
    }
    return { name, action, traffic, percentage, httpRoute };
  }
  if (given('percentage')) throw new UserError("Input 'percentage' applies to strategy canary only: blue-green moves all traffic at once; remove 'percentage'.");
  return { name, action, traffic, httpRoute, scaleDownDelaySeconds: inputs.int('scaleDownDelaySeconds', DEFAULT_SCALE_DOWN_DELAY_SECONDS, 0, 3600) };
}

/** Annotation keys of the pipeline metadata. */
export const ANNOTATION_PREFIX = 'aks-secure-delivery.dev';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function readDeployOptions(inputs: Inputs): DeployOptions {
  const type = inputs.choice('connectionType', ['azureResourceManager', 'kubernetesServiceConnection', 'kubeconfig'] as const, 'azureResourceManager');
  let connection: ClusterConnection;
  if (type === 'azureResourceManager') {
    connection = {
      type,
      azure: readAzureConnection(inputs, 'azureSubscription', true),
      resourceGroup: inputs.required('resourceGroup', 'give the resource group of the AKS cluster'),
      clusterName: inputs.required('kubernetesCluster', 'give the name of the AKS cluster'),
      useClusterAdmin: inputs.bool('useClusterAdmin', false),
    };
  } else if (type === 'kubernetesServiceConnection') {
    connection = readKubernetesServiceConnection(inputs);
  } else {
    const path = inputs.path('kubeconfig');
    if (!path) throw new UserError("Input 'kubeconfig' is required when connectionType is kubeconfig: give the path of a kubeconfig file on the agent.");
    connection = { type, path };
  }

  const manifests = inputs.lines('manifests');
  if (manifests.length === 0) throw new UserError("Input 'manifests' is required: give one or more file globs of Kubernetes YAML manifests, one per line.");
  const namespace = inputs.text('namespace');
  if (namespace !== undefined && !(DNS_LABEL.test(namespace) && namespace.length <= 63)) {
    throw new UserError(`Input 'namespace': '${namespace}' is not a valid namespace name (lower-case letters, digits and '-', at most 63).`);
  }
  const imagePullSecrets = inputs.lines('imagePullSecrets', { commas: true });
  for (const secret of imagePullSecrets) {
    if (!(DNS_SUBDOMAIN.test(secret) && secret.length <= 253)) throw new UserError(`Input 'imagePullSecrets': '${secret}' is not a valid secret name.`);
  }
  const dryRun = inputs.bool('dryRun', false);
  const gitops = inputs.choice('deliveryMode', ['push', 'gitops'] as const, 'push') === 'gitops' ? readGitOpsOptions(inputs) : undefined;
  const strategy = readStrategy(inputs, dryRun);
  if (gitops && strategy.name !== 'rolling') {
    // The strategies read the live stable objects and move traffic step by step; Flux applies a folder as a whole.
    throw new UserError(`Input 'strategy': ${strategy.name} needs deliveryMode push, since it reads the live stable workloads and moves traffic between steps; with deliveryMode gitops use strategy rolling.`);
  }
  return {
    connection,
    manifests,
    namespace,
    images: inputs.lines('images').map((line) => parseImageReference(line, "Input 'images'")),
    imagePullSecrets,
    rolloutTimeoutSeconds: inputs.int('rolloutTimeout', 600, 1, 86_400),
    dryRun,
    prune: inputs.bool('prune', false),
    rollbackOnFailure: inputs.bool('rollbackOnFailure', false),
    recreateStuckPods: inputs.bool('recreateStuckPods', false),
    onSuperseded: inputs.choice('onSuperseded', ['fail', 'warn'] as const, 'fail'),
    appName: readAppName(inputs),
    metadata: pipelineMetadata(inputs),
    gitops,
    strategy,
  };
}

function readKubernetesServiceConnection(inputs: Inputs): ClusterConnection {
  const endpointId = inputs.required('kubernetesServiceConnection', 'choose a Kubernetes service connection');
  const src = inputs.source;
  const server = src.endpointUrl(endpointId);
  if (!server) {
    throw new UserError(`Input 'kubernetesServiceConnection': the service connection '${endpointId}' is not available to this job. Check its name, and that the pipeline is authorised to use it.`);
  }
  const data = (key: string) => src.endpointDataParameter(endpointId, key)?.trim() || undefined;
  const auth = (key: string) => src.endpointAuthParameter(endpointId, key) || undefined;
  const kind = (data('authorizationType') ?? 'Kubeconfig').toLowerCase();
  const acceptUntrustedCerts = /^true$/i.test(data('acceptUntrustedCerts') ?? '');
  if (kind === 'kubeconfig') {
    return { type: 'kubernetesServiceConnection', endpointId, authorizationType: 'Kubeconfig', kubeconfig: auth('kubeconfig'), clusterContext: auth('clusterContext')?.trim() || data('clusterContext'), acceptUntrustedCerts };
  }
  if (kind !== 'serviceaccount' && kind !== 'azuresubscription') {
    throw new UserError(`Input 'kubernetesServiceConnection': the service connection '${endpointId}' has the authorization type '${data('authorizationType')}', which this task cannot use. Use Kubeconfig or Service Account.`);
  }
  const apiToken = auth('apiToken');
  const certificate = auth('serviceAccountCertificate')?.trim();
  let token = apiToken ? Buffer.from(apiToken, 'base64').toString('utf8') : undefined;
  if (apiToken && !/^[A-Za-z0-9+/=\s]+$/.test(apiToken)) token = apiToken;
  return {
    type: 'kubernetesServiceConnection', endpointId, authorizationType: 'ServiceAccount', server, token,
    caData: certificate ? (certificate.startsWith('-----BEGIN') ? Buffer.from(certificate).toString('base64') : certificate) : undefined,
    namespace: data('namespace'), acceptUntrustedCerts,
  };
}

/** A label value (at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends). */
function labelValue(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

function readAppName(inputs: Inputs): string {
  const given = inputs.text('appName');
  if (given !== undefined) {
    if (labelValue(given) !== given) throw new UserError(`Input 'appName': '${given}' is not a valid label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit).`);
    return given;
  }
  return labelValue(inputs.variable('Build.DefinitionName') ?? inputs.variable('Release.DefinitionName') ?? '') || 'app';
}

function pipelineMetadata(inputs: Inputs): Record<string, string> {
  const v = (name: string) => inputs.variable(name);
  const collection = v('System.CollectionUri')?.replace(/\/+$/, '');
  const project = v('System.TeamProject');
  const buildId = v('Build.BuildId');
  const out: Record<string, string> = {};
  if (collection && project && buildId) out[`${ANNOTATION_PREFIX}/run-url`] = `${collection}/${encodeURIComponent(project)}/_build/results?buildId=${buildId}`;
  const pipeline = v('Build.DefinitionName') ?? v('Release.DefinitionName');
  if (pipeline) out[`${ANNOTATION_PREFIX}/pipeline`] = pipeline;
  const build = v('Build.BuildNumber') ?? v('Release.ReleaseName');
  if (build) out[`${ANNOTATION_PREFIX}/build-number`] = build;
  const commit = v('Build.SourceVersion');
  if (commit) out[`${ANNOTATION_PREFIX}/commit`] = commit;
  return out;
}
