/**
 * Which values are secrets and in what pieces the agent must be told about them. The agent masks each registered
 * value line by line, so a multi-line value (a PEM key, a kubeconfig) is registered one line at a time.
 */

/** Authorization parameters whose values are secrets (keys, passwords, tokens, certificates, kubeconfigs). */
const SECRET_PARAMETER = /key|secret|password|token|certificate|kubeconfig/i;

/** Whether a service connection's authorization parameter holds a secret, by its name (any case). */
export function isSecretParameter(name: string): boolean {
  return SECRET_PARAMETER.test(name);
}

/** The lines of a value to register with the agent: each line that is not blank, as it stands. */
export function secretLines(value: string | undefined): string[] {
  return (value?.split(/\r?\n/) ?? []).filter((line) => line.trim().length > 0);
}

/**
 * The lines of a PEM document that are secret: the base64 body, trimmed. The armour lines (`-----BEGIN …-----`)
 * are the same in every key, so masking them would only hide harmless text.
 */
export function pemSecretLines(pem: string | undefined): string[] {
  return (pem?.split(/\r?\n/) ?? []).map((line) => line.trim()).filter((line) => line.length > 0 && !line.startsWith('-----'));
}
