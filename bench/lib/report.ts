import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

/** Writes build/bench/<name>.json and prints each figure beside its goal. */
export function report(name: string, figures: Record<string, number>, goals: Record<string, string> = {}): void {
  const dir = path.join(ROOT, 'build/bench');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify(figures, null, 2)}\n`);
  for (const [key, value] of Object.entries(figures)) {
    console.log(`${key.padEnd(28)} ${String(value).padStart(10)}   ${goals[key] ? `goal: ${goals[key]}` : ''}`);
  }
  console.log(`wrote build/bench/${name}.json`);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function round(value: number, digits = 2): number {
  return Number(value.toFixed(digits));
}
