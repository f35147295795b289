import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { HttpError, httpRetryVerdict, jsonObject, send } from './http';
import { retry } from './retry';

/** How the application proves who it is: its client secret, or a signed assertion (a federated token). */
export type ClientProof = { clientSecret: string } | { assertion: () => Promise<string> };

export interface EntraClient {
  /** e.g. `https://login.microsoftonline.com/`, with its trailing slash. */
  authorityHost: string;
  tenantId: string;
  clientId: string;
  proof: ClientProof;
  /** Called before each wait between attempts. */
  onRetry?: (reason: string, delayMs: number) => void;
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** A token is asked for again this long before it expires (as MSAL does), or at half its life if it is short. */
const REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * An application's token by the OAuth2 client-credentials grant: one POST to `<authority>/<tenant>/oauth2/v2.0/token`
 * through the project's HTTP layer (the agent's proxy and CA, timeouts, retries of 429/5xx and dropped connections).
 * It covers the service principal with a secret and workload identity federation, the schemes a pipeline uses
 * most, without @azure/identity and MSAL, whose loading costs more than the rest of a task's start. Each scope's
 * token is kept until shortly before it expires; callers asking at the same time share one request.
 */
export class EntraClientCredential implements TokenCredential {
  private readonly tokens = new Map<string, { token: Promise<AccessToken>; refreshAt: number }>();

  constructor(private readonly client: EntraClient) {}

  getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    const scope = [scopes].flat().join(' ');
    const cached = this.tokens.get(scope);
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    // Callers share a request, so one caller's abort signal does not stop it; its timeouts and retries are bounded.
    const token = this.request(scope);
    // Until it is answered the request itself is shared; a failed one is not kept.
    const entry = { token, refreshAt: Number.POSITIVE_INFINITY };
    this.tokens.set(scope, entry);
    token.then((t) => {
      const lifetime = t.expiresOnTimestamp - Date.now();
      entry.refreshAt = Date.now() + Math.max(0, lifetime - Math.min(REFRESH_MARGIN_MS, lifetime / 2));
    }, () => {
      if (this.tokens.get(scope) === entry) this.tokens.delete(scope);
    });
    return token;
  }

  private async request(scope: string): Promise<AccessToken> {
    const { authorityHost, tenantId, clientId, proof, onRetry } = this.client;
    const url = new URL(`${encodeURIComponent(tenantId)}/oauth2/v2.0/token`, authorityHost);
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope });
    if ('clientSecret' in proof) {
      form.set('client_secret', proof.clientSecret);
    } else {
      // Outside the retries below: the assertion's source retries its own failures.
      form.set('client_assertion_type', ASSERTION_TYPE);
      form.set('client_assertion', await proof.assertion());
    }
    const body = form.toString();
    return retry(async () => {
      const res = await send(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)), accept: 'application/json' },
      });
      const text = await res.text();
      const answer = jsonObject(text);
      if (res.status >= 400) {
        // Entra's own words (AADSTS code and description) are what the caller explains; they hold no secret.
        const description = typeof answer?.error_description === 'string' ? answer.error_description : undefined;
        throw new HttpError(res.status, `the token endpoint ${url.origin}${url.pathname}`, {
          retryAfter: res.header('retry-after'), body: text, ...(description ? { message: description } : {}),
        });
      }
      const token = answer?.access_token;
      const expiresIn = Number(answer?.expires_in);
      if (typeof token !== 'string' || !token || !Number.isFinite(expiresIn)) {
        throw new Error(`the token endpoint ${url.origin}${url.pathname} answered ${res.status} without an access token and its lifetime`);
      }
      return { token, expiresOnTimestamp: Date.now() + expiresIn * 1000, tokenType: 'Bearer' };
    }, httpRetryVerdict, { onRetry: ({ reason, delayMs }) => onRetry?.(reason, delayMs) });
  }
}
