/**
 * The agent's proxy and CA for the SDK clients, each through the options that really work for it (measured,
 * reference/agent-networking.md §3); `../http.ts` builds its pools on `nodeAgentFor` too.
 * - @azure/core-rest-pipeline clients (@azure/identity credentials, the ARM SDKs) drop `tlsOptions` whenever a proxy
 *   is in use, and https-proxy-agent ignores a `ca` for the tunnelled TLS; hpagent applies it. So an https target
 *   gets an `agent` (which also wins over core-rest-pipeline's own reading of HTTPS_PROXY), an http target (managed
 *   identity's IMDS) gets `proxyOptions`.
 * - @kubernetes/client-node 1.4 ignores HTTPS_PROXY: the Kubernetes client is given a node agent from here.
 * - azure-devops-node-api's WebApi takes typed-rest-client's request options: proxy, cert and ignoreSslError.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import type * as tls from 'node:tls';
import type { HttpsProxyAgentOptions } from 'hpagent';
import { networkSettings, proxyFor, tlsContextOptions, tlsOptions, type ProxyEndpoint } from './settings';

/**
 * A node:http(s) agent for one target: direct, or tunnelled with CONNECT through the proxy the settings give.
 * node:https (with node:tls) and hpagent are loaded with the first agent that needs them: a run whose requests are
 * all plain http and direct, as a gate's in-cluster checks are, starts without them (about 2 ms).
 */
export function nodeAgentFor(target: string | URL, options: { keepAlive?: boolean; maxSockets?: number } = {}): http.Agent {
  const url = new URL(target);
  const proxy = proxyFor(url);
  const base = { keepAlive: options.keepAlive ?? true, maxSockets: options.maxSockets ?? 16 };
  const secure = url.protocol === 'https:';
  if (!proxy) return secure ? new (earlyConnectHttpsAgent())(base) : new http.Agent(base);
  const tunnel = { ...base, proxy: proxy.origin, proxyRequestOptions: proxyRequestOptions(proxy) };
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded here, on first use, as said above
  const { HttpProxyAgent, HttpsProxyAgent } = require('hpagent') as typeof import('hpagent');
  return secure ? new (tunnelHttpsAgent(HttpsProxyAgent))(tunnel) : new HttpProxyAgent(tunnel);
}

/**
 * The connection's TLS options: the request's own when it brings any (a kubeconfig's CA and client certificate,
 * which the Kubernetes client combines with the agent's), else the run's TLS context. Not as agent options, which
 * Node gives precedence over the request's: the run's roots would replace a cluster's own CA.
 */
function withRunTls<T extends https.RequestOptions>(options: T): T {
  return (options as tls.ConnectionOptions).secureContext || options.ca || options.cert || options.pfx ? options : { ...options, ...tlsContextOptions() };
}

type TunnelAgentClass = new (options: HttpsProxyAgentOptions) => https.Agent;
let tunnelAgentClass: TunnelAgentClass | undefined;

/** hpagent's CONNECT tunnel, whose TLS connection inside the tunnel gets `withRunTls`. */
function tunnelHttpsAgent(HttpsProxyAgent: typeof import('hpagent').HttpsProxyAgent): TunnelAgentClass {
  return (tunnelAgentClass ??= class TunnelHttpsAgent extends HttpsProxyAgent {
    override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
      return super.createConnection(withRunTls(options), callback);
    }
  });
}

let trustStoreBuilt = false;
type HttpsAgentClass = new (options: https.AgentOptions) => https.Agent;
let earlyConnectAgentClass: HttpsAgentClass | undefined;

/**
 * An https agent with the run's TLS context (`withRunTls`), whose first connection in the process starts its
 * TCP handshake (and DNS lookup) before that context is built, not after. On Node 20 the first TLS context parses
 * Node's ~140 root certificates, 15-50 ms of CPU measured, which Node does before it even opens the socket; here
 * that work overlaps the network round trips. Later connections, whose context is built, go the usual way (with TLS
 * session reuse).
 */
function earlyConnectHttpsAgent(): HttpsAgentClass {
  return (earlyConnectAgentClass ??= class EarlyConnectHttpsAgent extends process.getBuiltinModule('node:https').Agent {
    override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
      if (trustStoreBuilt || !callback) return super.createConnection(withRunTls(options), callback);
      trustStoreBuilt = true;
      // Only what opens the TCP connection: the request's own options (its path above all) would mean a Unix socket.
      const socket = net.connect({ host: options.host ?? 'localhost', port: Number(options.port) || 443, family: options.family, localAddress: options.localAddress, lookup: options.lookup as net.LookupFunction | undefined });
      let failed: Error | undefined;
      const early = (err: Error) => { failed = err; };
      socket.once('error', early);
      // After this turn of the event loop the connect has been issued; the TLS context is built while it is under way.
      setImmediate(() => {
        socket.off('error', early);
        if (failed) return callback(failed, socket);
        try {
          callback(null, super.createConnection({ ...withRunTls(options), socket } as https.RequestOptions)!);
        } catch (err) {
          socket.destroy();
          callback(err as Error, socket);
        }
      });
      return undefined;
    }
  });
}

/**
 * A connection of its own to `url`'s origin through `agent`, as the agent would open one for its pool: directly or
 * through the proxy's tunnel, with the same TLS settings. Used for downloads read without Node's HTTP parser.
 */
export function connectThrough(agent: http.Agent, url: URL, timeoutMs: number): Promise<Duplex> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const secure = url.protocol === 'https:';
  const options = {
    host, port: Number(url.port) || (secure ? 443 : 80), timeout: timeoutMs,
    ...(secure ? { ...tlsContextOptions(), servername: net.isIP(host) ? undefined : host } : {}),
  };
  return new Promise((resolve, reject) => {
    let done = false;
    // An agent either returns the socket or calls back with it (hpagent, once the CONNECT is answered).
    const finish = (err: Error | null | undefined, socket?: Duplex | null) => {
      if (done || (!err && !socket)) return;
      done = true;
      if (err) reject(err);
      else resolve(socket!);
    };
    const socket = agent.createConnection(options, finish);
    if (socket) finish(null, socket);
  });
}

/** The credentials go in a header of the CONNECT request, so they never need URL-encoding. */
function proxyRequestOptions(proxy: ProxyEndpoint): { headers: Record<string, string> } {
  return { headers: proxy.authorization ? { 'proxy-authorization': proxy.authorization } : {} };
}

/** Options for a core-rest-pipeline client (a credential or an ARM SDK client) that talks to `target`. */
export function azureSdkNetworkOptions(target: string | URL): { agent?: http.Agent; proxyOptions?: { host: string; port: number; username?: string; password?: string } } {
  const url = new URL(target);
  if (url.protocol === 'https:') return { agent: nodeAgentFor(url) };
  const proxy = proxyFor(url);
  if (!proxy) return {};
  const origin = new URL(proxy.origin);
  return { proxyOptions: { host: `${origin.protocol}//${origin.hostname}`, port: Number(origin.port) || 80, username: proxy.username, password: proxy.password } };
}

/**
 * typed-rest-client request options for azure-devops-node-api's WebApi talking to `target`. Its `cert.caFile` replaces
 * Node's roots, so it gets a bundle of the roots, NODE_EXTRA_CA_CERTS and Agent.CAInfo together.
 */
export function devopsRequestOptions(target: string | URL): {
  ignoreSslError: false;
  proxy?: { proxyUrl: string; proxyUsername?: string; proxyPassword?: string; proxyBypassHosts: string[] };
  cert?: { caFile?: string; certFile?: string; keyFile?: string; passphrase?: string };
} {
  const url = new URL(target);
  const proxy = proxyFor(url);
  const settings = networkSettings();
  const tls = tlsOptions(settings);
  const options: ReturnType<typeof devopsRequestOptions> = { ignoreSslError: false };
  if (proxy) options.proxy = { proxyUrl: proxy.origin, proxyUsername: proxy.username, proxyPassword: proxy.password, proxyBypassHosts: [] };
  if (tls.ca || settings.clientCert) {
    options.cert = {
      caFile: tls.ca ? caBundleFile(tls.ca) : undefined,
      certFile: settings.clientCert?.certFile,
      keyFile: settings.clientCert?.keyFile,
      passphrase: settings.clientCert?.passphrase,
    };
  }
  return options;
}

let bundle: string | undefined;

/** The CA certificates as one PEM file (not secret), removed when the process exits. */
function caBundleFile(ca: string[]): string {
  if (bundle) return bundle;
  const file = path.join(os.tmpdir(), `aks-secure-delivery-ca-${process.pid}.pem`);
  fs.writeFileSync(file, ca.join('\n'), { mode: 0o644 });
  process.once('exit', () => fs.rmSync(file, { force: true }));
  bundle = file;
  return file;
}
