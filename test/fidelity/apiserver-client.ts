import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import type { FidelityContext } from './harness';

/** A raw answer of the API server, for cases where kubectl hides the status code, reason or headers. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** Sends one request as the cluster admin (the admin kubeconfig's client certificate), as kubectl would. */
export function raw(c: FidelityContext, method: string, urlPath: string, body?: unknown, contentType = 'application/json'): Promise<RawAnswer> {
  const config = parse(fs.readFileSync(c.f.adminKubeconfigPath, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  };
  const cluster = config.clusters[0].cluster;
  const user = config.users[0].user;
  const url = new URL(urlPath, cluster.server);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method,
      ca: Buffer.from(cluster['certificate-authority-data'], 'base64'),
      cert: Buffer.from(user['client-certificate-data'], 'base64'),
      key: Buffer.from(user['client-key-data'], 'base64'),
      headers: { accept: 'application/json', ...(payload !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try { parsed = JSON.parse(text); } catch { /* not JSON: keep the text */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    req.end(payload);
  });
}

/** Writes a manifest to a temporary file, for `kubectl … -f <file>`. */
export function manifest(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fidelity-'));
  const file = path.join(dir, 'manifest.yaml');
  fs.writeFileSync(file, text);
  return file;
}

/**
 * A Deployment manifest with one container `app` (and more given as YAML lines under `containers:`); `image` is one
 * in the environment's own registry, so that the kubelet stand-in pulls only from loopback.
 */
export function deployment(name: string, image: string, options: { replicas?: number; extra?: string; env?: string; containers?: string; resources?: string } = {}): string {
  return [
    'apiVersion: apps/v1', 'kind: Deployment', `metadata: {name: ${name}}`, 'spec:',
    ...(options.replicas !== undefined ? [`  replicas: ${options.replicas}`] : []),
    `  selector: {matchLabels: {app: ${name}}}`,
    '  template:', `    metadata: {labels: {app: ${name}}}`, '    spec:', '      containers:',
    `      - name: app`, `        image: ${image}`,
    ...(options.env ? ['        env:', ...options.env.split('\n').map((l) => `        ${l}`)] : []),
    ...(options.resources ? [`        resources: ${options.resources}`] : []),
    ...(options.containers ? options.containers.split('\n').map((l) => `      ${l}`) : []),
    ...(options.extra ? [options.extra] : []),
  ].join('\n');
}
