import type { V1ManagedFieldsEntry } from '@kubernetes/client-node';
import type { KObj } from '../kubeClient';

/**
 * Who wrote a field, read from metadata.managedFields (FieldsV1: `f:<name>` per map key): the managers whose entry
 * holds the path, the most recent first (by `time`), leaving out `except` (the task's own manager).
 */
export function managersOf(obj: KObj, path: string[], except?: string): string[] {
  const entries = ((obj.metadata.managedFields ?? []) as V1ManagedFieldsEntry[]).filter((e) => e.manager && e.manager !== except && holds(e.fieldsV1, path));
  return entries
    .sort((a, b) => String(b.time ?? '').localeCompare(String(a.time ?? '')))
    .map((e) => `${e.manager}${e.operation === 'Update' ? ' (an update)' : ''}`)
    .filter((m, i, all) => all.indexOf(m) === i);
}

function holds(fields: unknown, path: string[]): boolean {
  let cur = fields as Record<string, unknown> | undefined;
  for (const key of path) {
    // A text or a number has no `f:` keys either: indexing it answers undefined.
    if (!cur) return false;
    cur = cur[`f:${key}`] as Record<string, unknown> | undefined;
  }
  return cur !== undefined;
}
