import { readAzureConnection, readRegistryConnection, type AzureConnection, type RegistryConnection } from '../common/connections';
import { UserError } from '../common/errors';
import { isTag, parseImageReference, type ImageReference } from '../common/imageReference';
import type { Inputs } from '../common/inputs';

export type PromoteMethod = 'auto' | 'acrImport' | 'ociCopy';

export interface PromoteOptions {
  source: ImageReference;
  targetRegistry: string;
  targetRepository: string;
  /** Empty when the source was given by digest and no tag was asked for. */
  targetTags: string[];
  method: PromoteMethod;
  azure?: AzureConnection;
  sourceRegistryConnection?: RegistryConnection;
  targetRegistryConnection?: RegistryConnection;
  overwriteTags: boolean;
  copyReferrers: boolean;
  lockPromotedImage: boolean;
}

export function readPromoteOptions(inputs: Inputs): PromoteOptions {
  const source = parseImageReference(
    inputs.required('sourceImage', 'give the image to promote as registry/repository:tag or registry/repository@sha256:…'),
    "Input 'sourceImage'",
  );
  const targetRegistry = inputs.required('targetRegistry', 'give the login server of the production registry, e.g. contosoprod.azurecr.io')
    .replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const targetRepository = inputs.text('targetRepository') ?? source.repository;
  // Parse the whole target name so the registry and repository get the same checks as the source.
  parseImageReference(`${targetRegistry}/${targetRepository}`, "Inputs 'targetRegistry' and 'targetRepository'");
  const targetTags = inputs.lines('targetTags', { commas: true });
  for (const tag of targetTags) {
    if (!isTag(tag)) throw new UserError(`Input 'targetTags': '${tag}' is not a valid tag. Tags hold letters, digits, '_', '.' and '-', at most 128, and do not start with '.' or '-'.`);
  }
  if (targetTags.length === 0 && source.tag) targetTags.push(source.tag);
  const method = inputs.choice('method', ['auto', 'acrImport', 'ociCopy'] as const, 'auto');
  const azure = readAzureConnection(inputs, 'azureSubscription', method === 'acrImport');
  return {
    source,
    targetRegistry,
    targetRepository,
    targetTags: [...new Set(targetTags)],
    method,
    azure,
    sourceRegistryConnection: readRegistryConnection(inputs, 'sourceRegistryConnection'),
    targetRegistryConnection: readRegistryConnection(inputs, 'targetRegistryConnection'),
    overwriteTags: inputs.bool('overwriteTags', false),
    copyReferrers: inputs.bool('copyReferrers', true),
    lockPromotedImage: inputs.bool('lockPromotedImage', false),
  };
}
