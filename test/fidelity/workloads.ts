import * as http from 'node:http';
import { writeManifest } from '../tasks/deploy-to-aks-fixture';
import type { FidelityContext } from './harness';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** Polls until `check` returns a value, or fails with the last error after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not happen within ${ms} ms${last ? `: ${(last as Error).message}` : ''}`);
}

export function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Applies a Deployment of the sample image (and optional more documents) and waits until `ready` pods are Ready. */
export async function deploy(c: FidelityContext, ns: string, docs: string[], ready: number, name = 'web'): Promise<Any[]> {
  await c.kubectl('apply', '--server-side', '-n', ns, '-f', writeManifest(c.f, ...docs));
  return until(`${ready} ready pods of ${name}`, async () => {
    const pods = JSON.parse(await c.kubectl('get', 'pods', '-n', ns, '-l', `app=${name}`, '-o', 'json')).items as Any[];
    const readyPods = pods.filter((p) => (p.status.conditions ?? []).some((x: Any) => x.type === 'Ready' && x.status === 'True'));
    return readyPods.length >= ready ? readyPods : undefined;
  });
}

export function service(name: string, port = 80, extra = ''): string {
  return `apiVersion: v1\nkind: Service\nmetadata: { name: ${name} }\nspec:\n  selector: { app: ${name} }\n  ports: [{ port: ${port}, targetPort: 8080 }]${extra}`;
}
