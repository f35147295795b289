import { UserError } from '../errors';

/**
 * What a registry's refusal means for the pipeline author: the distribution spec's error codes (NAME_UNKNOWN,
 * NAME_INVALID, DENIED, …) and statuses turned into messages that name the registry, the repository and the fix.
 */
export function registryStatusError(registry: string, status: number, method: string, path: string, body: string): Error {
  const repository = /^\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)\//.exec(path)?.[1];
  const where = repository ? `${registry}/${repository}` : registry;
  const codes = registryErrorCodes(body);
  if (status === 401) return new UserError(`The registry ${registry} requires authentication for ${where} and the given credentials were not accepted. Check the registry service connection or the identity's access.`);
  if (status === 405) {
    return new UserError(`The registry ${registry} does not allow ${method} on ${where} (405${codes.length ? ` ${codes.join(', ')}` : ''}). On Azure Container Registry a locked tag or manifest (write disabled) cannot be changed: unlock it, or promote under another tag.`);
  }
  if (status === 403 || codes.includes('DENIED')) return new UserError(`The registry ${registry} denied ${method} on ${where}: the credentials lack permission (pull to read, push to write).`);
  if (codes.includes('NAME_INVALID')) return new UserError(`The registry ${registry} refuses the repository name '${repository}'. Use lower-case letters, digits and separators.`);
  if (codes.includes('NAME_UNKNOWN')) return new UserError(`The repository ${where} does not exist.`);
  return new Error(`${method} ${where}: HTTP ${status}${codes.length ? ` (${codes.join(', ')})` : ''}`);
}

/** The `errors[].code` values of a distribution-spec error body; none when the body is not one. */
export function registryErrorCodes(body: string): string[] {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: string }[] };
    return (parsed.errors ?? []).map((e) => e.code ?? '').filter(Boolean);
  } catch {
    return [];
  }
}
