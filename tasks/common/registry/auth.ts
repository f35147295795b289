import type { TokenCredential } from '@azure/identity';
import { UserError } from '../errors';
import { httpRetryVerdict, type HttpResponse } from '../http';
import type { TaskLog } from '../log';
import { retry } from '../retry';
import type { Challenge } from './challenge';
import { transientStatus, type RegistryTransport } from './transport';

/** How to authenticate to a registry. */
export type RegistryCredentials =
  | { kind: 'anonymous' }
  | { kind: 'basic'; username: string; password: string; source: string }
  /** ACR with Microsoft Entra ID: an Entra token exchanged at the registry for an ACR refresh token. */
  | { kind: 'entra'; credential: TokenCredential; tenantId: string; scope: string; source: string };

/**
 * Answers a registry's challenges: basic credentials, or bearer tokens from the challenge's realm, cached per set
 * of scopes, with concurrent requests for one scope set sharing one token request; for ACR with Entra ID, the
 * Entra token is first exchanged at /oauth2/exchange for an ACR refresh token (once per client).
 */
export class RegistryAuth {
  private readonly tokens = new Map<string, string>();
  private readonly pending = new Map<string, Promise<string>>();
  private basic?: string;
  /** The registry's last bearer challenge: tokens for new scopes are asked for with it before a request is sent. */
  private bearerChallenge?: Challenge;
  private acrRefreshToken?: string;

  constructor(private readonly registry: string, private readonly credentials: RegistryCredentials, private readonly transport: RegistryTransport, private readonly log: TaskLog) {
    if (credentials.kind === 'basic') {
      log.secret(credentials.password);
      log.secret(basicValue(credentials.username, credentials.password));
    }
  }

  /**
   * The authorization header for these scopes. Once the registry has challenged us (its `/v2/` probe or any 401),
   * a token for scopes not seen yet is obtained before the request is sent, so only the first request of a copy
   * meets a 401, and a request whose body cannot be sent twice (a streamed upload) goes out authorized.
   */
  async header(scopes: string[]): Promise<string | undefined> {
    const key = scopeKeyOf(scopes);
    await (this.pending.get(key) ?? covering(this.pending, scopes))?.catch(() => undefined);
    const token = this.tokens.get(key) ?? covering(this.tokens, scopes);
    if (!token && !this.basic) {
      await this.transport.baseUrl();
      const challenge = this.bearerChallenge ?? this.transport.challenge;
      if (challenge) return this.answer(challenge, scopes);
    }
    return token ? `Bearer ${token}` : this.basic;
  }

  /**
   * Drops the token that served these scopes (it expired mid-copy), whether asked for them or covering them, so
   * the next request meets the challenge again.
   */
  forget(scopes: string[]): void {
    for (const key of [...this.tokens.keys()]) if (covers(key, scopes)) this.tokens.delete(key);
  }

  /**
   * Obtains a header for a challenge: a token for our scopes (cached under them) plus `alsoAsk`, the scopes the
   * challenge itself named; undefined when there is nothing to present. `presented` is the header the refused
   * request carried: a token for these scopes that came while it was on its way is used instead of a new one.
   */
  async answer(challenge: Challenge, scopes: string[], alsoAsk: string[] = [], presented?: string): Promise<string | undefined> {
    const creds = this.credentials;
    if (challenge.scheme === 'basic') {
      if (creds.kind !== 'basic') return undefined;
      this.basic = basicValue(creds.username, creds.password);
      return this.basic;
    }
    this.bearerChallenge = challenge;
    if (!challenge.realm) throw new Error(`the registry ${this.registry} sent a bearer challenge without a realm`);
    const key = scopeKeyOf(scopes);
    const known = this.tokens.get(key);
    if (known && `Bearer ${known}` !== presented) return `Bearer ${known}`;
    let pending = this.pending.get(key);
    if (!pending) {
      const all = [...new Set([...scopes, ...alsoAsk])];
      pending = this.fetchToken(challenge.realm, challenge.service ?? this.registry, all).then((token) => {
        this.log.secret(token);
        this.tokens.set(key, token);
        return token;
      }).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return `Bearer ${await pending}`;
  }

  private async fetchToken(realm: string, service: string, scopes: string[]): Promise<string> {
    const creds = this.credentials;
    let res: HttpResponse;
    if (creds.kind === 'entra') {
      const refreshToken = await this.acrRefresh(realm, service, creds);
      const form = new URLSearchParams({ grant_type: 'refresh_token', service, refresh_token: refreshToken });
      for (const s of scopes) form.append('scope', s);
      res = await this.tokenRequest(realm, 'POST', form.toString());
    } else {
      const url = new URL(realm);
      url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      res = await this.tokenRequest(url.toString(), 'GET', undefined, creds.kind === 'basic' ? basicValue(creds.username, creds.password) : undefined);
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      const who = creds.kind === 'anonymous' ? 'anonymous access' : `the credentials of ${creds.source}`;
      throw new UserError(`The registry ${this.registry} refused ${who} (${res.status}). ${creds.kind === 'anonymous' ? 'Give a registry service connection or an Azure subscription with access to it.' : 'Check the user name and password or the identity\'s role on the registry.'}`);
    }
    if (res.status >= 400) throw new Error(`token request to ${realm} answered ${res.status}`);
    const body = JSON.parse(text) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new Error(`token request to ${realm} returned no token`);
    return token;
  }

  /** Entra access token → ACR refresh token, once per client (ACR's /oauth2/exchange). */
  private async acrRefresh(realm: string, service: string, creds: Extract<RegistryCredentials, { kind: 'entra' }>): Promise<string> {
    if (this.acrRefreshToken) return this.acrRefreshToken;
    const entraToken = await creds.credential.getToken(creds.scope);
    if (!entraToken) throw new Error('no Entra token');
    // Registered before it is sent, so nothing that prints the request can show it.
    this.log.secret(entraToken.token);
    const form = new URLSearchParams({ grant_type: 'access_token', service, tenant: creds.tenantId, access_token: entraToken.token });
    const res = await this.tokenRequest(`${new URL(realm).origin}/oauth2/exchange`, 'POST', form.toString());
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      throw new UserError(`The registry ${this.registry} refused the Entra token of ${creds.source} (${res.status}). Give the identity the AcrPull role (AcrPush to write) on the registry.`);
    }
    if (res.status >= 400) throw new Error(`ACR token exchange at ${this.registry} answered ${res.status}`);
    const refresh = (JSON.parse(text) as { refresh_token?: string }).refresh_token;
    if (!refresh) throw new Error(`ACR token exchange at ${this.registry} returned no refresh token`);
    this.log.secret(refresh);
    this.acrRefreshToken = refresh;
    return refresh;
  }

  /** A request to the token server (its own host: the registry's scheme rule does not apply), 429/5xx retried. */
  private tokenRequest(url: string, method: 'GET' | 'POST', form?: string, authorization?: string): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    if (authorization) headers.authorization = authorization;
    return retry(async () => transientStatus(await this.transport.send(method, url, { headers, body: form }), `token request to ${new URL(url).host}`), httpRetryVerdict);
  }
}

/**
 * The entry (a token, or a token request on its way) asked for these scopes or more: a token for `pull,push` on a
 * repository serves its pulls too, so a copy needs one token per registry, not one per kind of request.
 */
function covering<T>(entries: Map<string, T>, scopes: string[]): T | undefined {
  for (const [key, value] of entries) if (covers(key, scopes)) return value;
  return undefined;
}

/** Whether a token asked for under `key` (scopes joined by spaces) grants everything `scopes` ask for. */
function covers(key: string, scopes: string[]): boolean {
  const held = new Set(key.split(' ').flatMap(grants));
  return scopes.flatMap(grants).every((g) => held.has(g));
}

/** `repository:shop/web:pull,push` → `repository:shop/web:pull`, `repository:shop/web:push`. */
function grants(scope: string): string[] {
  const at = scope.lastIndexOf(':');
  return scope.slice(at + 1).split(',').map((action) => `${scope.slice(0, at)}:${action}`);
}

/** The key of a token in the cache: the set of scopes it was asked for. */
export function scopeKeyOf(scopes: string[]): string {
  return [...new Set(scopes)].sort().join(' ');
}

function basicValue(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
