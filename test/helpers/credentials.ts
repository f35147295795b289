import type { Environment } from '../env';
import type { Endpoint, RunOptions } from './agent';

/** Authorization parameters the agent hands a task that are secrets (the names of the service connection types). */
const SECRET_PARAMETERS = ['serviceprincipalkey', 'servicePrincipalCertificate', 'password', 'apiToken', 'kubeconfig'];

/** Every secret a run is handed: secret parameters of its service connections, secret variables, the job's token. */
export function handedSecrets(options: RunOptions): string[] {
  const parameters = Object.values(options.endpoints ?? {}).flatMap((e: Endpoint) => Object.entries(e.parameters));
  return [
    ...parameters.filter(([k]) => SECRET_PARAMETERS.includes(k)).map(([, v]) => v),
    ...Object.values(options.secretVariables ?? {}),
    ...(options.systemAccessToken ? [options.systemAccessToken] : []),
  ];
}

/**
 * Starts watching the tokens the emulators serve (Entra access tokens, federated tokens, registry and ACR refresh
 * tokens); the function returned gives those served since.
 */
export function watchServedTokens(env: Environment): () => string[] {
  const lists = [env.entra.servedTokens, env.devops.servedOidcTokens, env.registries.nonprod.registry.servedTokens, env.registries.prod.registry.servedTokens];
  const before = lists.map((l) => l.length);
  return () => lists.flatMap((l, i) => l.slice(before[i]));
}
