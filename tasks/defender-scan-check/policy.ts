import { parse as parseYaml, YAMLParseError } from 'yaml';
import { UserError } from '../common/errors';
import { isFixable, SEVERITY_ORDER, type Finding, type Severity } from './findings';
import type { FailOnSeverity } from './options';

export interface AllowlistEntry {
  id: string;
  package?: string;
  reason: string;
  /** YYYY-MM-DD; the entry applies through the end of that day (UTC). */
  expires: string;
}

export interface Allowlist {
  source: string;
  entries: AllowlistEntry[];
}

export interface PolicyInput {
  failOnSeverity: FailOnSeverity;
  onlyFixable: boolean;
  allowlist?: Allowlist;
  now?: Date;
}

export interface AllowedFinding {
  finding: Finding;
  entry: AllowlistEntry;
}

export interface PolicyVerdict {
  /** Findings the policy counts (after onlyFixable and the allowlist). */
  counted: Finding[];
  /** Counted findings at or above the threshold. */
  failing: Finding[];
  allowlisted: AllowedFinding[];
  /** Findings left out because they have no fix (onlyFixable). */
  unfixable: Finding[];
  /** Unfixable Critical (or unknown-severity) findings that onlyFixable let through. */
  unfixableCritical: Finding[];
  expiredEntries: AllowlistEntry[];
  /** Expired entries that would have accepted a finding: those findings count again. */
  expiredMatches: AllowedFinding[];
  /** Counts by the severity the policy applies (Unknown counts as High). */
  counts: Record<'critical' | 'high' | 'medium' | 'low', number>;
}

const ENTRY_KEYS = new Set(['id', 'package', 'reason', 'expires']);

/** Parses an allowlist file. Anything malformed is an error that names the file and the entry, never an empty list. */
export function parseAllowlist(yamlText: string, source: string): Allowlist {
  const fail = (why: string): never => {
    throw new UserError(`Input 'allowlist': the file ${source} ${why}. Each entry needs 'id' (e.g. CVE-2024-6119), 'reason' and 'expires' (YYYY-MM-DD), and may name a 'package'.`);
  };
  let doc: unknown;
  try {
    doc = parseYaml(yamlText, { prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    fail(`is not valid YAML (${err instanceof YAMLParseError ? err.message.split('\n')[0] : String(err)})`);
  }
  // The YAML parser answers an empty document (or one of comments only) with null, never undefined.
  if (doc === null) fail('is empty');
  let items: unknown = doc;
  if (!Array.isArray(doc)) {
    // A lone text or number has no key 'allowlist' either: only the mapping { allowlist: [...] } passes.
    if (Object.keys(doc as object).length === 1 && Array.isArray((doc as Record<string, unknown>).allowlist)) {
      items = (doc as Record<string, unknown>).allowlist;
    } else {
      fail("must be a list of entries (or a mapping with one key 'allowlist' holding that list)");
    }
  }
  const entries = (items as unknown[]).map((item, i) => {
    const where = `entry ${i + 1}`;
    if (!item || typeof item !== 'object' || Array.isArray(item)) fail(`has ${where} that is not a mapping`);
    const e = item as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => !ENTRY_KEYS.has(k));
    if (unknown.length) fail(`has ${where} with unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}`);
    const id = typeof e.id === 'string' ? e.id.trim() : '';
    if (!id) fail(`has ${where} without an 'id'`);
    if (!/^[A-Za-z][A-Za-z0-9._:-]*$/.test(id)) fail(`has ${where} whose id '${id}' is not a vulnerability id`);
    const reason = typeof e.reason === 'string' ? e.reason.trim() : '';
    if (!reason) fail(`has ${where} (${id}) without a 'reason'`);
    // YAML 1.2's core schema has no timestamps: an unquoted 2026-01-31 is text, never a Date.
    const expires = typeof e.expires === 'string' ? e.expires.trim() : '';
    if (!expires) fail(`has ${where} (${id}) without 'expires'`);
    if (!isCalendarDay(expires)) {
      fail(`has ${where} (${id}) whose 'expires' '${expires}' is not a date of the form YYYY-MM-DD`);
    }
    if (e.package !== undefined && (typeof e.package !== 'string' || !e.package.trim())) fail(`has ${where} (${id}) whose 'package' is not a package name`);
    return { id: id.toUpperCase(), package: typeof e.package === 'string' ? e.package.trim() : undefined, reason, expires };
  });
  return { source, entries };
}

/**
 * Whether text is a day of the calendar written YYYY-MM-DD: Date reads it back as the same text (2026-02-30 comes
 * back as 2026-03-02, 2026-2-1 and 2026-02-01x not at all), and it starts with a digit, which leaves out the
 * extended years (+020000-01) that read back unchanged too.
 */
function isCalendarDay(text: string): boolean {
  const time = Date.parse(`${text}T00:00:00Z`);
  return /^\d/.test(text) && !Number.isNaN(time) && new Date(time).toISOString().slice(0, 10) === text;
}

/** Expired after the last millisecond of its day (UTC); an expiry that is no date never keeps an entry in force. */
export function isExpired(entry: AllowlistEntry, now: Date): boolean {
  return !(Date.parse(`${entry.expires}T23:59:59.999Z`) >= now.getTime());
}

function entryMatches(entry: AllowlistEntry, f: Finding): boolean {
  return entry.id === f.id && (!entry.package || entry.package.toLowerCase() === f.package.toLowerCase());
}

/** The severity the policy applies: Unknown is never taken as harmless, it counts as High. */
export function policySeverity(f: Finding): Exclude<Severity, 'Unknown'> {
  return f.severity === 'Unknown' ? 'High' : f.severity;
}

export function evaluatePolicy(findings: Finding[], policy: PolicyInput): PolicyVerdict {
  const now = policy.now ?? new Date();
  const entries = policy.allowlist?.entries ?? [];
  const active = entries.filter((e) => !isExpired(e, now));
  const expiredEntries = entries.filter((e) => isExpired(e, now));
  // The index of the lowest severity that fails; 'None' is no severity (-1), so nothing is at or above it.
  const threshold = (SEVERITY_ORDER as readonly string[]).indexOf(policy.failOnSeverity);
  const verdict: PolicyVerdict = {
    counted: [], failing: [], allowlisted: [], unfixable: [], unfixableCritical: [], expiredEntries, expiredMatches: [],
    counts: { critical: 0, high: 0, medium: 0, low: 0 },
  };
  for (const f of findings) {
    const entry = active.find((e) => entryMatches(e, f));
    if (entry) {
      verdict.allowlisted.push({ finding: f, entry });
      continue;
    }
    const expired = expiredEntries.find((e) => entryMatches(e, f));
    if (expired) verdict.expiredMatches.push({ finding: f, entry: expired });
    if (policy.onlyFixable && !isFixable(f)) {
      verdict.unfixable.push(f);
      // An unknown severity may be Critical: it is reported the same way rather than let through quietly.
      if (f.severity === 'Critical' || f.severity === 'Unknown') verdict.unfixableCritical.push(f);
      continue;
    }
    verdict.counted.push(f);
    const sev = policySeverity(f);
    verdict.counts[sev.toLowerCase() as keyof PolicyVerdict['counts']]++;
    if (SEVERITY_ORDER.indexOf(sev) <= threshold) verdict.failing.push(f);
  }
  const rank = (f: Finding) => SEVERITY_ORDER.indexOf(policySeverity(f)) * 100 - (f.cvss[0]?.base ?? 0);
  verdict.failing.sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id));
  return verdict;
}
