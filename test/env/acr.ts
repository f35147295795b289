import { randomBytes } from 'node:crypto';
import type { ArmEmulator } from './arm';
import type { EntraEmulator, EntraIdentity } from './entra';
import type { Exchange } from './http';
import type { Registry, ScopeItem } from './registry';

/** Data-plane actions of ACR's built-in roles, as ARM role assignments grant them. */
const ACTION_FOR: Record<string, string> = {
  pull: 'Microsoft.ContainerRegistry/registries/pull/read',
  push: 'Microsoft.ContainerRegistry/registries/push/write',
  delete: 'Microsoft.ContainerRegistry/registries/artifacts/delete',
  metadata_read: 'Microsoft.ContainerRegistry/registries/pull/read',
  metadata_write: 'Microsoft.ContainerRegistry/registries/push/write',
};

/**
 * What ACR adds to a registry for Microsoft Entra ID: `POST /oauth2/exchange` (an Entra access token for ARM or
 * ACR becomes an ACR refresh token) and the refresh-token grant of `/oauth2/token`, which grants the actions the
 * identity's role assignments on the registry allow.
 */
export function addAcrAuthentication(registry: Registry, entra: EntraEmulator, arm: ArmEmulator, resourceId: string): void {
  const refreshTokens = new Map<string, EntraIdentity>();
  registry.router.add('POST', '/oauth2/exchange', async (x: Exchange) => {
    const form = await x.form();
    if (form.get('grant_type') !== 'access_token') {
      return x.sendJson(400, { errors: [{ code: 'UNSUPPORTED', message: `unsupported grant_type '${form.get('grant_type')}'` }] });
    }
    if (form.get('service') !== registry.loginServer) {
      return x.sendJson(400, { errors: [{ code: 'INVALID', message: `service must be ${registry.loginServer}` }] });
    }
    const verdict = entra.verifyAccessToken(form.get('access_token') ?? undefined, [arm.url, 'https://management.azure.com/', 'https://containerregistry.azure.net/']);
    if ('error' in verdict) return x.sendJson(401, { errors: [{ code: 'UNAUTHORIZED', message: verdict.error }] });
    const identity = entra.identityOf(verdict.claims);
    if (!identity) return x.sendJson(401, { errors: [{ code: 'UNAUTHORIZED', message: 'unknown identity' }] });
    const refresh = randomBytes(32).toString('base64url');
    refreshTokens.set(refresh, identity);
    x.sendJson(200, { refresh_token: refresh });
  });
  registry.extraGrant = async (x, scopes) => {
    const form = x.method === 'POST' ? await x.form() : undefined;
    const identity = form?.get('grant_type') === 'refresh_token' ? refreshTokens.get(form.get('refresh_token') ?? '') : undefined;
    if (!identity) return undefined;
    const granted: ScopeItem[] = scopes.map((s) => ({
      ...s,
      actions: s.actions.filter((a) => {
        const action = ACTION_FOR[a];
        if (!action) return false;
        try {
          arm.authorize({ identity }, resourceId, action);
          return true;
        } catch {
          return false;
        }
      }),
    }));
    return { subject: identity.clientId, granted };
  };
}
