import { UserError } from '../errors';
import { HttpError, NetworkError, send, type HttpResponse, type SendOptions } from '../http';
import { isLoopbackRegistry, registryApiHost } from '../imageReference';
import type { TaskLog } from '../log';
import { parseChallenge, type Challenge } from './challenge';
import { isDroppedConnection, isTransientStatus } from '../retry';

/**
 * How requests reach one registry: its scheme (found once), and `send` on the shared HTTP layer (pools, proxy, CA),
 * with the authorization header kept to the registry's own host.
 */
export class RegistryTransport {
  private base?: Promise<string>;
  /** The challenge of the registry's `/v2/` probe, when one was made: its token server, known before any request. */
  challenge?: Challenge;

  constructor(readonly registry: string, private readonly log: TaskLog) {}

  /**
   * `https://host`, or `http://host` for a loopback registry that does not speak TLS (as Docker does). The scheme
   * holds for the registry's host only, not for its token server or blob storage (go-containerregistry's
   * schemer.go). Found out once, and shared: requests that start together all wait for the one answer instead of
   * taking HTTPS while it is not known yet.
   */
  baseUrl(): Promise<string> {
    return (this.base ??= this.findBaseUrl());
  }

  private async findBaseUrl(): Promise<string> {
    const host = registryApiHost(this.registry);
    if (isLoopbackRegistry(host)) {
      try {
        const res = await send(`https://${host}/v2/`, { timeoutMs: 15_000 });
        if (res.status === 401) this.challenge = parseChallenge(res.header('www-authenticate'));
        await res.discard();
      } catch (err) {
        if (/EPROTO|wrong version number|WRONG_VERSION_NUMBER|packet length too long/i.test(chain(err))) {
          this.log.debug(`${this.registry} does not answer HTTPS; using plain HTTP on loopback`);
          return `http://${host}`;
        }
      }
    }
    return `https://${host}`;
  }

  /**
   * One request to a path of the registry (or a full URL it gave, such as an upload location). `authorization` is
   * sent only to the registry's host; redirects to other hosts (blob storage) go without it.
   */
  async send(method: string, pathOrUrl: string, options: SendOptions & { authorization?: string } = {}): Promise<HttpResponse> {
    const base = await this.baseUrl();
    const url = new URL(/^https?:\/\//.test(pathOrUrl) ? pathOrUrl : `${base}${pathOrUrl}`);
    const headers = { ...options.headers };
    if (options.authorization && url.host === new URL(base).host) headers.authorization = options.authorization;
    try {
      return await send(url, { ...options, method, headers });
    } catch (err) {
      if (isDroppedConnection(err)) throw err;
      throw new UserError(`Cannot reach the registry ${this.registry} (${err instanceof NetworkError ? err.message : String(err)}). Check the registry name and that the agent can reach it.`, { cause: err });
    }
  }
}

/** A 408, 429 or 5xx answer as an HttpError (worth another try); other statuses pass. */
export async function transientStatus(res: HttpResponse, what: string): Promise<HttpResponse> {
  if (!isTransientStatus(res.status)) return res;
  throw new HttpError(res.status, what, { retryAfter: res.header('retry-after'), body: await res.text().catch(() => '') });
}

function chain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++, e = (e as { cause?: unknown }).cause) {
    parts.push(`${(e as { code?: string }).code ?? ''} ${e instanceof Error ? e.message : String(e)}`);
  }
  return parts.join(' | ');
}
