/** A `WWW-Authenticate` challenge of a registry: `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`. */
export interface Challenge {
  scheme: 'bearer' | 'basic';
  realm?: string;
  service?: string;
  /** Space-separated scopes the registry asked for, split. */
  scopes: string[];
  error?: string;
}

export function parseChallenge(header: string | null | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2].matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[p[1].toLowerCase()] = (p[2] ?? p[3]).replace(/\\(.)/g, '$1');
  }
  return {
    scheme,
    realm: params.realm,
    service: params.service,
    scopes: (params.scope ?? '').split(' ').filter(Boolean),
    error: params.error,
  };
}
