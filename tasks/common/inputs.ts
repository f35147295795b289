import { UserError } from './errors';

/** Raw access to the agent's inputs and service connections; the adapter supplies it from the task library. */
export interface AgentSource {
  input(name: string): string | undefined;
  variable(name: string): string | undefined;
  endpointUrl(id: string): string | undefined;
  endpointScheme(id: string): string | undefined;
  endpointAuthParameter(id: string, key: string): string | undefined;
  endpointDataParameter(id: string, key: string): string | undefined;
  /** Whether a filePath input was really given (the classic editor sends the repository root for an empty one). */
  filePathSupplied(name: string): boolean;
  /** Whether a pipeline variable is a secret (its value must be masked wherever it is used). */
  isSecretVariable?(name: string): boolean;
}

/**
 * Typed reading of task inputs. Every error names the input and says what to write instead, because
 * YAML pipelines only find out at run time.
 */
export class Inputs {
  constructor(readonly source: AgentSource) {}

  /** Trimmed text; undefined when empty. */
  text(name: string): string | undefined {
    const value = this.source.input(name)?.trim();
    return value ? value : undefined;
  }

  required(name: string, hint: string): string {
    const value = this.text(name);
    if (value === undefined) throw new UserError(`Input '${name}' is required: ${hint}.`);
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.text(name);
    if (value === undefined) return fallback;
    if (/^true$/i.test(value)) return true;
    if (/^false$/i.test(value)) return false;
    throw new UserError(`Input '${name}' must be true or false, not '${value}'.`);
  }

  /** A whole number within [min, max]. */
  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.text(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max) {
      throw new UserError(`Input '${name}' must be a whole number from ${min} to ${max}, not '${value}'.`);
    }
    return n;
  }

  /** One of `choices`, matched without regard to case and returned in its declared spelling. */
  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.text(name);
    if (value === undefined) return fallback;
    const match = choices.find((c) => c.toLowerCase() === value.toLowerCase());
    if (!match) throw new UserError(`Input '${name}' must be one of ${choices.map((c) => `'${c}'`).join(', ')}, not '${value}'.`);
    return match;
  }

  /** Non-empty trimmed lines of a multi-line input (commas also separate, as several tasks accept). */
  lines(name: string, { commas = false } = {}): string[] {
    const value = this.source.input(name) ?? '';
    return value.split(commas ? /[\r\n,]+/ : /\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  }

  /** A file path input, undefined when not given (an empty classic-editor field arrives as the repository root). */
  path(name: string): string | undefined {
    return this.source.filePathSupplied(name) ? this.text(name) : undefined;
  }

  variable(name: string): string | undefined {
    const value = this.source.variable(name)?.trim();
    return value ? value : undefined;
  }
}
