import { UserError } from '../common/errors';
import type { RegistryClient } from '../common/registry/client';

/** Makes tags and a manifest read-only on ACR (write and delete disabled), through the registry's /acr/v1 API. */
export async function lockOnAcr(client: RegistryClient, repository: string, tags: string[], digest: string): Promise<void> {
  const body = JSON.stringify({ writeEnabled: false, deleteEnabled: false });
  const encoded = encodeURIComponent(repository);
  const scopes = [`repository:${repository}:metadata_write`];
  for (const path of [...tags.map((t) => `/acr/v1/${encoded}/_tags/${t}`), `/acr/v1/${encoded}/_manifests/${digest}`]) {
    const res = await client.request('PATCH', path, { scopes, headers: { 'content-type': 'application/json' }, body, expect: [404, 405] });
    await res.discard();
    if (res.status === 404 || res.status === 405) {
      throw new UserError(`Input 'lockPromotedImage': ${client.registry} does not offer ACR's lock attributes (${path} answered ${res.status}). Locking works on Azure Container Registry only; set lockPromotedImage to false for other registries.`);
    }
  }
}
