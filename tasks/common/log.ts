/**
 * What task modules may say to the pipeline. The adapter (pipeline.ts) implements it for the agent;
 * tests implement it in memory. Task modules never import the task library directly.
 */
export interface TaskLog {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** Registers a value with the agent so it is masked in every later log line. */
  secret(value: string | undefined): void;
}

/** A log that forgets everything: for modules used where nobody listens (benchmarks, helpers). */
export const silentLog: TaskLog = { info() {}, warn() {}, debug() {}, secret() {} };

/** Milliseconds as a short human duration: 850 ms, 4.2 s, 3 min 5 s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}
