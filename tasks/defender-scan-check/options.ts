import { readAzureConnection, type AzureConnection } from '../common/connections';
import { parseImageReference, type ImageReference } from '../common/imageReference';
import type { Inputs } from '../common/inputs';

export const SEVERITIES = ['Critical', 'High', 'Medium', 'Low', 'None'] as const;
export type FailOnSeverity = (typeof SEVERITIES)[number];

export interface ScanCheckOptions {
  azure: AzureConnection;
  image: ImageReference;
  failOnSeverity: FailOnSeverity;
  onlyFixable: boolean;
  allowlistPath?: string;
  waitForScanSeconds: number;
  onMissingScan: 'fail' | 'warn' | 'pass';
  dataSource: 'auto' | 'assessments' | 'subAssessments';
}

export function readScanCheckOptions(inputs: Inputs): ScanCheckOptions {
  const azure = readAzureConnection(inputs, 'azureSubscription', true);
  const image = parseImageReference(
    inputs.required('image', 'give the image to check as registry/repository@sha256:… or registry/repository:tag'),
    "Input 'image'",
  );
  return {
    azure,
    image,
    failOnSeverity: inputs.choice('failOnSeverity', SEVERITIES, 'High'),
    onlyFixable: inputs.bool('onlyFixable', false),
    allowlistPath: inputs.path('allowlist'),
    waitForScanSeconds: inputs.int('waitForScan', 1800, 0, 86_400),
    onMissingScan: inputs.choice('onMissingScan', ['fail', 'warn', 'pass'] as const, 'fail'),
    dataSource: inputs.choice('dataSource', ['auto', 'assessments', 'subAssessments'] as const, 'auto'),
  };
}
