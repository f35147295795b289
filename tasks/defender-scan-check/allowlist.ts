import { parse as parseYaml, YAMLParseError } from 'yaml';
import { UserError } from '../common/errors';
import type { Allowlist } from './policy';

// A module of its own: the YAML parser is loaded only for a run that has an allowlist.

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

