import { readAzureConnection, type AzureConnection } from '../common/connections';
import { UserError } from '../common/errors';
import { parseImageReference, type ImageReference } from '../common/imageReference';
import type { Inputs } from '../common/inputs';

export type ClusterConnection =
  | { type: 'azureResourceManager'; azure: AzureConnection; resourceGroup: string; clusterName: string; useClusterAdmin: boolean }
  | { type: 'kubernetesServiceConnection'; endpointId: string }
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
}

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
    connection = { type, endpointId: inputs.required('kubernetesServiceConnection', 'choose a Kubernetes service connection') };
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
  return {
    connection,
    manifests,
    namespace,
    images: inputs.lines('images').map((line) => parseImageReference(line, "Input 'images'")),
    imagePullSecrets,
    rolloutTimeoutSeconds: inputs.int('rolloutTimeout', 600, 1, 86_400),
    dryRun: inputs.bool('dryRun', false),
    prune: inputs.bool('prune', false),
    rollbackOnFailure: inputs.bool('rollbackOnFailure', false),
  };
}
