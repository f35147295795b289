import type { TokenCredential } from '@azure/identity';
import { UserError } from '../common/errors';
import { formatImageReference } from '../common/imageReference';
import { formatDuration, type TaskLog } from '../common/log';
import { RegistryClient, type RegistryCredentials } from '../common/registry/client';
import type { Descriptor } from '../common/registry/mediaTypes';
import { addToFallbackIndex, listReferrers } from '../common/registry/referrers';
import type { AcrManagement, AcrRegistry } from './acr';
import { lockOnAcr } from './lock';
import { OciCopier, type CopyCounters } from './ociCopy';
import type { PromoteOptions } from './options';
import { planTags, tagsToWrite, type TagPlan } from './tags';

// The entry loads this module's bundle alone, so the refusal's class and summary come from here (one copy of the class).
export { TagConflict, refusalMarkdown } from './refusal';

export interface PromoteResult {
  source: string;
  digest: string;
  mediaType: string;
  method: 'acrImport' | 'ociCopy';
  promotedImage: string;
  promotedTags: string[];
  tags: TagPlan[];
  referrers: { digest: string; subject: string; artifactType?: string; action: 'copied' | 'present' }[];
  counters: CopyCounters;
  operationIds: string[];
  locked: boolean;
  alreadyPromoted: boolean;
  durationMs: number;
}

interface ReferrerEdge {
  subject: string;
  descriptor: Descriptor;
}

/** Promotes the digest that `sourceImage` means to the target registry, with its referrers, by ACR import or OCI copy. */
export async function run(options: PromoteOptions, log: TaskLog): Promise<PromoteResult> {
  const started = Date.now();
  const { source, targetRegistry, targetRepository } = options;
  // @azure/identity is loaded only with an Azure service connection.
  const azure = options.azure ? await import('../common/azureCredential.js') : undefined;
  let credential: TokenCredential | undefined;
  const azureCredential = () => (credential ??= azure!.createAzureCredential(options.azure!, log));
  const credentialsFor = (connection: PromoteOptions['sourceRegistryConnection']): RegistryCredentials => {
    if (connection) return { kind: 'basic', username: connection.username ?? '', password: connection.password ?? '', source: `registry connection '${connection.id}'` };
    if (options.azure) return azure!.acrCredentials(options.azure, azureCredential());
    return { kind: 'anonymous' };
  };
  const sourceClient = new RegistryClient(source.registry, credentialsFor(options.sourceRegistryConnection), log);
  const targetClient = new RegistryClient(targetRegistry, credentialsFor(options.targetRegistryConnection), log);
  // An OCI copy writes to the target: its token is fetched while the source is read (ACR import needs none).
  if (options.method === 'ociCopy' || !options.azure) targetClient.prepare([`repository:${targetRepository}:pull,push`]);

  // 1. The digest the source reference means.
  const reference = source.digest ?? source.tag ?? 'latest';
  const root = await sourceClient.manifest(source.repository, reference);
  if (!root) {
    throw new UserError(`Input 'sourceImage': ${formatImageReference(source)} does not exist (the registry has no manifest ${reference} in ${source.repository}). Check the repository and the ${source.digest ? 'digest' : 'tag'}.`);
  }
  const digest = root.digest;
  log.info(source.digest ? `Promoting ${source.registry}/${source.repository}@${digest} (${root.mediaType})` : `Tag ${source.tag} of ${source.registry}/${source.repository} points at ${digest} (${root.mediaType}); promoting that digest`);

  // 2. Which method.
  let acr: AcrManagement | undefined;
  let targetAcr: AcrRegistry | undefined;
  if (options.azure && options.method !== 'ociCopy') {
    // The ARM SDK is loaded only when ARM is asked: OCI copies and already-promoted images start faster without it.
    const { AcrManagement } = await import('./acr.js');
    acr = new AcrManagement(options.azure, azureCredential(), log);
    targetAcr = await acr.find(targetRegistry);
    if (!targetAcr && options.method === 'acrImport') {
      throw new UserError(`Input 'targetRegistry': ${targetRegistry} is not an Azure Container Registry in subscription ${options.azure.subscriptionId} of the service connection '${options.azure.id}', so ACR import cannot be used. Give the login server of a registry in that subscription, or set method to ociCopy.`);
    }
  }
  const method = targetAcr ? 'acrImport' : 'ociCopy';
  log.info(method === 'acrImport'
    ? `Target ${targetRegistry} is the ACR ${targetAcr!.name} (resource group ${targetAcr!.resourceGroup}): using ACR import`
    : `Using an OCI registry-to-registry copy to ${targetRegistry}${options.method === 'auto' ? (options.azure ? ' (it is not an ACR of the subscription)' : ' (no Azure subscription given)') : ''}`);

  // 3. What the target holds already, read all at once: the tags, the digest, the source's referrers, and for a copy
  // the blobs.
  const copier = method === 'ociCopy' ? new OciCopier(sourceClient, source.repository, targetClient, targetRepository, log) : undefined;
  copier?.lookAhead(root);
  const [heads, presentBefore, edges] = await Promise.all([
    Promise.all(options.targetTags.map((tag) => targetClient.manifestHead(targetRepository, tag))),
    targetClient.manifestHead(targetRepository, digest).then(Boolean),
    options.copyReferrers ? collectReferrers(sourceClient, source.repository, digest, log) : Promise.resolve([]),
  ]);

  // Tags: nothing changes while one of them would move without permission.
  const tags = planTags(options.targetTags, heads.map((head) => head?.digest), { where: `${targetRegistry}/${targetRepository}`, source: formatImageReference(source), digest, overwriteTags: options.overwriteTags });
  for (const t of tags) {
    if (t.before === 'same') log.info(`Tag ${t.tag} already points at ${digest} in ${targetRegistry}/${targetRepository}: nothing to do for it`);
    if (t.before === 'other') log.warn(`Tag ${t.tag} of ${targetRegistry}/${targetRepository} points at ${t.previousDigest}; moving it to ${digest} (overwriteTags is true)`);
  }
  const toWrite = tagsToWrite(tags);

  const referrerPresent = await Promise.all(edges.map(async (e) => !!(await targetClient.manifestHead(targetRepository, e.descriptor.digest))));

  const counters: CopyCounters = { bytesCopied: 0, bytesMounted: 0, blobsCopied: 0, blobsMounted: 0, blobsPresent: 0, manifestsCopied: 0 };
  const operationIds: string[] = [];
  const alreadyPromoted = presentBefore && toWrite.length === 0 && referrerPresent.every(Boolean);
  if (alreadyPromoted) {
    log.info(`${targetRegistry}/${targetRepository}@${digest} is already promoted${tags.length ? ` with tag${tags.length > 1 ? 's' : ''} ${tags.map((t) => t.tag).join(', ')}` : ''}${edges.length ? ` and its ${edges.length} referrer(s)` : ''}: nothing to do`);
  } else if (method === 'acrImport') {
    const sourceAcr = await acr!.find(source.registry);
    const importSource = sourceAcr
      ? { resourceId: sourceAcr.id }
      : { registryUri: source.registry, ...(options.sourceRegistryConnection?.password ? { credentials: { username: options.sourceRegistryConnection.username, password: options.sourceRegistryConnection.password } } : {}) };
    const doImport = async (what: string, tagsToSet: string[]) => {
      const id = await acr!.importImage(targetAcr!, {
        source: { ...importSource, sourceImage: `${source.repository}@${what}` },
        targetTags: tagsToSet.length ? tagsToSet.map((t) => `${targetRepository}:${t}`) : undefined,
        untaggedTargetRepositories: tagsToSet.length ? undefined : [targetRepository],
        mode: options.overwriteTags ? 'Force' : 'NoForce',
      });
      if (id) operationIds.push(id);
    };
    if (!presentBefore || toWrite.length) {
      log.info(`Importing ${source.repository}@${digest} into ${targetAcr!.name}/${targetRepository}${toWrite.length ? ` with tag${toWrite.length > 1 ? 's' : ''} ${toWrite.join(', ')}` : ' (untagged)'}`);
      await doImport(digest, toWrite);
    }
    await Promise.all(edges.map(async (e, i) => {
      if (referrerPresent[i]) return;
      log.info(`Importing referrer ${e.descriptor.digest} (${e.descriptor.artifactType ?? e.descriptor.mediaType}) of ${e.subject}`);
      await doImport(e.descriptor.digest, []);
    }));
  } else if (copier) {
    const copyStarted = Date.now();
    const progress = setInterval(() => log.info(`Copying: ${(copier.bytesMoved / (1024 * 1024)).toFixed(0)} MB so far (${formatDuration(Date.now() - copyStarted)})`), 15_000);
    try {
      // Referrers may be put before their subject (registries must accept that), so both are copied at once.
      await Promise.all([
        presentBefore ? undefined : copier.copyContent(root),
        ...edges.filter((_, i) => !referrerPresent[i]).map((e) => copier.copyManifest(e.descriptor.digest)),
      ]);
      // Tags last: a tag appears only when the image and its referrers are complete. A new image's manifest is put
      // under its first tag, which stores it and tags it in one request.
      const tagsLeft = [...toWrite];
      if (!presentBefore) await copier.put(root, tagsLeft.shift());
      for (const tag of tagsLeft) await copier.putTag(tag, root);
    } finally {
      clearInterval(progress);
    }
    Object.assign(counters, copier.counters);
  }

  // 5. Referrers must be discoverable in the target too: registries without the referrers API need the fallback index.
  if (edges.length && !alreadyPromoted) {
    const bySubject = new Map<string, Descriptor[]>();
    for (const e of edges) bySubject.set(e.subject, [...(bySubject.get(e.subject) ?? []), e.descriptor]);
    for (const [subject, wanted] of bySubject) {
      const { referrers, via } = await listReferrers(targetClient, targetRepository, subject);
      if (via === 'api') continue;
      for (const d of wanted) {
        if (!referrers.some((r) => r.digest === d.digest)) await addToFallbackIndex(targetClient, targetRepository, subject, d);
      }
    }
  }

  // 6. Verify: the SDK's poller, or a 201, alone does not prove that the target holds the digest.
  if (!alreadyPromoted) {
    const [check, tagHeads, referrerHeads] = await Promise.all([
      targetClient.manifestHead(targetRepository, digest),
      Promise.all(tags.map((t) => targetClient.manifestHead(targetRepository, t.tag))),
      Promise.all(edges.map((e) => targetClient.manifestHead(targetRepository, e.descriptor.digest))),
    ]);
    if (check?.digest !== digest) throw new Error(`after the promotion ${targetRegistry}/${targetRepository} does not hold ${digest}`);
    tags.forEach((t, i) => {
      if (tagHeads[i]?.digest !== digest) throw new Error(`after the promotion tag ${t.tag} of ${targetRegistry}/${targetRepository} points at ${tagHeads[i]?.digest ?? 'nothing'}, not ${digest}`);
    });
    edges.forEach((e, i) => {
      if (referrerHeads[i]?.digest !== e.descriptor.digest) throw new Error(`after the promotion ${targetRegistry}/${targetRepository} does not hold the referrer ${e.descriptor.digest}`);
    });
    log.info(`Verified: ${targetRegistry}/${targetRepository}@${digest}${tags.length ? ` and tag${tags.length > 1 ? 's' : ''} ${tags.map((t) => t.tag).join(', ')}` : ''} match the source digest`);
  }

  if (options.lockPromotedImage) {
    await lockOnAcr(targetClient, targetRepository, tags.map((t) => t.tag), digest);
    log.info(`Locked ${tags.length ? `tag${tags.length > 1 ? 's' : ''} ${tags.map((t) => t.tag).join(', ')} and ` : ''}${digest} (write and delete disabled)`);
  }

  const durationMs = Date.now() - started;
  return {
    source: formatImageReference(source),
    digest,
    mediaType: root.mediaType,
    method,
    promotedImage: `${targetRegistry}/${targetRepository}@${digest}`,
    promotedTags: tags.map((t) => t.tag),
    tags,
    referrers: edges.map((e, i) => ({ digest: e.descriptor.digest, subject: e.subject, artifactType: e.descriptor.artifactType, action: referrerPresent[i] ? 'present' : 'copied' })),
    counters,
    operationIds,
    locked: options.lockPromotedImage,
    alreadyPromoted,
    durationMs,
  };
}

/** The referrers of `digest`, recursively (a signature may be signed too), each with the subject it refers to. */
async function collectReferrers(client: RegistryClient, repository: string, digest: string, log: TaskLog): Promise<ReferrerEdge[]> {
  const edges: ReferrerEdge[] = [];
  const seen = new Set<string>([digest]);
  let level = [digest];
  while (level.length) {
    const listed = await Promise.all(level.map((subject) => listReferrers(client, repository, subject)));
    const next: string[] = [];
    listed.forEach(({ referrers, via }, i) => {
      if (referrers.length) log.debug(`${referrers.length} referrer(s) of ${level[i]} (via ${via === 'api' ? 'the referrers API' : 'the tag fallback'})`);
      for (const d of referrers) {
        if (seen.has(d.digest)) continue;
        seen.add(d.digest);
        edges.push({ subject: level[i], descriptor: d });
        next.push(d.digest);
      }
    });
    level = next;
  }
  return edges;
}

export function summaryMarkdown(r: PromoteResult, targetRegistry: string, targetRepository: string): string {
  const mb = (n: number) => `${(n / (1024 * 1024)).toFixed(1)} MB`;
  const lines = [
    `**${r.alreadyPromoted ? 'Already promoted' : 'Promoted'}** by ${r.method === 'acrImport' ? 'ACR import' : 'OCI copy'} in ${formatDuration(r.durationMs)}`,
    '',
    '| What | Value |',
    '|---|---|',
    `| Source | \`${r.source}\` |`,
    `| Target | \`${targetRegistry}/${targetRepository}\` |`,
    `| Digest | \`${r.digest}\` (${r.mediaType}) |`,
    `| Tags | ${r.tags.length ? r.tags.map((t) => `\`${t.tag}\` ${t.action}${t.action === 'moved' ? ` from \`${t.previousDigest}\`` : ''}`).join(', ') : 'none (untagged)'} |`,
    `| Referrers | ${r.referrers.length ? r.referrers.map((x) => `\`${x.digest.slice(0, 19)}…\` ${x.artifactType ?? ''} (${x.action})`).join('<br>') : 'none'} |`,
    r.method === 'ociCopy'
      ? `| Bytes | ${mb(r.counters.bytesCopied)} copied (${r.counters.blobsCopied} blobs), ${mb(r.counters.bytesMounted)} mounted (${r.counters.blobsMounted} blobs), ${r.counters.blobsPresent} blobs already there |`
      : `| Bytes | copied by the registry (server-side)${r.operationIds.length ? `; operations ${r.operationIds.join(', ')}` : ''} |`,
    `| Locked | ${r.locked ? 'yes (write and delete disabled)' : 'no'} |`,
    `| Time | ${formatDuration(r.durationMs)} |`,
  ];
  return `${lines.join('\n')}\n`;
}
