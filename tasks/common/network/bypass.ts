/**
 * Which URLs go around the proxy. Two dialects, because two kinds of administrator write them:
 * - the agent's `Agent.ProxyBypassList`: regular expressions that azure-pipelines-task-lib tests, unanchored and
 *   case-insensitive, against the whole URL (`getHttpProxyConfiguration`, node/task.ts). An entry that is not a valid
 *   JavaScript regular expression (the agent turns `no_proxy=*.corp.example.com` into `*\.corp\.example\.com`, which
 *   throws "Nothing to repeat": azure-pipelines-agent #3790, #4718) is matched as the host pattern it was meant to be;
 * - `NO_PROXY` of the environment, as curl and undici read it: `*` for everything, otherwise host names with an
 *   optional port, where a leading `.` or `*.` matches the domain and every host under it.
 * Nothing else is bypassed: not even loopback, so what the administrator configured is what happens.
 */

export type BypassMatcher = (url: URL) => boolean;

/** One agent bypass entry; `invalid` is told about an entry that is not a regular expression (once, by the caller). */
export function agentBypassEntry(entry: string, invalid: (entry: string, reason: string) => void): BypassMatcher | undefined {
  const trimmed = entry.trim();
  if (!trimmed) return undefined;
  try {
    const re = new RegExp(trimmed, 'i');
    return (url) => re.test(url.href);
  } catch (err) {
    invalid(trimmed, err instanceof Error ? err.message : String(err));
    return hostPattern(trimmed.replace(/\\(.)/g, '$1'));
  }
}

/** The agent's bypass list (a JSON array of regular expressions) as one matcher. */
export function agentBypass(listJson: string | undefined, invalid: (entry: string, reason: string) => void): BypassMatcher {
  const entries = parseList(listJson);
  return any(entries.map((e) => agentBypassEntry(e, invalid)));
}

/** `NO_PROXY` / `no_proxy` of the environment as one matcher. */
export function noProxyBypass(value: string | undefined): BypassMatcher {
  const entries = (value ?? '').split(/[\s,]+/).map((e) => e.trim().toLowerCase()).filter(Boolean);
  if (entries.includes('*')) return () => true;
  return any(entries.map((entry) => {
    const m = /^(.*?)(?::(\d+))?$/.exec(entry)!;
    const host = m[1].replace(/^\*?\./, '.').replace(/^\[|\]$/g, '');
    const port = m[2];
    return (url: URL) => {
      if (port && port !== effectivePort(url)) return false;
      const name = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
      return host.startsWith('.') ? name === host.slice(1) || name.endsWith(host) : name === host;
    };
  }));
}

/** A host name with `*` wildcards, matched whole against the URL's host name or host:port. */
function hostPattern(pattern: string): BypassMatcher {
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*');
  const re = new RegExp(`^${source}$`, 'i');
  return (url) => re.test(url.hostname) || re.test(url.host);
}

function parseList(listJson: string | undefined): string[] {
  if (!listJson?.trim()) return [];
  try {
    const parsed: unknown = JSON.parse(listJson);
    return Array.isArray(parsed) ? parsed.filter((e): e is string => typeof e === 'string') : [];
  } catch {
    // Not JSON: the entries one per line, as the agent's .proxybypass file holds them.
    return listJson.split(/\r?\n/);
  }
}

function any(matchers: (BypassMatcher | undefined)[]): BypassMatcher {
  const list = matchers.filter((m): m is BypassMatcher => !!m);
  return (url) => list.some((m) => m(url));
}

function effectivePort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : '80');
}
