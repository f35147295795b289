import type { RegistryClient } from './client';
import { OCI_INDEX, type Descriptor, type Manifest } from './mediaTypes';

export interface ReferrerList {
  referrers: Descriptor[];
  /** How the registry answered: the OCI 1.1 referrers API, or the `sha256-<hex>` tag of registries without it. */
  via: 'api' | 'tag';
}

/** The tag under which registries without the referrers API keep the referrers index of `digest`. */
export function referrersTag(digest: string): string {
  const [alg, hex] = digest.split(':');
  return `${alg.slice(0, 32)}-${hex.slice(0, 64)}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

/**
 * The referrers of a manifest (signatures, SBOMs, attestations): through the referrers API, following its pages,
 * or, when the registry answers 404 there, through the tag fallback. Optionally filtered by artifact type.
 */
export async function listReferrers(client: RegistryClient, repository: string, digest: string, artifactType?: string): Promise<ReferrerList> {
  const scopes = [`repository:${repository}:pull`];
  const found: Descriptor[] = [];
  // Registries may ignore the artifactType filter (the tag fallback has none), so it is applied here as well.
  const wanted = (all: Descriptor[]) => (artifactType ? all.filter((d) => d.artifactType === artifactType) : all);
  let path: string | undefined = `/v2/${repository}/referrers/${digest}${artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : ''}`;
  let first = true;
  while (path) {
    const res = await client.request('GET', path, { scopes, headers: { accept: OCI_INDEX }, expect: [404, 400, 405] });
    if (first && res.status !== 200) {
      await res.discard();
      const index = await client.manifest(repository, referrersTag(digest));
      return { referrers: wanted(index?.manifest.manifests ?? []), via: 'tag' };
    }
    if (res.status !== 200) throw new Error(`GET ${client.registry}${path}: HTTP ${res.status}`);
    first = false;
    const index = JSON.parse(await res.text()) as Manifest;
    found.push(...(index.manifests ?? []));
    const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.header('link') ?? '')?.[1];
    path = link ? new URL(link, await client.baseUrl()).toString() : undefined;
  }
  return { referrers: wanted(found), via: 'api' };
}

/**
 * Records a referrer in the fallback index of its subject (for registries that did not index it themselves): the
 * index is read (absent means empty), the descriptor added once, and the index put back under the tag.
 */
export async function addToFallbackIndex(client: RegistryClient, repository: string, subject: string, referrer: Descriptor): Promise<boolean> {
  const tag = referrersTag(subject);
  const existing = await client.manifest(repository, tag);
  const index: Manifest = existing?.manifest ?? { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
  const manifests = index.manifests ?? [];
  if (manifests.some((d) => d.digest === referrer.digest)) return false;
  const entry: Descriptor = { mediaType: referrer.mediaType, digest: referrer.digest, size: referrer.size };
  if (referrer.artifactType) entry.artifactType = referrer.artifactType;
  if (referrer.annotations) entry.annotations = referrer.annotations;
  const updated: Manifest = { ...index, schemaVersion: 2, mediaType: OCI_INDEX, manifests: [...manifests, entry] };
  await client.putManifest(repository, tag, OCI_INDEX, Buffer.from(JSON.stringify(updated)));
  return true;
}

/** A descriptor for a manifest as referrer listings show it: artifact type (else config media type) and annotations. */
export function referrerDescriptor(manifest: Manifest, digest: string, size: number, mediaType: string): Descriptor {
  const d: Descriptor = { mediaType, digest, size };
  const artifactType = manifest.artifactType ?? manifest.config?.mediaType;
  if (artifactType) d.artifactType = artifactType;
  if (manifest.annotations) d.annotations = manifest.annotations;
  return d;
}
