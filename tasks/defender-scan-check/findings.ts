/**
 * One finding type for both Defender data models. Records of the individual-recommendations model (one assessment
 * per image × software update, CVEs inside a JSON string) and of the retired sub-assessment model (one record per
 * image × CVE) are read defensively: Defender's field shapes vary between tenants and over time (PascalCase or
 * camelCase keys, JSON kept as strings or as objects, CVSS as an array of {Key, Value} or as a map by version).
 */

export const SEVERITY_ORDER = ['Critical', 'High', 'Medium', 'Low', 'Unknown'] as const;
export type Severity = (typeof SEVERITY_ORDER)[number];
export type FixStatus = 'FixAvailable' | 'NoFix' | 'WontFix' | 'Scheduled' | 'Unknown';
export type DataModel = 'assessments' | 'subAssessments';

export interface Cvss {
  version: string;
  base: number;
  vector?: string;
}

export interface Finding {
  /** The vulnerability id, e.g. CVE-2024-6119 (upper case). */
  id: string;
  severity: Severity;
  /** The severity as Defender wrote it, when it was not one of the known values. */
  reportedSeverity?: string;
  /** Highest CVSS version first. */
  cvss: Cvss[];
  package: string;
  installedVersion: string;
  fixedVersion?: string;
  fixStatus: FixStatus;
  exploit: { inExploitKit: boolean; publiclyDisclosed: boolean; verified: boolean };
  published?: string;
  description?: string;
  digest: string;
  model: DataModel;
}

/** What one Defender record says about the image, besides its findings. */
export interface RecordFacts {
  model: DataModel;
  digest?: string;
  /** Healthy, Unhealthy or NotApplicable. */
  statusCode: string;
  /** When Defender produced the record, if it says. */
  generatedAt?: number;
  /** When the digest was last pushed, as Defender saw it. */
  pushedAt?: number;
  findings: Finding[];
}

type Bag = Record<string, unknown>;

/**
 * A property under any of the given spellings (Defender writes both `ResourceType` and `resourceType`). The
 * spellings are listed at each use rather than matched without regard to case: this runs for every record of
 * images with tens of thousands of findings.
 */
export function prop(value: unknown, ...names: string[]): unknown {
  const bag = asBag(value);
  if (!bag) return undefined;
  for (const name of names) {
    const v = bag[name];
    if (v !== undefined) return v;
  }
  return undefined;
}

const SPELLINGS = new Map<string, string[]>();

/** A nested property by path, each step given as its spellings separated by '|', parsing JSON kept as a string. */
export function path(value: unknown, ...steps: string[]): unknown {
  let current: unknown = value;
  for (const step of steps) {
    let names = SPELLINGS.get(step);
    if (!names) SPELLINGS.set(step, (names = step.split('|')));
    current = prop(parseJsonString(current), ...names);
    if (current === undefined || current === null) return undefined;
  }
  return parseJsonString(current);
}

/** Defender keeps some objects as JSON text: parse those, leave everything else as it is. */
export function parseJsonString(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  let i = 0;
  while (i < value.length && value.charCodeAt(i) <= 32) i++;
  const first = value.charCodeAt(i);
  if (first !== 123 /* { */ && first !== 91 /* [ */) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function asBag(value: unknown): Bag | undefined {
  const v = parseJsonString(value);
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Bag) : undefined;
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** Defender's descriptions can run to pages (AI-written, remediation included): keep the opening only. */
function brief(value: string | undefined): string | undefined {
  return value && value.length > 300 ? `${value.slice(0, 297)}…` : value;
}

function number(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function bool(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

function time(value: unknown): number | undefined {
  const s = text(value);
  if (!s) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

function list(value: unknown): unknown[] {
  const v = parseJsonString(value);
  if (Array.isArray(v)) return v;
  if (v === undefined || v === null || v === '') return [];
  return [v];
}

/** Severity in its canonical spelling; anything unknown, empty or missing is Unknown (and never "clean"). */
export function normaliseSeverity(value: unknown): { severity: Severity; reported?: string } {
  const s = text(value);
  const match = SEVERITY_ORDER.find((k) => k.toLowerCase() === s?.toLowerCase());
  if (match) return { severity: match };
  return { severity: 'Unknown', reported: s };
}

export function normaliseFixStatus(value: unknown, fixedVersion: string | undefined): FixStatus {
  const s = text(value)?.toLowerCase().replace(/[^a-z]/g, '');
  switch (s) {
    case 'fixavailable':
    case 'fixed':
      return 'FixAvailable';
    case 'nofix':
    case 'nofixavailable':
    case 'notfixed':
      return 'NoFix';
    case 'wontfix':
    case 'willnotfix':
      return 'WontFix';
    case 'scheduled':
    case 'fixdeferred':
      return 'Scheduled';
    default:
      return fixedVersion ? 'FixAvailable' : 'Unknown';
  }
}

/** CVSS from either `[{Key: "3", Value: {Base, CvssVectorString}}]` or `{"3.0": {base, cvssVectorString}}`. */
export function normaliseCvss(value: unknown): Cvss[] {
  const v = parseJsonString(value);
  const out: Cvss[] = [];
  const add = (version: unknown, entry: unknown) => {
    const base = number(prop(entry, 'Base', 'base', 'baseScore', 'score'));
    if (base === undefined) return;
    out.push({ version: text(version) ?? '?', base, vector: text(prop(entry, 'CvssVectorString', 'cvssVectorString', 'vectorString', 'vector')) });
  };
  if (Array.isArray(v)) {
    for (const item of v) add(prop(item, 'Key', 'key', 'version'), prop(item, 'Value', 'value') ?? item);
  } else if (v && typeof v === 'object') {
    for (const [version, entry] of Object.entries(v as Bag)) if (entry) add(version, entry);
  }
  return out.sort((a, b) => Number.parseFloat(b.version) - Number.parseFloat(a.version) || b.base - a.base);
}

/** The common case, shared: images can carry tens of thousands of findings. */
const NO_EXPLOIT: Finding['exploit'] = Object.freeze({ inExploitKit: false, publiclyDisclosed: false, verified: false });

function exploit(value: unknown): Finding['exploit'] {
  const inExploitKit = bool(prop(value, 'IsInExploitKit', 'isInExploitKit'));
  const publiclyDisclosed = bool(prop(value, 'ExploitStepsPublished', 'IsPubliclyDisclosed', 'exploitStepsPublished', 'isPubliclyDisclosed'));
  const verified = bool(prop(value, 'ExploitStepsVerified', 'IsVerified', 'exploitStepsVerified', 'isVerified'));
  return inExploitKit || publiclyDisclosed || verified ? { inExploitKit, publiclyDisclosed, verified } : NO_EXPLOIT;
}

/** One string per digest, however many records name it. */
const DIGESTS = new Map<string, string>();
function internDigest(value: string | undefined): string | undefined {
  if (!value) return value;
  const lower = value.toLowerCase();
  let known = DIGESTS.get(lower);
  if (!known) DIGESTS.set(lower, (known = lower));
  return known;
}

/**
 * One copy of values that repeat across findings: publication dates here, CVSS lists below. An image with tens of
 * thousands of findings has few distinct ones. Findings are read-only once made, so shared CVSS lists are frozen.
 */
const SHARED_TEXT = new Map<string, string>();
function shared(value: string | undefined): string | undefined {
  if (value === undefined) return value;
  let known = SHARED_TEXT.get(value);
  if (known === undefined) SHARED_TEXT.set(value, (known = value));
  return known;
}

const NO_CVSS: Cvss[] = Object.freeze([]) as unknown as Cvss[];
const SHARED_CVSS = new Map<string, Cvss[]>();
function sharedCvss(list: Cvss[]): Cvss[] {
  if (!list.length) return NO_CVSS;
  let key = '';
  for (const c of list) key += `${c.version}\u0000${c.base}\u0000${c.vector ?? '\u0001'}\u0000`;
  let known = SHARED_CVSS.get(key);
  if (!known) {
    known = Object.freeze(list.map((c) => Object.freeze({ version: c.version, base: c.base, vector: c.vector }))) as unknown as Cvss[];
    SHARED_CVSS.set(key, known);
  }
  return known;
}

/**
 * A finding of a vulnerability, made with one object literal so that all findings share one hidden class: built
 * by spreading a base object, each of tens of thousands of findings carried a shape of its own.
 */
function vulnerability(
  id: string, sev: { severity: Severity; reported?: string }, cvss: Cvss[], pkg: string, installedVersion: string,
  fixedVersion: string | undefined, fixStatus: FixStatus, exploitDetails: Finding['exploit'], published: string | undefined,
  description: string | undefined, digest: string, model: DataModel,
): Finding {
  return {
    id, severity: sev.severity, reportedSeverity: sev.reported, cvss: sharedCvss(cvss), package: pkg, installedVersion, fixedVersion, fixStatus,
    exploit: exploitDetails, published: shared(published), description, digest, model,
  };
}

/** Which data model a record belongs to, from its type; undefined for anything else. */
export function modelOf(record: unknown): DataModel | undefined {
  const type = text(prop(record, 'type', 'Type'))?.toLowerCase();
  if (type === 'microsoft.security/assessments') return 'assessments';
  if (type === 'microsoft.security/assessments/subassessments') return 'subAssessments';
  return undefined;
}

/** Reads one Resource Graph row of either model. Rows of other types give undefined. */
export function readRecord(record: unknown): RecordFacts | undefined {
  const model = modelOf(record);
  if (!model) return undefined;
  return model === 'assessments' ? readAssessment(record) : readSubAssessment(record);
}

function readAssessment(record: unknown): RecordFacts {
  const props = prop(record, 'properties', 'Properties');
  const image = path(props, 'resourceAdditionalData|ResourceAdditionalData');
  const digest = internDigest(text(prop(image, 'Digest', 'digest', 'imageDigest')));
  const pushedAt = time(prop(image, 'LastPushedToRegistryUTC', 'lastPushedToRegistryUtc', 'lastPushedToRegistryUTC'))
    ?? time(path(image, 'RepositoryDetails|repositoryDetails', 'LastPushedToRegistryUTC|lastPushedToRegistryUtc|lastPushedToRegistryUTC'));
  const generatedAt = time(prop(props, 'timeGenerated', 'TimeGenerated'))
    ?? time(path(props, 'status|Status', 'statusChangeDate|StatusChangeDate'))
    ?? time(path(props, 'status|Status', 'firstEvaluationDate|FirstEvaluationDate'));
  const statusCode = text(path(props, 'status|Status', 'code|Code')) ?? 'Unknown';
  const facts: RecordFacts = { model: 'assessments', digest, statusCode, generatedAt, pushedAt, findings: [] };
  if (statusCode.toLowerCase() !== 'unhealthy') return facts;

  const data = path(props, 'additionalData|AdditionalData');
  // The scanner's own copy of versions and fix status, read only when the record's top level lacks them.
  let scannerBag: Bag | undefined | null = null;
  const scanner = () => {
    if (scannerBag === null) {
      const scanners = asBag(prop(data, 'ScannersDetails', 'scannersDetails'));
      scannerBag = scanners ? asBag(Object.values(scanners)[0]) : undefined;
    }
    return scannerBag;
  };
  const pkg = text(prop(data, 'SoftwareName', 'softwareName', 'PackageName', 'packageName')) ?? text(prop(props, 'displayName', 'DisplayName')) ?? '(unknown package)';
  const installed = list(prop(data, 'DetectedSoftwareVersions', 'detectedSoftwareVersions') ?? prop(scanner(), 'DetectedSoftwareVersions', 'detectedSoftwareVersions'))
    .map(text).filter(Boolean).join(', ');
  const recordFixed = text(prop(data, 'FixedVersion', 'fixedVersion')) ?? text(prop(scanner(), 'FixedVersion', 'fixedVersion'));
  const recordFixStatus = prop(data, 'FixStatus', 'fixStatus') ?? prop(scanner(), 'FixStatus', 'fixStatus');
  const recordSeverity = path(props, 'metadata|Metadata', 'severity|Severity') ?? path(props, 'status|Status', 'severity|Severity');
  const cves = list(prop(data, 'CvesDetails', 'cvesDetails', 'Cves', 'cves'));
  const installedVersion = installed || '(unknown)';
  const findingDigest = digest ?? '';
  if (cves.length === 0) {
    const sev = normaliseSeverity(recordSeverity);
    facts.findings.push({
      package: pkg, installedVersion, digest: findingDigest, model: 'assessments',
      id: (text(prop(props, 'displayName', 'DisplayName')) ?? pkg).toUpperCase(), severity: sev.severity, reportedSeverity: sev.reported,
      cvss: NO_CVSS, fixedVersion: recordFixed, fixStatus: normaliseFixStatus(recordFixStatus, recordFixed),
      exploit: NO_EXPLOIT,
    });
    return facts;
  }
  for (const cve of cves) {
    const id = text(prop(cve, 'CveId', 'cveId', 'Id', 'id'));
    if (!id) continue;
    // A CVE without its own severity takes the recommendation's; one with "Unknown" or "" stays Unknown.
    const own = prop(cve, 'Severity', 'severity');
    const sev = normaliseSeverity(own === undefined || own === null ? recordSeverity : own);
    const fixed = text(prop(cve, 'FixedVersion', 'fixedVersion')) ?? recordFixed;
    facts.findings.push(vulnerability(
      id.toUpperCase(), sev, normaliseCvss(prop(cve, 'Cvss', 'cvss')), pkg, installedVersion, fixed,
      normaliseFixStatus(prop(cve, 'FixStatus', 'fixStatus') ?? recordFixStatus, fixed),
      exploit(prop(cve, 'ExploitabilityDetails', 'exploitabilityDetails', 'ExploitabilityAssessment', 'exploitabilityAssessment')),
      text(prop(cve, 'PublishedDate', 'publishedDate')), brief(text(prop(cve, 'Description', 'description'))), findingDigest, 'assessments',
    ));
  }
  return facts;
}

function readSubAssessment(record: unknown): RecordFacts {
  const props = prop(record, 'properties', 'Properties');
  const data = path(props, 'additionalData|AdditionalData');
  const artifact = prop(data, 'artifactDetails', 'ArtifactDetails');
  const vuln = prop(data, 'vulnerabilityDetails', 'VulnerabilityDetails');
  const software = prop(data, 'softwareDetails', 'SoftwareDetails');
  const resourceId = text(path(props, 'resourceDetails|ResourceDetails', 'id|Id'));
  const digest = internDigest(text(prop(artifact, 'digest', 'Digest')) ?? /sha256:[0-9a-f]{64}/i.exec(resourceId ?? '')?.[0]);
  const statusCode = text(path(props, 'status|Status', 'code|Code')) ?? 'Unknown';
  const facts: RecordFacts = {
    model: 'subAssessments', digest, statusCode,
    generatedAt: time(prop(props, 'timeGenerated', 'TimeGenerated')),
    pushedAt: time(prop(artifact, 'lastPushedToRegistryUTC', 'LastPushedToRegistryUTC', 'lastPushedToRegistryUtc', 'lastPublishedToRegistryUTC')),
    findings: [],
  };
  if (statusCode.toLowerCase() !== 'unhealthy') return facts;
  const id = text(prop(vuln, 'cveId', 'CveId')) ?? text(prop(props, 'id', 'Id')) ?? text(prop(props, 'displayName', 'DisplayName')) ?? '(unknown)';
  const own = prop(vuln, 'severity', 'Severity');
  const sev = normaliseSeverity(own === undefined || own === null ? path(props, 'status|Status', 'severity|Severity') : own);
  const cvss = normaliseCvss(prop(vuln, 'cvss', 'Cvss'));
  const v30 = number(prop(data, 'cvssV30Score', 'CvssV30Score'));
  if (v30 !== undefined && !cvss.some((c) => c.version.startsWith('3'))) cvss.push({ version: '3.0', base: v30 });
  const fixed = text(prop(software, 'fixedVersion', 'FixedVersion'));
  facts.findings.push(vulnerability(
    id.toUpperCase(), sev, cvss,
    text(prop(software, 'packageName', 'PackageName')) ?? '(unknown package)',
    text(prop(software, 'version', 'Version')) ?? '(unknown)',
    fixed, normaliseFixStatus(prop(software, 'fixStatus', 'FixStatus'), fixed),
    exploit(prop(vuln, 'exploitabilityAssessment', 'ExploitabilityAssessment', 'exploitabilityDetails')),
    text(prop(vuln, 'publishedDate', 'PublishedDate')), brief(text(prop(props, 'description', 'Description'))),
    digest ?? '', 'subAssessments',
  ));
  return facts;
}

/** Whether a finding has a fix: a fix status that says so, or a fixed version when the status is unknown. */
export function isFixable(f: Finding): boolean {
  return f.fixStatus === 'FixAvailable' || (f.fixStatus === 'Unknown' && !!f.fixedVersion);
}

/**
 * The same vulnerability in the same package and version of the same digest reported twice counts once (the more
 * severe report wins, in the place of the first). Keys are kept per digest, so no key repeats the digest; a list
 * without repeats is handed back as it is.
 */
export function dedupe(findings: Finding[]): Finding[] {
  const byDigest = new Map<string, Map<string, Finding>>();
  const key = (f: Finding) => `${f.id}|${f.package}|${f.installedVersion}`;
  let repeats = 0;
  for (const f of findings) {
    let seen = byDigest.get(f.digest);
    if (!seen) byDigest.set(f.digest, (seen = new Map()));
    const k = key(f);
    const prev = seen.get(k);
    if (prev) repeats++;
    if (!prev || SEVERITY_ORDER.indexOf(f.severity) < SEVERITY_ORDER.indexOf(prev.severity)) seen.set(k, f);
  }
  if (!repeats) return findings;
  const out: Finding[] = [];
  for (const f of findings) {
    const seen = byDigest.get(f.digest)!;
    const k = key(f);
    const kept = seen.get(k);
    if (kept) {
      out.push(kept);
      seen.delete(k);
    }
  }
  return out;
}
