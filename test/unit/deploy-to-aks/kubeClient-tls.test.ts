import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { silentLog } from '../../../tasks/common/log';
import { networkSettings, readNetworkSettings, useNetworkSettings } from '../../../tasks/common/network/settings';
import { KubeClient } from '../../../tasks/deploy-to-aks/kubeClient';
import { CertificateAuthority } from '../../env/ca';

/** The Kubernetes client with Agent.CAInfo: the kubeconfig's CA still trusts the API server, on one TLS context. */
describe('deploy-to-aks Kubernetes client with Agent.CAInfo', () => {
  let dir: string;
  let server: https.Server;
  let proxy: http.Server;
  let kc: KubeConfig;
  let agentCaPath: string;
  let previous: ReturnType<typeof networkSettings>;
  let connections = 0;
  const tunnelled: string[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-tls-'));
    const clusterCa = CertificateAuthority.create(path.join(dir, 'cluster'));
    const agentCa = CertificateAuthority.create(path.join(dir, 'agent'));
    server = https.createServer({ cert: clusterCa.server.certPem, key: clusterCa.server.keyPem }, (req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url?.includes('watch=true')) {
        res.write(`${JSON.stringify({ type: 'ADDED', object: { kind: 'ConfigMap', metadata: { name: 'a' } } })}\n`);
        return setTimeout(() => res.end(), 20);
      }
      setTimeout(() => res.end(JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'a' } })), 20);
    });
    server.on('secureConnection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    // A CONNECT proxy on loopback, as the agent's Agent.ProxyUrl names one.
    proxy = http.createServer().on('connect', (req, socket: net.Socket, head) => {
      tunnelled.push(req.url!);
      const [host, port] = req.url!.split(':');
      const upstream = net.connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    agentCaPath = agentCa.caCertPath;
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caData: Buffer.from(clusterCa.caPem).toString('base64') }],
      users: [{ name: 'u', token: 'token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    previous = networkSettings();
  });
  after(() => {
    useNetworkSettings(previous);
    server.closeAllConnections();
    server.close();
    proxy.closeAllConnections();
    proxy.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A client whose agent has Agent.CAInfo (a CA that is not the cluster's), and Agent.ProxyUrl when asked. */
  function agentClient({ throughProxy }: { throughProxy: boolean }): KubeClient {
    const variables: Record<string, string> = { 'Agent.CAInfo': agentCaPath };
    if (throughProxy) variables['Agent.ProxyUrl'] = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    useNetworkSettings(readNetworkSettings({ variable: (name) => variables[name] }, silentLog, {}));
    connections = 0;
    tunnelled.length = 0;
    return new KubeClient(kc, silentLog, 'staging');
  }

  for (const throughProxy of [false, true]) {
    it(`trusts the kubeconfig's CA besides it, on one TLS context for all requests and watches${throughProxy ? ', inside the proxy\'s tunnel' : ''}`, async () => {
      const client = agentClient({ throughProxy });
      // The module object itself (an import's namespace is read-only), whose function node:tls's connect calls.
      const tls = process.getBuiltinModule('node:tls');
      const createSecureContext = tls.createSecureContext;
      let contexts = 0;
      tls.createSecureContext = (options) => { contexts++; return createSecureContext(options); };
      try {
        // Concurrent requests open connections of their own; each watch opens one.
        const answers = await Promise.all([1, 2, 3].map(() => client.request('GET', '/api/v1/namespaces/n/configmaps/a', { retry: false })));
        assert.deepEqual(answers.map((a) => a.body.metadata.name), ['a', 'a', 'a']);
        for (let i = 0; i < 2; i++) {
          const events: string[] = [];
          await client.watch('/api/v1/namespaces/n/configmaps', {}, (e) => events.push(e.type), new AbortController().signal);
          assert.deepEqual(events, ['ADDED']);
        }
      } finally {
        tls.createSecureContext = createSecureContext;
        client.close();
      }
      assert.equal(connections, 5);
      assert.equal(tunnelled.length, throughProxy ? 5 : 0);
      assert.equal(contexts, 1, `${connections} connections built ${contexts} TLS contexts`);
    });
  }
});
