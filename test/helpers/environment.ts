import { startEnvironment, type Environment } from '../env';

let shared: Promise<Environment> | undefined;

/** The environment shared by all tests of one run: started on first use, stopped by the root hook. */
export function sharedEnvironment(): Promise<Environment> {
  shared ??= startEnvironment();
  return shared;
}

export async function stopSharedEnvironment(): Promise<void> {
  if (!shared) return;
  const env = await shared.catch(() => undefined);
  shared = undefined;
  await env?.stop();
}
