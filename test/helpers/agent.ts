import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = path.resolve(__dirname, '../..');
export const BUILD_TASKS = path.join(ROOT, 'build/tasks');

/** A service connection as the agent hands it to a task. */
export interface Endpoint {
  url: string;
  scheme: string;
  parameters: Record<string, string>;
  data?: Record<string, string>;
}

export interface RunOptions {
  /** Task inputs by name, as in YAML. */
  inputs?: Record<string, string | boolean | number | undefined>;
  /** Service connections by id; an input refers to one by its id. */
  endpoints?: Record<string, Endpoint>;
  /** Pipeline variables by name (System.TeamProject, …). */
  variables?: Record<string, string>;
  /** Secret pipeline variables by name. */
  secretVariables?: Record<string, string>;
  /** Extra process environment (NODE_EXTRA_CA_CERTS is set from `caFile`). */
  env?: Record<string, string>;
  caFile?: string;
  /** The agent's CA as the agent hands it over: Agent.CAInfo (AGENT_CAINFO), with no NODE_EXTRA_CA_CERTS. */
  agentCaFile?: string;
  /**
   * The agent's proxy as the agent hands it to a task (ExecutionContext.cs, Handler.cs): AGENT_PROXYURL,
   * AGENT_PROXYUSERNAME, the password as the secret SECRET_AGENT_PROXYPASSWORD, AGENT_PROXYBYPASSLIST (JSON) and
   * AGENT_USEBASICAUTHFORPROXY.
   */
  proxy?: { url: string; username?: string; password?: string; bypass?: string[] };
  /** The job's System.AccessToken (the SystemVssConnection endpoint). */
  systemAccessToken?: string;
  timeoutMs?: number;
  cwd?: string;
  /** Node binary (defaults to the one running the tests). */
  node?: string;
}

/** One `##vso[area.action key=value;…]message` line. */
export interface VsoCommand {
  command: string;
  properties: Record<string, string>;
  message: string;
}

export interface TaskRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  /** Lines that are not ##vso commands: what a person reads in the log. */
  logLines: string[];
  commands: VsoCommand[];
  result?: { status: string; message: string };
  outputs: Record<string, string>;
  secrets: string[];
  issues: { type: string; message: string }[];
  summaries: { path: string; content: string }[];
  testResults: { type: string; files: string[]; contents: string[]; title?: string }[];
  uploadedFiles: { path: string; content: string }[];
}

/**
 * Runs a built task as the Azure Pipelines agent runs it: `node <task folder>/<execution target>` with inputs,
 * service connections and variables in the agent's environment variables, and parses every ##vso line it prints.
 */
export async function runTask(folder: string, options: RunOptions = {}): Promise<TaskRun> {
  // A folder of build/tasks, or the absolute path of a copy of one.
  const taskDir = path.resolve(BUILD_TASKS, folder);
  const taskJson = JSON.parse(fs.readFileSync(path.join(taskDir, 'task.json'), 'utf8')) as { execution: Record<string, { target: string }> };
  return runAsAgent([path.join(taskDir, taskJson.execution.Node20_1.target)], options);
}

/**
 * Runs a TypeScript script (a test probe) in the agent's environment, the same way as a task. tsx's ESM hooks too,
 * not only its require hook: the tasks' dynamic `import('./module.js')` must find module.ts.
 */
export function runScriptAsAgent(script: string, options: RunOptions = {}): Promise<TaskRun> {
  return runAsAgent(['--import', pathToFileURL(require.resolve('tsx')).href, script], options);
}

async function runAsAgent(args: string[], options: RunOptions): Promise<TaskRun> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-'));
  const env = agentEnvironment(options, work);
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 60_000;

  return new Promise((resolve, reject) => {
    const child = spawn(options.node ?? process.execPath, args, { cwd: options.cwd ?? work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', reject);
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      const run = parseRun(stdout, stderr, { exitCode, signal, timedOut, durationMs: Date.now() - started });
      fs.rmSync(work, { recursive: true, force: true });
      resolve(run);
    });
  });
}

/** The process environment the agent gives a task: inputs, service connections and variables. */
export function agentEnvironment(options: RunOptions, work: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    AGENT_TEMPDIRECTORY: path.join(work, '_temp'),
    AGENT_WORKFOLDER: work,
    AGENT_VERSION: '4.266.2',
    AGENT_NAME: 'local-agent',
    AGENT_OS: 'Linux',
    SYSTEM_DEFAULTWORKINGDIRECTORY: work,
    SYSTEM_HOSTTYPE: 'build',
    SYSTEM_CULTURE: 'en-US',
    BUILD_SOURCESDIRECTORY: work,
    TASK_SKIP_TRANSLATIONS: '',
  };
  fs.mkdirSync(env.AGENT_TEMPDIRECTORY!, { recursive: true });
  if (options.caFile) env.NODE_EXTRA_CA_CERTS = options.caFile;
  if (options.agentCaFile) env.AGENT_CAINFO = options.agentCaFile;
  const secretVariables = { ...options.secretVariables };
  if (options.proxy) {
    env.AGENT_PROXYURL = options.proxy.url;
    if (options.proxy.username) env.AGENT_PROXYUSERNAME = options.proxy.username;
    if (options.proxy.password) secretVariables['Agent.ProxyPassword'] = options.proxy.password;
    if (options.proxy.bypass?.length) env.AGENT_PROXYBYPASSLIST = JSON.stringify(options.proxy.bypass);
    env.AGENT_USEBASICAUTHFORPROXY = 'False';
  }
  for (const [name, value] of Object.entries(options.variables ?? {})) env[variableKey(name)] = value;
  const secretNames: string[] = [];
  for (const [name, value] of Object.entries(secretVariables)) {
    env[`SECRET_${variableKey(name)}`] = value;
    secretNames.push(name);
  }
  if (secretNames.length) env.VSTS_SECRET_VARIABLES = JSON.stringify(secretNames);
  for (const [name, value] of Object.entries(options.inputs ?? {})) {
    if (value !== undefined) env[`INPUT_${variableKey(name)}`] = String(value);
  }
  const endpoints = { ...options.endpoints };
  if (options.systemAccessToken) {
    endpoints.SYSTEMVSSCONNECTION = { url: 'https://dev.azure.com/contoso/', scheme: 'OAuth', parameters: { AccessToken: options.systemAccessToken } };
  }
  // The agent keeps an endpoint's id as it is (a lower-case GUID); task-lib reads URL and data variables with it.
  for (const [key, e] of Object.entries(endpoints)) {
    env[`ENDPOINT_URL_${key}`] = e.url;
    env[`ENDPOINT_AUTH_${key}`] = JSON.stringify({ scheme: e.scheme, parameters: e.parameters });
    env[`ENDPOINT_AUTH_SCHEME_${key}`] = e.scheme;
    for (const [k, v] of Object.entries(e.parameters)) env[`ENDPOINT_AUTH_PARAMETER_${key}_${variableKey(k)}`] = v;
    for (const [k, v] of Object.entries(e.data ?? {})) env[`ENDPOINT_DATA_${key}_${variableKey(k)}`] = v;
  }
  return { ...env, ...options.env };
}

/** The agent's spelling of a variable or input name in the environment: upper case, '.' and ' ' as '_'. */
function variableKey(name: string): string {
  return name.replace(/[.\s]/g, '_').toUpperCase();
}

const VSO = /^##vso\[([\w.]+)([^\]]*)\](.*)$/;

function parseRun(stdout: string, stderr: string, meta: Pick<TaskRun, 'exitCode' | 'signal' | 'timedOut' | 'durationMs'>): TaskRun {
  const run: TaskRun = {
    ...meta, stdout, stderr, logLines: [], commands: [], outputs: {}, secrets: [], issues: [], summaries: [], testResults: [], uploadedFiles: [],
  };
  for (const line of stdout.split(/\r?\n/)) {
    const m = VSO.exec(line);
    if (!m) {
      if (line.length) run.logLines.push(line);
      continue;
    }
    const properties: Record<string, string> = {};
    for (const pair of m[2].trim().split(';')) {
      const i = pair.indexOf('=');
      if (i > 0) properties[pair.slice(0, i).trim()] = unescapeProperty(pair.slice(i + 1));
    }
    const cmd: VsoCommand = { command: m[1], properties, message: unescapeMessage(m[3]) };
    run.commands.push(cmd);
    switch (cmd.command) {
      case 'task.complete':
        run.result = { status: properties.result, message: cmd.message };
        break;
      case 'task.setvariable':
        if (properties.isOutput === 'true') run.outputs[properties.variable] = cmd.message;
        break;
      case 'task.setsecret':
        run.secrets.push(cmd.message);
        break;
      case 'task.issue':
      case 'task.logissue':
        run.issues.push({ type: properties.type, message: cmd.message });
        break;
      case 'task.uploadsummary':
        run.summaries.push({ path: cmd.message, content: readIfExists(cmd.message) });
        break;
      case 'task.uploadfile':
        run.uploadedFiles.push({ path: cmd.message, content: readIfExists(cmd.message) });
        break;
      case 'results.publish': {
        const files = (properties.resultFiles ?? '').split(',').filter(Boolean);
        run.testResults.push({ type: properties.type, files, contents: files.map(readIfExists), title: properties.testRunTitle });
        break;
      }
    }
  }
  return run;
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function unescapeProperty(value: string): string {
  return value.replace(/%3B/g, ';').replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%5D/g, ']').replace(/%AZP25/g, '%');
}

function unescapeMessage(value: string): string {
  return value.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%AZP25/g, '%');
}

/**
 * The places where a secret would reach the job's log: every output line except the setsecret command that
 * registers it, plus stderr. Empty when nothing leaked.
 */
export function secretLeaks(run: TaskRun, secrets: (string | undefined)[]): string[] {
  const leaks: string[] = [];
  const lines = [...run.stdout.split(/\r?\n/).filter((l) => !l.startsWith('##vso[task.setsecret]')), ...run.stderr.split(/\r?\n/)];
  const files = [...run.summaries, ...run.uploadedFiles].map((f) => f.content).concat(run.testResults.flatMap((t) => t.contents));
  for (const secret of secrets) {
    if (!secret) continue;
    for (const line of lines) if (line.includes(secret)) leaks.push(line);
    for (const content of files) if (content.includes(secret)) leaks.push(`(in a published file) …${secret.slice(0, 4)}…`);
  }
  return leaks;
}
