import * as fs from 'node:fs';
import { readAzureConnection, type AzureConnection } from '../common/connections';
import { UserError } from '../common/errors';
import type { Inputs } from '../common/inputs';

export interface GateOptions {
  /** The gate YAML text and where it came from (for error messages with line numbers). */
  gateYaml: string;
  gateSource: string;
  azure?: AzureConnection;
  publishTestResults: boolean;
  /** Pipeline variables for `$(name)` references in a gate file (inline gates arrive expanded by the agent). */
  variables: (name: string) => { value: string; secret: boolean } | undefined;
  /** Where commands and JUnit globs start: the job's default working directory. */
  workingDirectory: string;
}

export function readGateOptions(inputs: Inputs): GateOptions {
  const inline = inputs.text('gate');
  const file = inputs.path('gateFile');
  if (inline && file) throw new UserError("Inputs 'gate' and 'gateFile' are both set: give the gate inline or as a file, not both.");
  if (!inline && !file) throw new UserError("Input 'gate' or 'gateFile' is required: give the gate as inline YAML, or the path of a YAML file holding it.");
  let gateYaml = inline ?? '';
  if (file) {
    try {
      gateYaml = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new UserError(`Input 'gateFile': cannot read '${file}' (${(err as NodeJS.ErrnoException).code ?? 'error'}). Give the path of the gate YAML file, relative to the working directory or absolute.`);
    }
  }
  return {
    gateYaml,
    gateSource: file ?? "input 'gate'",
    azure: readAzureConnection(inputs, 'azureSubscription', false),
    publishTestResults: inputs.bool('publishTestResults', true),
    variables: (name) => {
      const value = inputs.source.variable(name);
      return value === undefined ? undefined : { value, secret: inputs.source.isSecretVariable?.(name) ?? false };
    },
    workingDirectory: inputs.variable('System.DefaultWorkingDirectory') ?? process.cwd(),
  };
}
