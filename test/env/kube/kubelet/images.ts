import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
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

/** An image as the kubelet has it after a pull: its manifest digest, config, and its layers' blobs on disk. */
export interface PulledImage {
  digest: string;
  /** The image configuration's `config` (Entrypoint, Cmd, Env, WorkingDir, …). */
  config: ImageConfig;
  layers: { path: string; mediaType: string }[];
}

export interface ImageConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
}

/** What the kubelet knows about pulling one image. */
export interface PullState {
  checkedAt: number;
  pending?: Promise<void>;
  ok?: boolean;
  error?: string;
  image?: PulledImage;
}

interface Manifest {
  mediaType?: string;
  config?: { digest: string; mediaType: string };
  layers?: { digest: string; mediaType: string; size: number }[];
  manifests?: { digest: string; mediaType: string; platform?: { os: string; architecture: string } }[];
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** The platform this machine's processes run as, in OCI's words. */
const HOST_ARCH = ({ x64: 'amd64', arm64: 'arm64', arm: 'arm' } as Record<string, string>)[process.arch] ?? process.arch;

/**
 * Image pulls from the local registries, as pkg/kubelet/images stands apart from the rest of the kubelet: the
 * manifest (an index resolves to this machine's platform), the config and every layer, each digest verified, with
 * the pod's imagePullSecrets or the cluster's own pull access (AKS's kubelet identity with AcrPull). Blobs are kept
 * per cluster under `dir`, so replicas of one image pull each blob once; the manifest is asked for again after
 * `pullCacheMs`, so a tag pushed again is seen.
 */
export class ImagePuller {
  /** How long a pull result is trusted before the registry is asked again. */
  pullCacheMs = 1500;
  private readonly pulls = new Map<string, PullState>();
  private readonly blobs = new Map<string, Promise<string>>();

  /**
   * @param registries the registries the cluster itself may pull from (tests take one away to show that a pod's
   *   imagePullSecrets are used).
   */
  constructor(private readonly cluster: KubeCluster, readonly registries: RegistryAccess[], private readonly caPem: string, private readonly dir: string) {}

  /** Forgets cached pull results (a test pushed an image that was missing before). */
  forget(): void {
    this.pulls.clear();
  }

  /** The pull result for an image, or undefined while the registry is being asked. */
  pull(pod: KObj, image: string): PullState | undefined {
    const key = `${pod.metadata.namespace}/${(pod.spec.imagePullSecrets ?? []).map((s: Any) => s.name).join(',')}/${image}`;
    const state = this.pulls.get(key);
    if (state && !state.pending && Date.now() - state.checkedAt < this.pullCacheMs) return state;
    if (state?.pending) return state.ok === undefined ? undefined : state;
    const next: PullState = { checkedAt: Date.now(), ok: state?.ok, error: state?.error, image: state?.image };
    next.pending = this.fetchImage(pod, image).then((pulled) => {
      next.ok = true; next.error = undefined; next.image = pulled;
    }, (err: Error) => {
      next.ok = false; next.error = err.message; next.image = undefined;
    }).finally(() => { next.pending = undefined; next.checkedAt = Date.now(); });
    this.pulls.set(key, next);
    return next.ok === undefined ? undefined : next;
  }

  private async fetchImage(pod: KObj, image: string): Promise<PulledImage> {
    const ref = parseImage(image);
    const token = await this.authorize(pod, image, ref);
    const auth = { authorization: `Bearer ${token}` };
    const get = async (reference: string) => {
      const res = await this.request(ref.registry, `/v2/${ref.repository}/manifests/${reference}`, 'GET', { ...auth, accept: MANIFEST_TYPES });
      if (res.status === 404) throw new Error(`failed to resolve reference "${image}": ${image}: not found`);
      if (res.status !== 200) throw new Error(`failed to resolve reference "${image}": unexpected status from GET request to https://${ref.registry}/v2/${ref.repository}/manifests/${reference}: ${res.status}`);
      const digest = sha256(res.body);
      if (reference.startsWith('sha256:') && digest !== reference) throw new Error(`failed to pull and unpack image "${image}": manifest digest ${digest} does not match ${reference}`);
      return { digest, manifest: JSON.parse(res.body.toString('utf8')) as Manifest };
    };
    const top = await get(ref.reference);
    let { manifest } = top;
    if (manifest.manifests) {
      const entry = manifest.manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === HOST_ARCH);
      if (!entry) throw new Error(`failed to pull and unpack image "${image}": no match for platform in manifest: not found`);
      manifest = (await get(entry.digest)).manifest;
    }
    if (!manifest.config || !manifest.layers) throw new Error(`failed to pull and unpack image "${image}": the manifest has no config or layers`);
    const blob = (digest: string) => this.blob(ref.registry, ref.repository, digest, auth);
    const [configPath, ...layerPaths] = await Promise.all([blob(manifest.config.digest), ...manifest.layers.map((l) => blob(l.digest))]);
    const config = (JSON.parse(fs.readFileSync(configPath, 'utf8')) as { config?: ImageConfig }).config ?? {};
    return { digest: top.digest, config, layers: manifest.layers.map((l, i) => ({ path: layerPaths[i], mediaType: l.mediaType })) };
  }

  /** A blob in the cluster's cache, downloaded once and kept only when its content has the digest it is named by. */
  private blob(registry: string, repository: string, digest: string, headers: Record<string, string>): Promise<string> {
    const file = path.join(this.dir, 'blobs', digest.replace(':', '-'));
    let pending = this.blobs.get(digest);
    if (!pending) {
      pending = (async () => {
        if (fs.existsSync(file)) return file;
        let res = await this.request(registry, `/v2/${repository}/blobs/${digest}`, 'GET', headers);
        // A registry may send the download to storage (ACR does): containerd follows, without the registry's token.
        for (let hop = 0; [301, 302, 303, 307, 308].includes(res.status) && res.location && hop < 3; hop++) {
          const to = new URL(res.location, `https://${registry}`);
          if (to.protocol !== 'https:' || !isLoopbackHost(to.host)) throw new Error(`failed to pull and unpack image: failed to copy: redirected to ${to.host}, which this cluster cannot reach`);
          res = await this.request(to.host, `${to.pathname}${to.search}`, 'GET', {});
        }
        if (res.status !== 200) throw new Error(`failed to pull and unpack image: failed to copy: httpReadSeeker: failed open: unexpected status code https://${registry}/v2/${repository}/blobs/${digest}: ${res.status}`);
        if (sha256(res.body) !== digest) throw new Error(`failed to pull and unpack image: failed commit on ref "${digest}": unexpected commit digest ${sha256(res.body)}, expected ${digest}: failed precondition`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(`${file}.partial`, res.body);
        fs.renameSync(`${file}.partial`, file);
        return file;
      })();
      this.blobs.set(digest, pending);
      pending.catch(() => this.blobs.delete(digest));
    }
    return pending;
  }

  /** A pull token for the repository, with the pod's imagePullSecrets first and then the cluster's access. */
  private async authorize(pod: KObj, image: string, ref: { registry: string; repository: string; reference: string }): Promise<string> {
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
    // Only the environment's registries, all on loopback, are ever contacted: any other host is as unknown as it
    // would be to a cluster without a route to it.
    if ((!access && !secretCreds.length) || !isLoopbackHost(ref.registry)) {
      throw new Error(`failed to resolve reference "${image}": failed to do request: Head "https://${ref.registry}/v2/${ref.repository}/manifests/${ref.reference}": dial tcp: lookup ${ref.registry.split(':')[0]}: no such host`);
    }
    for (const cred of creds) {
      const tokenRes = await this.request(ref.registry, `/oauth2/token?service=${encodeURIComponent(ref.registry)}&scope=${encodeURIComponent(`repository:${ref.repository}:pull`)}`, 'GET', { authorization: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}` });
      if (tokenRes.status !== 200) continue;
      const token = (JSON.parse(tokenRes.body.toString('utf8')) as { token: string }).token;
      // A token for a user without pull rights on the repository is refused at the manifest (401), so ask once.
      const res = await this.request(ref.registry, `/v2/${ref.repository}/manifests/${ref.reference}`, 'HEAD', { authorization: `Bearer ${token}`, accept: MANIFEST_TYPES });
      if (res.status === 401 || res.status === 403) continue;
      return token;
    }
    throw new Error('failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized');
  }

  private request(host: string, urlPath: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: Buffer; location?: string }> {
    return new Promise((resolve, reject) => {
      const [hostname, port] = host.split(':');
      const req = https.request({ hostname, port: Number(port || 443), path: urlPath, method, headers, ca: this.caPem, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d)).on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), location: res.headers.location }));
      });
      req.on('timeout', () => req.destroy(new Error('i/o timeout')));
      req.on('error', reject);
      req.end();
    });
  }
}

function sha256(content: Buffer): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '');
  return name === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(name);
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
