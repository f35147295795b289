import { createHash } from 'node:crypto';
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import { httpRetryVerdict } from '../common/http';
import type { ManifestResponse, RegistryClient } from '../common/registry/client';
import { isIndex, type Descriptor } from '../common/registry/mediaTypes';
import type { TaskLog } from '../common/log';
import { retry } from '../common/retry';

export interface CopyCounters {
  bytesCopied: number;
  bytesMounted: number;
  blobsCopied: number;
  blobsMounted: number;
  blobsPresent: number;
  manifestsCopied: number;
}

/**
 * Copies manifests by digest from one repository to another with the distribution API: children before their
 * index, blobs before their manifest, each blob checked with HEAD first, mounted across repositories inside one
 * registry, otherwise streamed from the source GET straight into the target PUT (never held whole in memory),
 * several at a time. A manifest is put only when everything it refers to is there, so an interrupted copy never
 * leaves a manifest that points at missing content.
 */
export class OciCopier {
  readonly counters: CopyCounters = { bytesCopied: 0, bytesMounted: 0, blobsCopied: 0, blobsMounted: 0, blobsPresent: 0, manifestsCopied: 0 };
  /** Bytes that have passed through so far, finished blobs or not (for progress lines). */
  bytesMoved = 0;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** The target's answers to a HEAD of each blob: its size when it holds the blob. */
  private readonly presence = new Map<string, Promise<number | undefined>>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly source: RegistryClient,
    private readonly sourceRepository: string,
    private readonly target: RegistryClient,
    private readonly targetRepository: string,
    private readonly log: TaskLog,
    private readonly concurrency = 6,
  ) {}

  private get sameRegistry(): boolean {
    return this.source.registry.toLowerCase() === this.target.registry.toLowerCase();
  }

  /**
   * Makes the target hold `digest` (and all it refers to); `known` is the source manifest when already read,
   * `absent` says the caller has just seen that the target does not hold it.
   */
  async copyManifest(digest: string, known?: ManifestResponse, absent = false): Promise<ManifestResponse> {
    if (!absent && (await this.target.manifestHead(this.targetRepository, digest))) {
      return known ?? (await this.readSource(digest));
    }
    const m = known ?? (await this.readSource(digest));
    await this.copyContent(m);
    await this.put(m);
    return m;
  }

  /** Makes the target hold everything `m` refers to (an index's manifests, a manifest's config and layers), not `m`. */
  async copyContent(m: ManifestResponse): Promise<void> {
    if (isIndex(m.mediaType)) {
      await Promise.all((m.manifest.manifests ?? []).map((child) => this.copyManifest(child.digest)));
    } else {
      await Promise.all(blobsOf(m).map((b) => this.copyBlob(b)));
    }
  }

  /**
   * Puts `m`, whose content the target holds, under `reference`: its digest, or a tag, which stores the manifest
   * and points the tag at it in one request (as skopeo does).
   */
  async put(m: ManifestResponse, reference = m.digest): Promise<void> {
    await this.putAs(m, reference);
    this.counters.manifestsCopied++;
    this.log.debug(`put ${m.mediaType} ${m.digest}${reference === m.digest ? '' : ` as ${reference}`}`);
  }

  /** Points `tag` at a manifest already in the target. */
  putTag(tag: string, m: ManifestResponse): Promise<void> {
    return this.putAs(m, tag);
  }

  private async putAs(m: ManifestResponse, reference: string): Promise<void> {
    const put = await this.target.putManifest(this.targetRepository, reference, m.mediaType, m.bytes);
    const where = `${this.target.registry}/${this.targetRepository}${reference === m.digest ? '' : `:${reference}`}`;
    if (put.digest && put.digest !== m.digest) throw new Error(`${where} stored ${m.digest} as ${put.digest}`);
  }

  /**
   * Asks the target now which blobs of `m` it holds, while the caller still reads the target's tags: the answers are
   * there when the copy starts, a round trip sooner. An index's children are not read yet, so nothing is asked for it.
   */
  lookAhead(m: ManifestResponse): void {
    if (isIndex(m.mediaType)) return;
    for (const blob of blobsOf(m)) this.blobPresent(blob.digest).catch(() => undefined);
  }

  private async readSource(digest: string): Promise<ManifestResponse> {
    const m = await this.source.manifest(this.sourceRepository, digest);
    if (!m) throw new Error(`${this.source.registry}/${this.sourceRepository} has no manifest ${digest}, which the image refers to`);
    return m;
  }

  private copyBlob(blob: Descriptor): Promise<void> {
    // One transfer per digest even when several manifests share a layer.
    let pending = this.inFlight.get(blob.digest);
    if (!pending) {
      pending = this.limited(() => this.transferBlob(blob));
      this.inFlight.set(blob.digest, pending);
    }
    return pending;
  }

  private blobPresent(digest: string): Promise<number | undefined> {
    let answer = this.presence.get(digest);
    if (!answer) {
      answer = this.target.blobHead(this.targetRepository, digest);
      this.presence.set(digest, answer);
    }
    return answer;
  }

  private async transferBlob(blob: Descriptor): Promise<void> {
    if ((await this.blobPresent(blob.digest)) !== undefined) {
      this.counters.blobsPresent++;
      return;
    }
    await retry(async () => {
      const mountFrom = this.sameRegistry && this.sourceRepository !== this.targetRepository ? this.sourceRepository : undefined;
      // Between registries nothing can be mounted, so the download opens while the upload session is created.
      const opening = mountFrom ? undefined : this.source.blobStream(this.sourceRepository, blob.digest);
      opening?.catch(() => undefined);
      const upload = await this.target.startUpload(this.targetRepository, { mountFrom, digest: blob.digest }).catch(async (err: unknown) => {
        (await opening?.catch(() => undefined))?.destroy();
        throw err;
      });
      if (upload.mounted) {
        this.counters.blobsMounted++;
        this.counters.bytesMounted += blob.size;
        return;
      }
      const downloading = opening ?? this.source.blobStream(this.sourceRepository, blob.digest);
      const started = Date.now();
      // The download is piped through the digest check into the upload: backpressure holds the download back while
      // the upload is slower, and a blob whose bytes do not match ends the upload before the registry commits it.
      // The upload's request goes out at once; its body follows when the download answers.
      const checked = new DigestCheck(blob.digest, blob.size, (n) => { this.bytesMoved += n; });
      const uploading = this.target.putBlob(this.targetRepository, upload.location, blob.digest, blob.size, checked);
      uploading.catch(() => undefined);
      let download: Readable | undefined;
      try {
        download = await downloading;
        pipeline(download, checked, () => undefined);
        await uploading;
        if (checked.failure) throw checked.failure;
      } catch (err) {
        // A download that failed before its first byte ends the upload too (the upload ends only on an error of its
        // body); the download's error is the one to tell, and bytes that did not match their digest are the reason.
        checked.destroy(err instanceof Error ? err : new Error(String(err)));
        await uploading.catch(() => undefined);
        throw checked.failure ?? err;
      } finally {
        download?.destroy();
      }
      this.counters.blobsCopied++;
      this.counters.bytesCopied += blob.size;
      this.log.debug(`copied ${blob.digest} (${blob.size} bytes) in ${Date.now() - started} ms`);
    }, httpRetryVerdict, { onRetry: ({ reason, delayMs }) => this.log.info(`Blob ${blob.digest.slice(0, 19)}…: ${reason} during the upload; starting it again in ${delayMs} ms`) });
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    while (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function blobsOf(m: ManifestResponse): Descriptor[] {
  return [m.manifest.config, ...(m.manifest.layers ?? [])].filter((d): d is Descriptor => !!d);
}

/** Passes a blob's bytes through while computing their SHA-256; fails the stream at the end when digest or size differ. */
class DigestCheck extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;
  failure?: Error;

  constructor(private readonly digest: string, private readonly size: number, private readonly onBytes: (count: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.seen += chunk.length;
    this.onBytes(chunk.length);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (this.digest.startsWith('sha256:') && (actual !== this.digest || this.seen !== this.size)) {
      this.failure = new Error(`the source sent ${this.seen} bytes with digest ${actual} for the blob ${this.digest} of ${this.size} bytes; the copy was stopped before the target stored it`);
      return callback(this.failure);
    }
    callback();
  }
}
