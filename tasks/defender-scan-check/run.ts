import * as fs from 'node:fs';
import type { TokenCredential } from '@azure/identity';
import { acrCredentials, createAzureCredential } from '../common/azureCredential';
import { UserError } from '../common/errors';
import { formatImageReference } from '../common/imageReference';
import { formatDuration, type TaskLog } from '../common/log';
import { RegistryClient } from '../common/registry/client';
import { isIndex } from '../common/registry/mediaTypes';
import { listReferrers } from '../common/registry/referrers';
import { sleep } from '../common/retry';
import type { TaskStatus } from '../common/pipeline';
import { dedupe, readRecord, type DataModel, type Finding, type RecordFacts } from './findings';
import type { ScanCheckOptions } from './options';
import { evaluatePolicy, type Allowlist } from './policy';
import { junitReport, markdownSummary, sarifChunks, type CheckedDigest, type ReportInput } from './reports';

export interface ScanCheckResult {
  status: TaskStatus;
  reason: string;
  outputs: Record<string, string>;
  summary: string;
  /** The SARIF document in pieces, to be written as they come. */
  sarif: Iterable<string>;
  junit: string;
}

const ATTESTATION_TYPE = 'application/vnd.in-toto+json';
/** Longest pause between two looks for results, so the log shows progress at least this often. */
const MAX_POLL_MS = 15_000;
const FIRST_POLL_MS = 2_000;

interface Target {
  digest: string;
  platform?: string;
  result?: { answeredBy: CheckedDigest['answeredBy']; findings: Finding[] };
}

/** Resolves the image to the digests Defender scans: the manifest itself, or every platform of an index. */
async function resolveTargets(client: RegistryClient, options: ScanCheckOptions, log: TaskLog): Promise<{ targets: Target[]; resolved: string }> {
  const { image } = options;
  const reference = image.digest ?? image.tag ?? 'latest';
  const found = await client.manifest(image.repository, reference);
  if (!found) {
    throw new UserError(`Input 'image': ${formatImageReference(image)} does not exist in the registry ${image.registry}. Check the repository and ${image.digest ? 'digest' : 'tag'}, and that the image was pushed before this step.`);
  }
  const resolved = `${image.registry}/${image.repository}@${found.digest}`;
  if (!image.digest) log.info(`${formatImageReference(image)} is ${found.digest}`);
  if (!isIndex(found.mediaType)) return { targets: [{ digest: found.digest }], resolved };
  const platforms = (found.manifest.manifests ?? []).filter((d) => !d.artifactType && d.platform && d.platform.os !== 'unknown');
  if (!platforms.length) throw new UserError(`Input 'image': ${resolved} is an index without platform images; give the digest of an image.`);
  log.info(`${resolved} is a multi-architecture index: checking each of its ${platforms.length} platform images`);
  return {
    resolved,
    targets: platforms.map((d) => ({ digest: d.digest, platform: [d.platform!.os, d.platform!.architecture, d.platform!.variant].filter(Boolean).join('/') })),
  };
}

async function readAllowlist(path: string | undefined): Promise<Allowlist | undefined> {
  if (!path) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UserError(`Input 'allowlist': cannot read ${path} (${code === 'ENOENT' ? 'no such file' : code ?? String(err)}). Give the path of a YAML file in the repository, or leave the input empty.`);
  }
  const { parseAllowlist } = await import('./allowlist.js');
  return parseAllowlist(text, path);
}

/**
 * The records of one digest in one data model, kept as they are read: their findings in one list and, of each
 * record, only what tells whether it belongs to the digest's latest push. Defender's records carry the push time it
 * saw and the time they were made; a record made before the newest push is an older scan and does not count as this
 * one. (An image can have tens of thousands of records: holding each record's facts until the last page is read
 * took about as much memory as the findings themselves.)
 */
class DigestRecords {
  private readonly findings: Finding[] = [];
  /** Per record: when it was made (NaN when it does not say), and where its findings end in `findings`. */
  private readonly made: number[] = [];
  private readonly ends: number[] = [];
  private pushedAt: number | undefined;

  constructor(private readonly digest: string) {}

  add(r: RecordFacts): void {
    if (r.digest && r.digest !== this.digest) return;
    if (r.pushedAt !== undefined && (this.pushedAt === undefined || r.pushedAt > this.pushedAt)) this.pushedAt = r.pushedAt;
    for (const f of r.findings) this.findings.push(f);
    this.made.push(r.generatedAt ?? NaN);
    this.ends.push(this.findings.length);
  }

  /** The records of the latest push (how many, and their findings in the order read), and how many are older. */
  current(): { records: number; stale: number; findings: Finding[] } {
    const { made, ends, pushedAt } = this;
    const isCurrent = (i: number) => pushedAt === undefined || Number.isNaN(made[i]) || made[i] >= pushedAt;
    let records = 0;
    for (let i = 0; i < made.length; i++) if (isCurrent(i)) records++;
    if (records === made.length) return { records, stale: 0, findings: this.findings };
    const findings: Finding[] = [];
    for (let i = 0; i < made.length; i++) {
      if (!isCurrent(i)) continue;
      for (let j = i ? ends[i - 1] : 0; j < ends[i]; j++) findings.push(this.findings[j]);
    }
    return { records, stale: made.length - records, findings };
  }
}

const isDefenderReport = (annotations: Record<string, string> | undefined) =>
  annotations?.scanner === 'MDVM' && annotations?.['report-type'] === 'SoftwareInventoryAssessment';

/**
 * Whether the registry holds Defender's vulnerability attestation for the digest. A listing may leave out the
 * referrer's annotations (the tag fallback index of some clients does), so such a referrer's manifest is read.
 */
async function hasDefenderAttestation(registry: RegistryClient, repository: string, digest: string): Promise<boolean> {
  const { referrers } = await listReferrers(registry, repository, digest, ATTESTATION_TYPE);
  for (const d of referrers) {
    if (isDefenderReport(d.annotations)) return true;
    if (d.annotations && Object.keys(d.annotations).length) continue;
    const found = await registry.manifest(repository, d.digest);
    if (found && (isDefenderReport(found.manifest.annotations) || found.manifest.layers?.some((l) => isDefenderReport(l.annotations)))) return true;
  }
  return false;
}

export async function runScanCheck(options: ScanCheckOptions, log: TaskLog, toolVersion = '1'): Promise<ScanCheckResult> {
  const allowlist = await readAllowlist(options.allowlistPath);
  if (allowlist) log.info(`Allowlist ${allowlist.source}: ${allowlist.entries.length} entr${allowlist.entries.length === 1 ? 'y' : 'ies'}`);
  const credential: TokenCredential = createAzureCredential(options.azure, log);
  const registry = new RegistryClient(options.image.registry, acrCredentials(options.azure, credential), log);
  const { targets, resolved } = await resolveTargets(registry, options, log);
  // The Resource Graph SDK is loaded after the registry has answered: the first request does not wait for it.
  const { FindingsSource, findingsQuery } = await import('./resourceGraph.js');
  const graph = new FindingsSource(options.azure, credential, log);

  const models: DataModel[] = options.dataSource === 'auto' ? ['assessments', 'subAssessments'] : [options.dataSource];
  const lookFor = async (t: Target): Promise<void> => {
    for (const model of models) {
      const read = new DigestRecords(t.digest);
      await graph.query(findingsQuery(model, t.digest), (row) => {
        const facts = readRecord(row);
        if (facts?.model === model) read.add(facts);
      });
      const { records, stale, findings } = read.current();
      if (stale && !records) {
        log.info(`${t.digest}: Defender's ${model === 'assessments' ? 'recommendations' : 'sub-assessments'} (${stale}) are from before the digest's latest push; waiting for the new scan`);
        return;
      }
      if (!records) continue;
      if (options.dataSource === 'auto') {
        log.info(model === 'assessments'
          ? `${t.digest}: Defender's individual recommendations answered (${records} records)`
          : `${t.digest}: only the retired sub-assessment model has results (${records} records); using it`);
      }
      t.result = { answeredBy: model, findings: dedupe(findings) };
      return;
    }
    // No records in any model: a clean image shows only as Defender's vulnerability attestation in the registry.
    if (await hasDefenderAttestation(registry, options.image.repository, t.digest)) {
      log.info(`${t.digest}: no findings in Resource Graph, and Defender's vulnerability attestation is in the registry: scanned, nothing found`);
      t.result = { answeredBy: 'attestation', findings: [] };
    }
  };

  const started = Date.now();
  const deadline = started + options.waitForScanSeconds * 1000;
  for (let round = 0; ; round++) {
    for (const t of targets.filter((x) => !x.result)) await lookFor(t);
    const pending = targets.filter((x) => !x.result);
    const left = deadline - Date.now();
    if (!pending.length || left <= 0) break;
    const delay = Math.min(FIRST_POLL_MS * 2 ** round, MAX_POLL_MS, left);
    log.info(`No Defender results yet for ${pending.map((p) => p.platform ?? p.digest).join(', ')}; waited ${formatDuration(Date.now() - started)} of ${formatDuration(options.waitForScanSeconds * 1000)}, looking again in ${formatDuration(delay)}`);
    await sleep(delay);
  }
  const waitedMs = Date.now() - started;
  log.debug(`results read after ${formatDuration(waitedMs)}; memory ${memoryMB()} MB`);

  const findings = targets.flatMap((t) => t.result?.findings ?? []);
  const verdict = evaluatePolicy(findings, { failOnSeverity: options.failOnSeverity, onlyFixable: options.onlyFixable, allowlist });
  const notScanned = targets.filter((t) => !t.result);
  const warnings: string[] = [];
  for (const e of verdict.expiredEntries) {
    const matches = verdict.expiredMatches.filter((m) => m.entry === e).length;
    warnings.push(`Allowlist entry ${e.id}${e.package ? ` (${e.package})` : ''} expired on ${e.expires} and no longer applies${matches ? `: ${matches} finding${matches > 1 ? 's' : ''} count${matches > 1 ? '' : 's'} again` : ''}. Renew it with a new date or remove it.`);
  }
  for (const f of verdict.unfixableCritical) {
    warnings.push(`${f.id} (${f.severity === 'Unknown' ? 'severity unknown' : f.severity}) in ${f.package} ${f.installedVersion} has no fix (${f.fixStatus}) and is let through because onlyFixable is true.`);
  }
  const unknown = findings.filter((f) => f.severity === 'Unknown').length;
  if (unknown) log.info(`${unknown} finding${unknown > 1 ? 's have' : ' has'} no known severity: counted as High`);
  for (const w of warnings) log.warn(w);

  const scanResult: ReportInput['scanResult'] = verdict.failing.length ? 'Failed' : notScanned.length ? 'NotScanned' : 'Passed';
  let status: TaskStatus;
  let reason: string;
  const image = formatImageReference(options.image);
  if (verdict.failing.length) {
    const first = verdict.failing.slice(0, 3).map((f) => `${f.id} (${f.severity}, ${f.package})`).join(', ');
    status = 'Failed';
    reason = `${verdict.failing.length} finding${verdict.failing.length > 1 ? 's' : ''} at or above ${options.failOnSeverity} in ${image}: ${first}${verdict.failing.length > 3 ? ', …' : ''}. Fix them, or accept them in the allowlist with a reason and an expiry date.`;
  } else if (notScanned.length) {
    const which = notScanned.map((t) => t.platform ? `${t.platform} (${t.digest})` : t.digest).join(', ');
    const what = `No Defender scan result for ${which} arrived within ${options.waitForScanSeconds} s`;
    status = options.onMissingScan === 'fail' ? 'Failed' : options.onMissingScan === 'warn' ? 'SucceededWithIssues' : 'Succeeded';
    reason = options.onMissingScan === 'fail'
      ? `${what}. Raise waitForScan, check that Defender for Containers scans the registry, or set onMissingScan to warn or pass.`
      : `${what}; onMissingScan is ${options.onMissingScan}.`;
    if (options.onMissingScan === 'warn') log.warn(reason);
  } else {
    status = warnings.length ? 'SucceededWithIssues' : 'Succeeded';
    reason = `No finding at or above ${options.failOnSeverity} in ${image} (${findings.length} found, ${verdict.allowlisted.length} allowlisted)${warnings.length ? `; ${warnings.length} warning${warnings.length > 1 ? 's' : ''}` : ''}.`;
  }
  log.info(reason);

  const checked: CheckedDigest[] = targets.map((t) => ({ digest: t.digest, platform: t.platform, answeredBy: t.result?.answeredBy, scanned: !!t.result, findings: t.result?.findings.length ?? 0 }));
  const report: ReportInput = {
    image: resolved, repository: options.image.repository, digests: checked, findings, verdict,
    failOnSeverity: options.failOnSeverity, onlyFixable: options.onlyFixable, allowlistSource: allowlist?.source, waitedMs, scanResult,
  };
  log.debug(`Resource Graph: ${graph.stats.requests} requests, ${graph.stats.pages} pages, ${graph.stats.throttledWaits} waits for the quota`);
  const summary = markdownSummary(report);
  const sarif = sarifChunks(report, toolVersion);
  const junit = junitReport(report);
  return {
    status, reason,
    outputs: {
      criticalCount: String(verdict.counts.critical), highCount: String(verdict.counts.high),
      mediumCount: String(verdict.counts.medium), lowCount: String(verdict.counts.low), scanResult,
    },
    summary, sarif, junit,
  };
}

function memoryMB(): number {
  return Math.round(process.memoryUsage().rss / 1048576);
}
