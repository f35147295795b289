import * as fs from 'node:fs';
import type { SecureContext } from 'node:tls';
import { UserError } from '../errors';
import type { TaskLog } from '../log';
import { agentBypass, noProxyBypass, type BypassMatcher } from './bypass';

/**
 * The agent's network settings, as the agent hands them to a task: only as pipeline variables (Agent.ProxyUrl,
 * Agent.ProxyUsername, Agent.ProxyPassword, Agent.ProxyBypassList, Agent.CAInfo, Agent.ClientCert*), never as
 * HTTPS_PROXY or NODE_EXTRA_CA_CERTS (azure-pipelines-agent ExecutionContext.cs; see
 * reference/agent-networking.md §1.2). The proxy environment variables count only when the agent sets no proxy,
 * as tools on self-hosted agents expect.
 */
export interface NetworkSettings {
  proxy?: ProxySettings;
  /** Agent.CAInfo: a PEM file trusted besides the system's certificates and NODE_EXTRA_CA_CERTS. */
  caFile?: string;
  /** Agent.ClientCert / ClientCertKey / ClientCertPassword: presented when a server asks for a certificate. */
  clientCert?: { certFile: string; keyFile?: string; passphrase?: string };
}

export interface ProxySettings {
  /** Where the setting came from, for messages: `Agent.ProxyUrl` or `HTTPS_PROXY`. */
  source: string;
  /** The proxy for https:// targets and for http:// targets (the agent has one proxy for both). */
  https?: ProxyEndpoint;
  http?: ProxyEndpoint;
  /** Whether a URL goes around the proxy. */
  bypass: BypassMatcher;
}

export interface ProxyEndpoint {
  /** scheme://host:port, without credentials: safe to print. */
  origin: string;
  username?: string;
  password?: string;
  /** The `Proxy-Authorization` value, or undefined without credentials. */
  authorization?: string;
}

/** What settings are read from: the pipeline adapter's variables, and the process environment for the fallback. */
export interface NetworkSource {
  variable(name: string): string | undefined;
}

const STORE = Symbol.for('aks-secure-delivery.network-settings');
type Store = { [STORE]?: NetworkSettings };

/**
 * Reads the agent's settings. Every form in which the proxy password could be printed (raw, URL-encoded, inside the
 * Basic header, in the user:password@ URL task-lib formats) is registered as a secret before anything can print it.
 */
export function readNetworkSettings(source: NetworkSource, log: TaskLog, env: NodeJS.ProcessEnv = process.env): NetworkSettings {
  const settings: NetworkSettings = {};
  const agentProxy = source.variable('Agent.ProxyUrl')?.trim();
  if (agentProxy) {
    const endpoint = proxyEndpoint(agentProxy, 'Agent.ProxyUrl', source.variable('Agent.ProxyUsername'), source.variable('Agent.ProxyPassword'), log);
    const reported = new Set<string>();
    const bypass = agentBypass(source.variable('Agent.ProxyBypassList'), (entry, reason) => {
      if (reported.has(entry)) return;
      reported.add(entry);
      log.warn(`The agent's proxy bypass entry '${entry}' is not a regular expression (${reason}); it is matched as a host name pattern instead. Write it as a regular expression (e.g. '.*\\.corp\\.example\\.com') in the agent's .proxybypass file.`);
    });
    settings.proxy = { source: 'Agent.ProxyUrl', https: endpoint, http: endpoint, bypass };
  } else {
    const https = env.https_proxy || env.HTTPS_PROXY;
    const http = env.http_proxy || env.HTTP_PROXY;
    if (https || http) {
      settings.proxy = {
        source: https ? 'HTTPS_PROXY' : 'HTTP_PROXY',
        https: https ? proxyEndpoint(https, 'HTTPS_PROXY', undefined, undefined, log) : undefined,
        http: http ? proxyEndpoint(http, 'HTTP_PROXY', undefined, undefined, log) : undefined,
        bypass: noProxyBypass(env.no_proxy ?? env.NO_PROXY),
      };
    }
  }
  const caFile = source.variable('Agent.CAInfo')?.trim();
  if (caFile) settings.caFile = caFile;
  const certFile = source.variable('Agent.ClientCert')?.trim();
  if (certFile) {
    const passphrase = source.variable('Agent.ClientCertPassword');
    log.secret(passphrase);
    settings.clientCert = { certFile, keyFile: source.variable('Agent.ClientCertKey')?.trim() || undefined, passphrase: passphrase || undefined };
  }
  if (/^true$/i.test(source.variable('Agent.SkipCertValidation')?.trim() ?? '')) {
    log.warn('The agent is configured to skip certificate validation (Agent.SkipCertValidation); this task still validates every server certificate. Give the agent the CA that signs your servers instead (--sslcacert, which becomes Agent.CAInfo).');
  }
  return settings;
}

/** Makes the settings the ones every client of this process uses (the entry does this before a task's body runs). */
export function useNetworkSettings(settings: NetworkSettings): void {
  (globalThis as Store)[STORE] = settings;
}

/** The settings in use: those the entry read, or (benchmarks, unit tests) the environment's alone. */
export function networkSettings(): NetworkSettings {
  const store = globalThis as Store;
  return (store[STORE] ??= readNetworkSettings({ variable: () => undefined }, { info() {}, warn() {}, debug() {}, secret() {} }));
}

/** The proxy a request to `url` goes through, or undefined when it goes directly. */
export function proxyFor(url: URL, settings: NetworkSettings = networkSettings()): ProxyEndpoint | undefined {
  const proxy = settings.proxy;
  if (!proxy || proxy.bypass(url)) return undefined;
  return url.protocol === 'http:' ? proxy.http : proxy.https;
}

/** The PEM text of Agent.CAInfo, or undefined; an unreadable file is the agent's configuration to fix. */
export function agentCaPem(settings: NetworkSettings = networkSettings()): string | undefined {
  if (!settings.caFile) return undefined;
  return readSettingFile(settings.caFile, 'Agent.CAInfo');
}

export function readSettingFile(file: string, setting: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`The agent's ${setting} names the file ${file}, which cannot be read (${(err as { code?: string }).code ?? String(err)}). Fix the agent's certificate settings (config.sh --sslcacert / --sslclientcert).`);
  }
}

function proxyEndpoint(raw: string, setting: string, username: string | undefined, password: string | undefined, log: TaskLog): ProxyEndpoint {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new UserError(`The proxy ${setting} '${redactUrl(raw)}' is not a URL. Give it as http://host:port.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UserError(`The proxy ${setting} '${url.protocol}//${url.host}' is not an http:// or https:// proxy, which is all this task can use.`);
  }
  // Credentials written into the URL (environment proxies) count when the agent gives none separately.
  const user = username || decode(url.username) || undefined;
  const pass = password || decode(url.password) || undefined;
  if (pass) registerPasswordForms(log, user, pass, url);
  return {
    origin: `${url.protocol}//${url.host}`,
    username: user,
    password: pass,
    authorization: user || pass ? `Basic ${Buffer.from(`${user ?? ''}:${pass ?? ''}`).toString('base64')}` : undefined,
  };
}

/** Each way the password could appear in a line: raw, percent-encoded, in a Basic value, in a proxy URL. */
function registerPasswordForms(log: TaskLog, user: string | undefined, password: string, url: URL): void {
  const basic = Buffer.from(`${user ?? ''}:${password}`).toString('base64');
  const forms = [
    password, encodeURIComponent(password), JSON.stringify(password).slice(1, -1), basic, `Basic ${basic}`,
    `${url.protocol}//${user ?? ''}:${password}@${url.host}`,
    `${url.protocol}//${encodeURIComponent(user ?? '')}:${encodeURIComponent(password)}@${url.host}`,
  ];
  if (url.password) forms.push(url.password);
  for (const form of new Set(forms)) log.secret(form);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function redactUrl(raw: string): string {
  return raw.replace(/\/\/[^@/]*@/, '//***@');
}

export interface TlsOptions {
  ca?: string[];
  cert?: string;
  key?: string;
  passphrase?: string;
}

/**
 * TLS options for every client: with Agent.CAInfo, the trusted CAs are Node's bundled roots, NODE_EXTRA_CA_CERTS and
 * Agent.CAInfo (an explicit `ca` replaces Node's defaults, NODE_EXTRA_CA_CERTS included, so all three are given);
 * without it, Node's defaults stand. The agent's client certificate is presented when a server asks for one.
 */
export function tlsOptions(settings: NetworkSettings = networkSettings()): TlsOptions {
  const options: TlsOptions = {};
  const agentCa = agentCaPem(settings);
  if (agentCa) {
    const extraFile = process.env.NODE_EXTRA_CA_CERTS;
    const extra = extraFile && fs.existsSync(extraFile) ? fs.readFileSync(extraFile, 'utf8') : undefined;
    options.ca = [...process.getBuiltinModule('node:tls').rootCertificates, ...(extra ? [extra] : []), agentCa];
  }
  if (settings.clientCert) {
    options.cert = readSettingFile(settings.clientCert.certFile, 'Agent.ClientCert');
    if (settings.clientCert.keyFile) options.key = readSettingFile(settings.clientCert.keyFile, 'Agent.ClientCertKey');
    if (settings.clientCert.passphrase) options.passphrase = settings.clientCert.passphrase;
  }
  return options;
}

const contexts = new WeakMap<NetworkSettings, { secureContext?: SecureContext }>();

/**
 * `tlsOptions` as one TLS context for every connection of the run. Given as `ca`, the ~140 roots and Agent.CAInfo
 * are parsed again for each connection, 20 ms of CPU each (measured), and a copy opens a dozen connections.
 * Without Agent.CAInfo or a client certificate Node's own shared context stands.
 */
export function tlsContextOptions(settings: NetworkSettings = networkSettings()): { secureContext?: SecureContext } {
  let options = contexts.get(settings);
  if (!options) {
    const tls = tlsOptions(settings);
    options = tls.ca || tls.cert ? { secureContext: process.getBuiltinModule('node:tls').createSecureContext(tls) } : {};
    contexts.set(settings, options);
  }
  return options;
}
