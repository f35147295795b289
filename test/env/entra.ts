import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { decodeJwt, isWithinLifetime, signJwt, verifyJwtSignature, type JwtClaims } from './jwt';
import { Exchange, Router, startHttpsServer, type RunningServer, type TlsMaterial } from './http';

/** An app registration (or managed identity) known to the emulated tenant. */
export interface EntraIdentity {
  name: string;
  clientId: string;
  objectId: string;
  clientSecret?: string;
  /** Certificate credential: PEM of the public certificate registered on the app. */
  certificatePem?: string;
  /** Federated credential: tokens from this issuer with this subject are accepted as client assertions. */
  federated?: { issuer: string; subject: string; audience: string };
  /** A managed identity, served through the IMDS-compatible endpoint. */
  managed?: boolean;
}

export interface AccessTokenClaims extends JwtClaims {
  aud: string;
  appid: string;
  oid: string;
  tid: string;
}

/** Azure's AADSTS error answer. */
function aadError(x: Exchange, status: number, error: string, code: number, description: string): void {
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\..*/, 'Z');
  const traceId = randomUUID();
  const correlationId = randomUUID();
  x.sendJson(status, {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
  });
}

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * The Microsoft Entra ID emulator: OpenID metadata, the v2.0 token endpoint for client secret, client certificate
 * and client assertion (federated) grants, and the IMDS token endpoint of managed identities. Access tokens are
 * RS256 JWTs signed by the environment, with audience and expiry, which the other emulators verify.
 */
export class EntraEmulator {
  readonly tenantId = randomUUID();
  private readonly identities = new Map<string, EntraIdentity>();
  /** Issuers of federated tokens and their signing keys (the ADO OIDC emulator registers itself). */
  private readonly trustedIssuers = new Map<string, string>();
  private readonly signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly kid = randomUUID();
  /** Access token lifetime; tests shorten it to exercise refreshes. */
  tokenLifetimeSeconds = 3600;
  /** Token requests served, for tests that count them. */
  readonly tokenRequests: { clientId: string; scope: string; grant: string }[] = [];
  /** Every access token the token endpoints served, in order: tests check that a task registered each as a secret. */
  readonly servedTokens: string[] = [];
  private server?: RunningServer;

  static async start(tls: TlsMaterial): Promise<EntraEmulator> {
    const entra = new EntraEmulator();
    const router = entra.routes();
    entra.server = await startHttpsServer('entra', tls, async (x) => {
      if (!(await router.handle(x))) x.sendJson(404, { error: 'not_found', error_description: `No route for ${x.method} ${x.path}` });
    });
    return entra;
  }

  get url(): string {
    return this.server!.url;
  }
  get faults() {
    return this.server!.faults;
  }
  get issuer(): string {
    return `https://sts.windows.net/${this.tenantId}/`;
  }

  addIdentity(identity: Omit<EntraIdentity, 'clientId' | 'objectId'> & { clientId?: string }): EntraIdentity {
    const full = { clientId: randomUUID(), objectId: randomUUID(), ...identity };
    this.identities.set(full.clientId, full);
    return full;
  }

  identity(name: string): EntraIdentity {
    const found = [...this.identities.values()].find((i) => i.name === name);
    if (!found) throw new Error(`no identity named ${name}`);
    return found;
  }

  trustIssuer(issuer: string, publicKeyPem: string): void {
    this.trustedIssuers.set(issuer, publicKeyPem);
  }

  /** Issues an access token as the token endpoint would (tests use it to call emulators directly). */
  issueAccessToken(identity: EntraIdentity, audience: string): { token: string; expiresIn: number } {
    const now = Math.floor(Date.now() / 1000);
    const claims: AccessTokenClaims = {
      aud: audience, iss: this.issuer, appid: identity.clientId, azp: identity.clientId, oid: identity.objectId,
      sub: identity.objectId, tid: this.tenantId, idtyp: 'app', exp: now + this.tokenLifetimeSeconds, ver: '1.0',
    };
    return { token: signJwt(claims, this.signingKey.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { kid: this.kid }), expiresIn: this.tokenLifetimeSeconds };
  }

  /**
   * Verifies an access token issued by this tenant for one of `audiences` (compared without trailing slashes).
   * Returns the claims, or why it is refused.
   */
  verifyAccessToken(token: string | undefined, audiences: string[]): { claims: AccessTokenClaims } | { error: string } {
    if (!token) return { error: 'no bearer token' };
    const jwt = decodeJwt(token);
    if (!jwt || !verifyJwtSignature(jwt, this.signingKey.publicKey)) return { error: 'the token signature is invalid' };
    if (!isWithinLifetime(jwt.claims, 0)) return { error: 'the token is expired' };
    const norm = (a: string) => a.replace(/\/+$/, '').toLowerCase();
    const aud = typeof jwt.claims.aud === 'string' ? norm(jwt.claims.aud) : '';
    if (!audiences.map(norm).includes(aud)) return { error: `the token audience '${jwt.claims.aud}' is not one of ${audiences.join(', ')}` };
    return { claims: jwt.claims as AccessTokenClaims };
  }

  /** The identity a verified token was issued to. */
  identityOf(claims: AccessTokenClaims): EntraIdentity | undefined {
    return this.identities.get(claims.appid);
  }

  close(): Promise<void> {
    return this.server?.close() ?? Promise.resolve();
  }

  private routes(): Router {
    const router = new Router();
    router.add('GET', '/:tenant/v2.0/.well-known/openid-configuration', (x) => {
      if (!this.knownTenant(x)) return;
      const base = `${x.baseUrl}/${x.params.tenant}`;
      x.sendJson(200, {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        issuer: `${base}/v2.0`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt'],
        response_types_supported: ['code', 'id_token', 'token'],
        tenant_region_scope: 'EU',
      });
    });
    router.add('GET', '/:tenant/discovery/v2.0/keys', (x) => {
      const jwk = createPublicKey(this.signingKey.publicKey).export({ format: 'jwk' });
      x.sendJson(200, { keys: [{ ...jwk, kid: this.kid, use: 'sig', kty: 'RSA' }] });
    });
    router.add('POST', '/:tenant/oauth2/v2.0/token', (x) => this.token(x));
    router.add('GET', '/metadata/identity/oauth2/token', (x) => this.managedIdentityToken(x));
    return router;
  }

  private knownTenant(x: Exchange): boolean {
    const tenant = x.params.tenant;
    if (tenant === this.tenantId || tenant === 'organizations' || tenant === 'common') return true;
    aadError(x, 400, 'invalid_request', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
    return false;
  }

  private async token(x: Exchange): Promise<void> {
    if (!this.knownTenant(x)) return;
    const form = await x.form();
    const clientId = form.get('client_id') ?? '';
    const scope = form.get('scope') ?? '';
    const grant = form.get('grant_type') ?? '';
    if (grant !== 'client_credentials') {
      return aadError(x, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant}'.`);
    }
    const identity = this.identities.get(clientId);
    if (!identity || identity.managed) {
      return aadError(x, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${this.tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`);
    }
    const scopes = scope.split(' ').filter(Boolean);
    if (scopes.length !== 1 || !scopes[0].endsWith('/.default')) {
      return aadError(x, 400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (!identity.clientSecret || secret !== identity.clientSecret) {
        return aadError(x, 401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`);
      }
    } else if (assertion !== null) {
      if (form.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE) {
        return aadError(x, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_assertion_type'.");
      }
      const problem = this.checkAssertion(assertion, identity, `${x.baseUrl}${x.path}`);
      if (problem) return aadError(x, problem.status, problem.error, problem.code, problem.description);
    } else {
      return aadError(x, 401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    }
    this.tokenRequests.push({ clientId, scope, grant: secret !== null ? 'secret' : 'assertion' });
    const audience = scopes[0].slice(0, -'/.default'.length);
    const { token, expiresIn } = this.issueAccessToken(identity, audience);
    this.servedTokens.push(token);
    x.sendJson(200, { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: token });
  }

  /** Checks a client assertion: a certificate-signed JWT of the app, or a federated token of a trusted issuer. */
  private checkAssertion(assertion: string, identity: EntraIdentity, tokenEndpoint: string):
    { status: number; error: string; code: number; description: string } | undefined {
    const jwt = decodeJwt(assertion);
    if (!jwt) return { status: 400, error: 'invalid_client', code: 50027, description: 'JWT token is invalid or malformed.' };
    const fed = identity.federated;
    if (fed && jwt.claims.iss === fed.issuer) {
      const key = this.trustedIssuers.get(fed.issuer);
      if (!key || !verifyJwtSignature(jwt, key)) {
        return { status: 401, error: 'invalid_client', code: 700211, description: `No matching federated identity record found for presented assertion issuer '${jwt.claims.iss}'.` };
      }
      if (!isWithinLifetime(jwt.claims, 300)) {
        return { status: 400, error: 'invalid_client', code: 700024, description: 'Client assertion is not within its valid time range.' };
      }
      const aud = [jwt.claims.aud].flat();
      if (jwt.claims.sub !== fed.subject || !aud.includes(fed.audience)) {
        return { status: 401, error: 'invalid_client', code: 700213, description: `No matching federated identity record found for presented assertion subject '${jwt.claims.sub}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion.` };
      }
      return undefined;
    }
    if (identity.certificatePem) {
      const thumb = jwt.header['x5t#S256'];
      if (!verifyJwtSignature(jwt, identity.certificatePem)) {
        return { status: 401, error: 'invalid_client', code: 700027, description: `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${String(thumb)}']` };
      }
      if (!isWithinLifetime(jwt.claims, 300)) {
        return { status: 400, error: 'invalid_client', code: 700024, description: 'Client assertion is not within its valid time range.' };
      }
      if (jwt.claims.aud !== tokenEndpoint || jwt.claims.iss !== identity.clientId || jwt.claims.sub !== identity.clientId) {
        return { status: 401, error: 'invalid_client', code: 700023, description: 'Client assertion audience claim does not match Realm issuer.' };
      }
      return undefined;
    }
    return { status: 401, error: 'invalid_client', code: 700211, description: `No matching federated identity record found for presented assertion issuer '${String(jwt.claims.iss)}'.` };
  }

  /** The IMDS token endpoint (reached through AZURE_POD_IDENTITY_AUTHORITY_HOST, as on AKS with pod identity). */
  private managedIdentityToken(x: Exchange): void {
    if (x.header('metadata') !== 'true') {
      return x.sendJson(400, { error: 'invalid_request', error_description: 'Required metadata header not specified' });
    }
    const resource = x.query('resource');
    if (!resource) return x.sendJson(400, { error: 'invalid_request', error_description: 'Required audience parameter not specified' });
    const clientId = x.query('client_id');
    const managed = [...this.identities.values()].filter((i) => i.managed);
    const identity = clientId ? managed.find((i) => i.clientId === clientId) : managed[0];
    if (!identity) {
      return x.sendJson(400, { error: 'invalid_request', error_description: 'Identity not found' });
    }
    this.tokenRequests.push({ clientId: identity.clientId, scope: resource, grant: 'managed_identity' });
    const { token, expiresIn } = this.issueAccessToken(identity, resource);
    this.servedTokens.push(token);
    const now = Math.floor(Date.now() / 1000);
    x.sendJson(200, {
      access_token: token, client_id: identity.clientId, expires_in: String(expiresIn), expires_on: String(now + expiresIn),
      ext_expires_in: String(expiresIn), not_before: String(now), resource, token_type: 'Bearer',
    });
  }
}
