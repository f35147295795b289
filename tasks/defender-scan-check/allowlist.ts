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
  if (doc === null || doc === undefined) fail('is empty');
  let items: unknown = doc;
  if (!Array.isArray(doc)) {
    if (typeof doc === 'object' && Object.keys(doc as object).length === 1 && Array.isArray((doc as Record<string, unknown>).allowlist)) {
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
    const expires = e.expires instanceof Date ? e.expires.toISOString().slice(0, 10) : typeof e.expires === 'string' ? e.expires.trim() : '';
    if (!expires) fail(`has ${where} (${id}) without 'expires'`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(expires) || Number.isNaN(Date.parse(`${expires}T00:00:00Z`)) || new Date(`${expires}T00:00:00Z`).toISOString().slice(0, 10) !== expires) {
      fail(`has ${where} (${id}) whose 'expires' '${expires}' is not a date of the form YYYY-MM-DD`);
    }
    if (e.package !== undefined && (typeof e.package !== 'string' || !e.package.trim())) fail(`has ${where} (${id}) whose 'package' is not a package name`);
    return { id: id.toUpperCase(), package: typeof e.package === 'string' ? e.package.trim() : undefined, reason, expires };
  });
  return { source, entries };
}
