import * as https from 'node:https';
import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** Credentials the kubelet has for a registry (as AKS's kubelet identity has AcrPull on an attached ACR). */
export interface RegistryAccess {
  loginServer: string;
  username: string;
  password: string;
}

/** What the kubelet knows about pulling one image. */
export interface PullState {
  checkedAt: number;
  pending?: Promise<void>;
  ok?: boolean;
  error?: string;
  digest?: string;
}

/**
 * Image pulls from the local registries, with the cluster's pull credentials or the pod's imagePullSecrets (as
 * pkg/kubelet/images stands apart from the rest of the kubelet).
 */
export class ImagePuller {
  /** How long a pull result is trusted before the registry is asked again. */
  pullCacheMs = 1500;
  private readonly pulls = new Map<string, PullState>();

  /**
   * @param registries the registries the cluster itself may pull from (tests take one away to show that a pod's
   *   imagePullSecrets are used).
   */
  constructor(private readonly cluster: KubeCluster, readonly registries: RegistryAccess[], private readonly caPem: string) {}

  /** Forgets cached pull results (a test pushed an image that was missing before). */
  forget(): void {
    this.pulls.clear();
  }

  pull(pod: KObj, image: string): PullState | undefined {
    const key = `${pod.metadata.namespace}/${(pod.spec.imagePullSecrets ?? []).map((s: Any) => s.name).join(',')}/${image}`;
    const state = this.pulls.get(key);
    if (state && !state.pending && Date.now() - state.checkedAt < this.pullCacheMs) return state;
    if (state?.pending) return state.ok === undefined ? undefined : state;
    const next: PullState = { checkedAt: Date.now(), ok: state?.ok, error: state?.error };
    next.pending = this.resolve(pod, image).then((digest) => {
      next.ok = true; next.error = undefined; next.digest = digest;
    }, (err: Error) => {
      next.ok = false; next.error = err.message;
    }).finally(() => { next.pending = undefined; next.checkedAt = Date.now(); });
    this.pulls.set(key, next);
    return next.ok === undefined ? undefined : next;
  }

  /** Resolves an image's manifest on its registry with the cluster's or the pod's pull credentials. */
  private async resolve(pod: KObj, image: string): Promise<string> {
    const ref = parseImage(image);
    const access = this.registries.find((r) => r.loginServer === ref.registry);
    const secretCreds = (pod.spec.imagePullSecrets ?? []).flatMap((s: Any) => {
      const secret = this.cluster.get('v1', 'Secret', pod.metadata.namespace, s.name);
      const data = secret?.data?.['.dockerconfigjson'];
      if (!data) return [];
      const auths = (JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { auths?: Record<string, { username?: string; password?: string; auth?: string }> }).auths ?? {};
      return Object.entries(auths).filter(([host]) => host.replace(/^https?:\/\//, '').replace(/\/$/, '') === ref.registry).map(([, a]) => {
        if (a.username) return { username: a.username, password: a.password ?? '' };
        const [u, ...p] = Buffer.from(a.auth ?? '', 'base64').toString('utf8').split(':');
        return { username: u, password: p.join(':') };
      });
    }) as { username: string; password: string }[];
    const creds = [...secretCreds, ...(access ? [{ username: access.username, password: access.password }] : [])];
    if (!access && !secretCreds.length) {
      throw new Error(`failed to resolve reference "${image}": failed to do request: Head "https://${ref.registry}/v2/${ref.repository}/manifests/${ref.reference}": dial tcp: lookup ${ref.registry.split(':')[0]}: no such host`);
    }
    let lastError = '';
    for (const cred of creds) {
      const tokenRes = await this.request(ref.registry, `/oauth2/token?service=${encodeURIComponent(ref.registry)}&scope=${encodeURIComponent(`repository:${ref.repository}:pull`)}`, 'GET', { authorization: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}` });
      if (tokenRes.status !== 200) { lastError = `failed to authorize: failed to fetch anonymous token: unexpected status: ${tokenRes.status} Unauthorized`; continue; }
      const token = (JSON.parse(tokenRes.body) as { token: string }).token;
      const res = await this.request(ref.registry, `/v2/${ref.repository}/manifests/${ref.reference}`, 'HEAD', {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json',
      });
      if (res.status === 200) return res.digest ?? '';
      if (res.status === 404) throw new Error(`failed to resolve reference "${image}": ${image}: not found`);
      lastError = `failed to resolve reference "${image}": unexpected status from HEAD request to https://${ref.registry}/v2/${ref.repository}/manifests/${ref.reference}: ${res.status}`;
      if (res.status === 401 || res.status === 403) lastError = `failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized`;
    }
    throw new Error(lastError);
  }

  private request(host: string, path: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: string; digest?: string }> {
    return new Promise((resolve, reject) => {
      const [hostname, port] = host.split(':');
      const req = https.request({ hostname, port: Number(port || 443), path, method, headers, ca: this.caPem, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => { body += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, body, digest: res.headers['docker-content-digest'] as string | undefined }));
      });
      req.on('timeout', () => req.destroy(new Error('i/o timeout')));
      req.on('error', reject);
      req.end();
    });
  }
}

const IMAGE = /^(?:((?:[a-zA-Z0-9-]+\.)*[a-zA-Z0-9-]+(?::\d+)?|localhost(?::\d+)?)\/)?([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;

export function isValidImage(image: string): boolean {
  return IMAGE.test(image);
}

export function parseImage(image: string): { registry: string; repository: string; reference: string } {
  const m = IMAGE.exec(image)!;
  let registry = m[1];
  let repository = m[2];
  if (!registry || (!registry.includes('.') && !registry.includes(':') && registry !== 'localhost')) {
    repository = registry ? `${registry}/${repository}` : repository;
    registry = 'docker.io';
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  return { registry, repository, reference: m[4] ?? m[3] ?? 'latest' };
}
