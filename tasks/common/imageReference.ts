import { UserError } from './errors';

/**
 * A parsed container image reference, following the grammar of the distribution project
 * (github.com/distribution/reference) and Docker's defaults for Docker Hub.
 */
export interface ImageReference {
  /** Registry host with optional port, e.g. `contoso.azurecr.io`, `127.0.0.1:5002`, `docker.io`. */
  readonly registry: string;
  /** Repository path without the registry, e.g. `shop/web`, `library/nginx`. */
  readonly repository: string;
  readonly tag?: string;
  /** `algorithm:hex`, e.g. `sha256:…`. */
  readonly digest?: string;
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[0-9a-fA-F:.]+\]$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const DIGEST_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const MAX_NAME_LENGTH = 255;

const FORMS = 'Use registry/repository:tag or registry/repository@sha256:<64 hex digits>';

/** Parses `text` strictly; `what` names the input in the error, e.g. "Input 'sourceImage'". */
export function parseImageReference(text: string, what = 'The image reference'): ImageReference {
  const fail = (why: string): never => {
    throw new UserError(`${what} '${text}' is not a valid image reference: ${why}. ${FORMS}.`);
  };
  const input = text.trim();
  if (!input) fail('it is empty');
  if (/\s/.test(input)) fail('it contains white space');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    validateDigest(digest, fail);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`the tag '${tag}' may hold only letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')`);
  }

  const components = rest.split('/');
  let registry = DOCKER_HUB;
  if (components.length > 1 && looksLikeRegistry(components[0])) {
    registry = components.shift()!;
    validateRegistry(registry, fail);
  }
  if (components.some((c) => c === '')) fail('the repository path has an empty component');
  for (const c of components) {
    if (!PATH_COMPONENT.test(c)) {
      fail(/[A-Z]/.test(c)
        ? `the repository component '${c}' has upper-case letters; repository names are lower case`
        : `the repository component '${c}' may hold only lower-case letters, digits and single separators ('.', '_', '__', '-')`);
    }
  }
  if (registry === DOCKER_HUB && components.length === 1) components.unshift('library');
  const repository = components.join('/');
  if (`${registry}/${repository}`.length > MAX_NAME_LENGTH) fail(`the name is longer than ${MAX_NAME_LENGTH} characters`);
  return { registry, repository, tag, digest };
}

/** Whether a string is a valid tag: letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'. */
export function isTag(value: string): boolean {
  return TAG.test(value);
}

/** Whether a string is a digest of the form `sha256:<64 hex>`. */
export function isDigest(value: string): boolean {
  try {
    validateDigest(value, (why) => { throw new Error(why); });
    return true;
  } catch {
    return false;
  }
}

function validateDigest(digest: string, fail: (why: string) => never): void {
  const m = DIGEST.exec(digest);
  if (!m) fail(`the digest '${digest}' is not of the form algorithm:hex`);
  const expected = DIGEST_HEX_LENGTH[m![1]];
  if (expected !== undefined && !new RegExp(`^[a-f0-9]{${expected}}$`).test(m![2])) {
    fail(`the ${m![1]} digest must have ${expected} lower-case hex digits`);
  }
}

function looksLikeRegistry(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || /[A-Z]/.test(component);
}

function validateRegistry(registry: string, fail: (why: string) => never): void {
  const portAt = registry.startsWith('[') ? registry.indexOf(']:') + 1 : registry.lastIndexOf(':');
  const host = portAt > 0 ? registry.slice(0, portAt) : registry;
  const port = portAt > 0 ? registry.slice(portAt + 1) : undefined;
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) > 0 && Number(port) < 65536)) {
    fail(`the registry port '${port}' is not a port number`);
  }
  if (IPV6_HOST.test(host)) return;
  if (!host.split('.').every((c) => DOMAIN_COMPONENT.test(c))) fail(`the registry host '${host}' is not a host name`);
}

/** `registry/repository[:tag][@digest]`, the canonical text of a reference. */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The host that serves the registry API: Docker Hub's name differs from its API host. */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB || registry === 'index.docker.io' ? DOCKER_HUB_API_HOST : registry;
}

/** Whether a registry is on this machine (where plain HTTP may be used when HTTPS is not answered). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.split(':')[0];
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
