import { markdownCell, xmlText } from '../common/format';
import { formatDuration } from '../common/log';
import { isFixable, SEVERITY_ORDER, type Finding } from './findings';
import { policySeverity, type AllowlistEntry, type PolicyVerdict } from './policy';

/** One image digest that was checked (a platform of a multi-architecture image, or the image itself). */
export interface CheckedDigest {
  digest: string;
  platform?: string;
  /** Which source answered: a data model, or Defender's attestation in the registry for a clean image. */
  answeredBy?: 'assessments' | 'subAssessments' | 'attestation';
  scanned: boolean;
  findings: number;
}

export interface ReportInput {
  image: string;
  repository: string;
  digests: CheckedDigest[];
  findings: Finding[];
  verdict: PolicyVerdict;
  failOnSeverity: string;
  onlyFixable: boolean;
  allowlistSource?: string;
  waitedMs: number;
  scanResult: 'Passed' | 'Failed' | 'NotScanned';
}

/** Tables longer than this are cut in the summary (the SARIF file holds everything). */
const MAX_ROWS = 200;

const SOURCE_NAMES = { assessments: 'individual recommendations', subAssessments: 'sub-assessments (retired model)', attestation: "Defender's attestation in the registry (no findings)" };

function short(digest: string): string {
  return digest.replace(/^sha256:([0-9a-f]{12}).*$/, 'sha256:$1…');
}

function cvssText(f: Finding): string {
  return f.cvss[0] ? `${f.cvss[0].base} (v${f.cvss[0].version})` : '–';
}

function severityText(f: Finding): string {
  return f.severity === 'Unknown' ? `Unknown${f.reportedSeverity ? ` ('${f.reportedSeverity}')` : ''} → High` : f.severity;
}

export function markdownSummary(r: ReportInput): string {
  const v = r.verdict;
  const out: string[] = [];
  out.push(`### Defender for Containers: ${r.scanResult === 'Passed' ? 'passed' : r.scanResult === 'Failed' ? 'failed' : 'not scanned'}`, '');
  out.push(`Image \`${r.image}\` · policy: fail on ${r.failOnSeverity === 'None' ? 'nothing' : `${r.failOnSeverity} and above`}${r.onlyFixable ? ', only fixable findings' : ''}${r.allowlistSource ? `, allowlist \`${r.allowlistSource}\`` : ''} · waited ${formatDuration(r.waitedMs)} for results`, '');
  out.push('| Digest | Platform | Scan | Findings |', '|---|---|---|---|');
  for (const d of r.digests) {
    out.push(`| \`${short(d.digest)}\` | ${markdownCell(d.platform, '–')} | ${d.scanned ? `from ${SOURCE_NAMES[d.answeredBy!]}` : '**not scanned**'} | ${d.findings} |`);
  }
  out.push('');
  const tally = (list: Finding[]) => {
    const counts = new Map<string, number>();
    for (const f of list) counts.set(f.severity, (counts.get(f.severity) ?? 0) + 1);
    return (s: string) => counts.get(s) ?? 0;
  };
  const [found, counted, failing, allowed] = [tally(r.findings), tally(v.counted), tally(v.failing), tally(v.allowlisted.map((a) => a.finding))];
  out.push('| Severity | Found | Counted by the policy | Fail the policy | Allowlisted |', '|---|---|---|---|---|');
  for (const s of SEVERITY_ORDER) {
    out.push(`| ${s}${s === 'Unknown' ? ' (counts as High)' : ''} | ${found(s)} | ${counted(s)} | ${failing(s)} | ${allowed(s)} |`);
  }
  out.push('');
  if (v.failing.length) {
    out.push(`#### Findings that fail the policy (${v.failing.length})`, '', '| Vulnerability | Severity | CVSS | Package | Installed | Fixed in | Digest |', '|---|---|---|---|---|---|---|');
    for (const f of v.failing.slice(0, MAX_ROWS)) {
      out.push(`| [${f.id}](${advisoryUrl(f.id)}) | ${severityText(f)} | ${cvssText(f)} | ${markdownCell(f.package, '–')} | ${markdownCell(f.installedVersion, '–')} | ${isFixable(f) ? markdownCell(f.fixedVersion ?? 'a fix exists', '–') : `no fix (${f.fixStatus})`} | \`${short(f.digest)}\` |`);
    }
    if (v.failing.length > MAX_ROWS) out.push('', `… and ${v.failing.length - MAX_ROWS} more (all are in the SARIF file and the Tests tab).`);
    out.push('');
  }
  if (v.allowlisted.length) {
    out.push(`#### Allowlisted (${v.allowlisted.length})`, '', '| Vulnerability | Severity | Package | Reason | Expires |', '|---|---|---|---|---|');
    for (const { finding: f, entry } of v.allowlisted.slice(0, MAX_ROWS)) {
      out.push(`| ${f.id} | ${severityText(f)} | ${markdownCell(f.package, '–')} | ${markdownCell(entry.reason, '–')} | ${entry.expires} |`);
    }
    out.push('');
  }
  if (v.expiredEntries.length) {
    out.push(`#### Expired allowlist entries (${v.expiredEntries.length}): no longer applied`, '', '| Vulnerability | Package | Reason | Expired | Matches now |', '|---|---|---|---|---|');
    for (const e of v.expiredEntries) {
      out.push(`| ${e.id} | ${markdownCell(e.package, '–')} | ${markdownCell(e.reason, '–')} | ${e.expires} | ${v.expiredMatches.filter((m) => m.entry === e).length} |`);
    }
    out.push('');
  }
  if (r.onlyFixable && v.unfixable.length) {
    out.push(`#### Without a fix, not counted (${v.unfixable.length})`, '', '| Vulnerability | Severity | Package | Fix status |', '|---|---|---|---|');
    for (const f of v.unfixable.slice(0, MAX_ROWS)) out.push(`| ${f.id} | ${severityText(f)} | ${markdownCell(f.package, '–')} | ${f.fixStatus} |`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

export function advisoryUrl(id: string): string {
  return /^CVE-\d+-\d+$/.test(id) ? `https://nvd.nist.gov/vuln/detail/${id}` : `https://www.google.com/search?q=${encodeURIComponent(id)}`;
}

/**
 * SARIF 2.1.0: one rule per vulnerability id, one result per finding; allowlisted findings carry a suppression.
 * Produced as a sequence of JSON pieces, written to disk as they come: an image can have tens of thousands of
 * findings, and the whole document as one object graph and one string would double the task's peak memory.
 */
export function* sarifChunks(r: ReportInput, toolVersion: string): Generator<string> {
  const v = r.verdict;
  const failing = new Set(v.failing);
  const allowed = new Map<Finding, AllowlistEntry>(v.allowlisted.map((a) => [a.finding, a.entry]));
  const rules = new Map<string, Finding>();
  for (const f of r.findings) {
    const prev = rules.get(f.id);
    if (!prev || SEVERITY_ORDER.indexOf(f.severity) < SEVERITY_ORDER.indexOf(prev.severity)) rules.set(f.id, f);
  }
  const ruleIds = [...rules.keys()].sort();
  const ruleIndex = new Map(ruleIds.map((id, i) => [id, i]));
  const imageName = r.image.split('@')[0].replace(/:[^/:]+$/, '');
  const driver = {
    name: 'DefenderScanCheck',
    fullName: 'Defender for Containers scan check',
    version: toolVersion,
    informationUri: 'https://learn.microsoft.com/azure/defender-for-cloud/defender-for-containers-introduction',
  };
  yield `{"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[{"tool":{"driver":${JSON.stringify(driver).slice(0, -1)},"rules":[`;
  yield* batched(ruleIds, (id) => {
    const f = rules.get(id)!;
    return JSON.stringify({
      id,
      shortDescription: { text: `${id} in ${f.package}` },
      ...(f.description ? { fullDescription: { text: f.description } } : {}),
      helpUri: advisoryUrl(id),
      properties: { ...(f.cvss[0] ? { 'security-severity': f.cvss[0].base.toFixed(1) } : {}), severity: f.severity },
    });
  });
  yield `]}},"automationDetails":${JSON.stringify({ id: `defender-scan-check/${r.repository}/` })},"results":[`;
  yield* batched(r.findings, (f) => {
    const entry = allowed.get(f);
    return JSON.stringify({
      ruleId: f.id,
      ruleIndex: ruleIndex.get(f.id),
      level: failing.has(f) ? 'error' : entry ? 'note' : 'warning',
      message: { text: `${f.id} (${severityText(f)}) in ${f.package} ${f.installedVersion}${f.fixedVersion ? `; fixed in ${f.fixedVersion}` : `; ${f.fixStatus === 'FixAvailable' ? 'a fix exists' : 'no fix'}`}` },
      locations: [{ physicalLocation: { artifactLocation: { uri: `oci://${imageName}@${f.digest}` } }, logicalLocations: [{ name: f.package, kind: 'package' }] }],
      partialFingerprints: { 'vulnerability/package/digest': `${f.id}/${f.package}/${f.installedVersion}/${f.digest}` },
      ...(entry ? { suppressions: [{ kind: 'external', state: 'accepted', justification: `${entry.reason} (until ${entry.expires})` }] } : {}),
      properties: { fixStatus: f.fixStatus, ...(f.cvss[0]?.vector ? { cvssVector: f.cvss[0].vector } : {}), ...(f.exploit.inExploitKit ? { inExploitKit: true } : {}) },
    });
  });
  yield `],"properties":${JSON.stringify({ scanResult: r.scanResult, counts: v.counts, digests: r.digests })}}]}`;
}

/**
 * Items as comma-separated JSON, in pieces of about PIECE_CHARS characters. The pieces are kept well under V8's
 * large-object size (strings above ~128 KiB go straight to the old generation and stay there until a full GC):
 * 40 pieces of 350 KB each, written one after the other, grew the heap by their sum.
 */
function* batched<T>(items: readonly T[], json: (item: T) => string): Generator<string> {
  let parts: string[] = [];
  let chars = 0;
  for (let i = 0; i < items.length; i++) {
    const part = (i ? ',' : '') + json(items[i]);
    parts.push(part);
    chars += part.length;
    if (chars >= PIECE_CHARS) {
      yield parts.join('');
      parts = [];
      chars = 0;
    }
  }
  if (parts.length) yield parts.join('');
}

const PIECE_CHARS = 32_768;

/** The SARIF document as one string (for small reports and tests). */
export function sarifReport(r: ReportInput, toolVersion: string): string {
  return [...sarifChunks(r, toolVersion)].join('');
}

/** JUnit: one failing test case per finding that fails the policy; a digest with none gets one passing case. */
export function junitReport(r: ReportInput): string {
  const cases: string[] = [];
  for (const d of r.digests) {
    const failing = r.verdict.failing.filter((f) => f.digest === d.digest);
    const suite = `${r.repository}@${short(d.digest)}${d.platform ? ` (${d.platform})` : ''}`;
    if (!d.scanned) {
      cases.push(`  <testcase classname="${xmlText(suite)}" name="Defender scan result"><skipped message="no Defender result arrived for ${xmlText(d.digest)}"/></testcase>`);
      continue;
    }
    if (!failing.length) {
      cases.push(`  <testcase classname="${xmlText(suite)}" name="no finding fails the policy"/>`);
      continue;
    }
    for (const f of failing) {
      const message = `${f.id} (${severityText(f)}) in ${f.package} ${f.installedVersion}${f.fixedVersion ? `, fixed in ${f.fixedVersion}` : ''}`;
      cases.push(`  <testcase classname="${xmlText(suite)}" name="${xmlText(`${f.id} in ${f.package}`)}"><failure message="${xmlText(message)}" type="${xmlText(policySeverity(f))}">${xmlText(`${message}\n${advisoryUrl(f.id)}`)}</failure></testcase>`);
    }
  }
  const failures = r.verdict.failing.length;
  const skipped = r.digests.filter((d) => !d.scanned).length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="Defender scan check" tests="${cases.length}" failures="${failures}">\n<testsuite name="Defender findings of ${xmlText(r.image)}" tests="${cases.length}" failures="${failures}" skipped="${skipped}" errors="0">\n${cases.join('\n')}\n</testsuite>\n</testsuites>\n`;
}
