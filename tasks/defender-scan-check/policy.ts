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
