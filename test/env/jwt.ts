import { constants, createPrivateKey, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';

export type JwtClaims = Record<string, unknown> & { exp?: number; nbf?: number; iat?: number; aud?: string | string[]; iss?: string; sub?: string };

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: JwtClaims;
  signingInput: string;
  signature: Buffer;
}

/** Signs claims as an RS256 JWT. */
export function signJwt(claims: JwtClaims, privateKeyPem: string, header: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const body = { iat: now, nbf: now, jti: randomUUID(), ...claims };
  const input = `${b64(JSON.stringify({ alg: 'RS256', typ: 'JWT', ...header }))}.${b64(JSON.stringify(body))}`;
  const signature = sign('sha256', Buffer.from(input), createPrivateKey(privateKeyPem));
  return `${input}.${signature.toString('base64url')}`;
}

export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    return {
      header: JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as Record<string, unknown>,
      claims: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as JwtClaims,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2], 'base64url'),
    };
  } catch {
    return undefined;
  }
}

/** Checks an RS256 or PS256 signature against a public key or certificate in PEM. */
export function verifyJwtSignature(jwt: DecodedJwt, keyOrCertPem: string | KeyObject): boolean {
  const key = typeof keyOrCertPem === 'string' ? createPublicKey(keyOrCertPem) : keyOrCertPem;
  const data = Buffer.from(jwt.signingInput);
  if (jwt.header.alg === 'RS256') return verify('sha256', data, key, jwt.signature);
  if (jwt.header.alg === 'PS256') {
    return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, jwt.signature);
  }
  return false;
}

/** Whether `now` is inside the token's nbf..exp window (with a little clock skew). */
export function isWithinLifetime(claims: JwtClaims, skewSeconds = 30): boolean {
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp === 'number' && now > claims.exp + skewSeconds) return false;
  if (typeof claims.nbf === 'number' && now + skewSeconds < claims.nbf) return false;
  return true;
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64url');
}
