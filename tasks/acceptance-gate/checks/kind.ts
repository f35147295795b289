import type { Pair, Node as YamlNode } from 'yaml';
import type { CheckBase, Reader } from '../config';
import type { Value } from '../expression';
import type { TestCase } from '../junit';

/** What a check needs from the task around it. */
export interface CheckContext {
  /** Ends every measurement in flight (the gate's timeout). */
  signal: AbortSignal;
  /** An Entra token for Azure Monitor managed Prometheus (scope from the query endpoint). */
  azureToken?: (url: string) => Promise<string>;
  /** Working directory of the job (relative paths of commands and JUnit globs start here). */
  workingDirectory: string;
}

/**
 * What one measurement found, before anything judges it: a value, no data, or an error. The gate turns a reading
 * into an outcome (`assess` in judge.ts), so no check kind judges its own value.
 */
export type Reading = ValueReading | SamplesReading | NoDataReading | ErrorReading;

export interface ValueReading {
  kind: 'value';
  /** What successCondition and failureCondition see as `result`. */
  value: Value;
  /** The value, short, for logs and tables (e.g. `0.034`, `200 in 12 ms`). */
  shown: string;
  /** An expectation the check kind carries itself that the value does not meet (a status, an exit code). */
  unmet?: string;
  /** What a passing measurement without conditions says (default: the shown value). */
  note?: string;
  durationMs: number;
  testCases?: TestCase[];
}

/** Values of a canary and its baseline from one evaluation, judged together with the earlier ones. */
export interface SamplesReading {
  kind: 'samples';
  canary: number[];
  baseline: number[];
  durationMs: number;
}

export interface NoDataReading {
  kind: 'noData';
  /** Why there is nothing to judge, as a phrase (e.g. `the query returned no series`). */
  reason: string;
  durationMs: number;
}

export interface ErrorReading {
  kind: 'error';
  message: string;
  /** What was seen, if anything (e.g. `timed out`, `exit 127`). */
  shown?: string;
  /** A problem of the gate's configuration that will not go away (a rejected query, a refused permission). */
  fatal?: boolean;
  durationMs: number;
}

/** The check-level YAML mapping of one check: key to node. */
export type CheckFields = Map<string, { node: YamlNode | null; pair: Pair }>;

/** One kind of check: the keys it takes, how its YAML is read and how it is measured. */
export interface CheckKind<C extends CheckBase> {
  /** Keys of the kind's own mapping (`http: { … }`). */
  keys: readonly string[];
  /** Keys beside `name` at the check's level that only this kind takes (e.g. `expect` for http). */
  checkKeys: readonly string[];
  /** Reads the kind's mapping (`body`); `fields` is the whole check, for the kind's own check-level keys. */
  parse(r: Reader, base: CheckBase, body: YamlNode | null, fields: CheckFields): C;
  measure(check: C, ctx: CheckContext): Promise<Reading>;
}

export function elapsed(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e6;
}
