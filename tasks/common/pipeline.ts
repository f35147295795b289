/**
 * The pipeline adapter: the only module that talks to the Azure Pipelines agent (through azure-pipelines-task-lib).
 * Everything else receives plain options and a TaskLog, and returns plain results.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tlInternal from 'azure-pipelines-task-lib/internal';
import * as tl from 'azure-pipelines-task-lib/task';
import type { AgentSource } from './inputs';
import type { TaskLog } from './log';
import { isSecretParameter, secretLines } from './secrets';

export type TaskStatus = 'Succeeded' | 'SucceededWithIssues' | 'Failed';

export class AgentPipeline implements TaskLog, AgentSource {
  private readonly tempFiles: string[] = [];

  constructor(taskDir: string) {
    tl.setResourcePath(path.join(taskDir, 'task.json'), true);
    // Importing task-lib exposes the agent's proxy and certificate settings as globals, which azure-devops-node-api's
    // WebApi takes up on its own: it would skip certificate validation with Agent.SkipCertValidation and compile
    // bypass entries that throw. Every client is given the agent's settings explicitly instead (network/clients.ts).
    const globals = globalThis as Record<string, unknown>;
    for (const name of ['_vsts_task_lib_proxy', '_vsts_task_lib_cert', '_vsts_task_lib_skip_cert_validation']) delete globals[name];
  }

  // ---- AgentSource
  input(name: string): string | undefined {
    return tl.getInput(name, false);
  }
  /**
   * A secret variable is read from the task library's vault directly, because getVariable writes every value it
   * reads to the debug log; the value is registered with the agent before anything else can print it.
   */
  variable(name: string): string | undefined {
    if (!this.isSecretVariable(name)) return tl.getVariable(name);
    const value = tlInternal._vault.retrieveSecret(`SECRET_${tlInternal._getVariableKey(name)}`);
    this.secret(value);
    return value;
  }
  endpointUrl(id: string): string | undefined {
    return tl.getEndpointUrl(id, true);
  }
  endpointScheme(id: string): string | undefined {
    return tl.getEndpointAuthorizationScheme(id, true);
  }
  /**
   * Read from the endpoint's authorization JSON rather than with getEndpointAuthorizationParameter, which writes
   * the value to the debug log. Values of secret parameters are registered with the agent as they are read.
   */
  endpointAuthParameter(id: string, key: string): string | undefined {
    const parameters = tl.getEndpointAuthorization(id, true)?.parameters ?? {};
    const match = Object.keys(parameters).find((k) => k.toLowerCase() === key.toLowerCase());
    const value = match === undefined ? undefined : parameters[match];
    if (value && isSecretParameter(key)) this.secret(value);
    return value;
  }
  endpointDataParameter(id: string, key: string): string | undefined {
    return tl.getEndpointDataParameter(id, key, true);
  }
  filePathSupplied(name: string): boolean {
    return tl.filePathSupplied(name);
  }
  isSecretVariable(name: string): boolean {
    return tlInternal._knownVariableMap[tlInternal._getVariableKey(name)]?.secret === true;
  }

  // ---- TaskLog
  info(message: string): void {
    console.log(message);
  }
  warn(message: string): void {
    tl.warning(message);
  }
  debug(message: string): void {
    tl.debug(message);
  }
  secret(value: string | undefined): void {
    // The agent masks single lines only: register each line of a multi-line value.
    for (const line of secretLines(value)) tl.setSecret(line);
  }

  /** A message of task.json's `messages`, formatted with its arguments. */
  loc(key: string, ...args: unknown[]): string {
    return tl.loc(key, ...args);
  }

  // ---- results
  setOutput(name: string, value: string): void {
    tl.setVariable(name, value, false, true);
  }

  /** Adds a Markdown tab to the run's summary page. */
  uploadSummary(title: string, markdown: string): void {
    const file = this.tempFile(`${slug(title)}-summary.md`, markdown, { keep: true });
    tl.uploadSummary(file);
  }

  /** Publishes JUnit XML to the run's Tests tab. */
  publishJUnit(runTitle: string, xml: string): void {
    const file = this.tempFile(`${slug(runTitle)}-junit.xml`, xml, { keep: true });
    tl.command('results.publish', { type: 'JUnit', resultFiles: file, testRunTitle: runTitle, mergeResults: 'false', publishRunAttachments: 'true' }, '');
  }

  /** Attaches a file to the run (e.g. SARIF) so it can be downloaded with the logs. Large content may come in pieces. */
  uploadFile(name: string, content: string | Iterable<string>): string {
    const file = this.tempFile(name, content, { keep: true });
    tl.uploadFile(file);
    return file;
  }

  setResult(status: TaskStatus, reason: string): void {
    tl.setResult(tl.TaskResult[status], reason);
  }

  /** The agent's temp directory for this job. */
  tempDirectory(): string {
    return tl.getVariable('Agent.TempDirectory') || os.tmpdir();
  }

  /**
   * Writes a file under the agent's temp directory with mode 0600. Unless kept (files the agent reads after the
   * task, such as the summary), it is removed by `cleanUp` at the end of the task.
   */
  tempFile(name: string, content: string | Buffer | Iterable<string>, { keep = false } = {}): string {
    const dir = path.join(this.tempDirectory(), `aks-secure-delivery-${process.pid}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, name);
    if (typeof content === 'string' || Buffer.isBuffer(content)) {
      fs.writeFileSync(file, content, { mode: 0o600 });
    } else {
      // Written piece by piece, so a large document is never held whole.
      const fd = fs.openSync(file, 'w', 0o600);
      try {
        for (const piece of content) fs.writeSync(fd, piece);
      } finally {
        fs.closeSync(fd);
      }
    }
    if (!keep) this.tempFiles.push(file);
    return file;
  }

  cleanUp(): void {
    for (const file of this.tempFiles.splice(0)) fs.rmSync(file, { force: true });
  }
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'task';
}
