import { KubeStatus, clone, type KObj } from '../types';
import {
  changedMembers, fieldSetOf, fromFieldsV1, memberPath, mergeApplied, removeMember, toFieldsV1, type FieldSet,
} from './fieldset';
import type { SchemaNode } from './schema';
import { now } from './store';

/** One `metadata.managedFields` entry, with its field set parsed. */
interface Manager {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  subresource?: string;
  set: FieldSet;
}

function managersOf(obj: KObj | undefined): Manager[] {
  const entries = (obj?.metadata.managedFields ?? []) as { manager: string; operation: 'Apply' | 'Update'; apiVersion: string; time: string; subresource?: string; fieldsV1?: unknown }[];
  return entries.map((e) => ({ manager: e.manager, operation: e.operation, apiVersion: e.apiVersion, time: e.time, subresource: e.subresource, set: fromFieldsV1(e.fieldsV1) }));
}

function serialise(managers: Manager[]): unknown[] {
  return managers.filter((m) => m.set.size > 0).map((m) => ({
    manager: m.manager, operation: m.operation, apiVersion: m.apiVersion, time: m.time, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(m.set),
    ...(m.subresource ? { subresource: m.subresource } : {}),
  }));
}

function same(m: Manager, manager: string, operation: string, subresource: string | undefined): boolean {
  return m.manager === manager && m.operation === operation && (m.subresource ?? '') === (subresource ?? '');
}

/**
 * How the API server names a manager in a conflict (`printManager` of the identifier `BuildManagerIdentifier`
 * makes, which leaves the time out): Update managers with their API version.
 */
function printManager(m: Manager): string {
  const name = `"${m.manager}"${m.subresource ? ` with subresource "${m.subresource}"` : ''}`;
  return m.operation === 'Update' ? `${name} using ${m.apiVersion}` : name;
}

/**
 * The 409 of an apply that would change fields other managers own, worded as the API server words it
 * (`staging/src/k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager/internal/conflict.go`).
 */
function conflictError(conflicts: [Manager, string][]): KubeStatus {
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0][0])}: ${memberPath(conflicts[0][1])}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const [m, path] of conflicts) byManager.set(printManager(m), [...(byManager.get(printManager(m)) ?? []), memberPath(path)]);
    const lines = [...byManager.keys()].sort().flatMap((m) => [`conflicts with ${m}:`, ...byManager.get(m)!.map((p) => `- ${p}`)]);
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new KubeStatus(409, 'Conflict', message, {
    causes: conflicts.map(([m, path]) => ({ type: 'FieldManagerConflict', message: `conflict with ${printManager(m)}`, field: memberPath(path) })),
  });
}

/** The state an object's fields are compared in: defaulted and normalised, as the server stores it. */
export type Normalise = (obj: KObj) => KObj;

/**
 * Server-side apply (structured-merge-diff's `Updater.Apply`): merges the configuration into the live object by
 * the schema, refuses changes to fields other managers own unless forced (forcing takes them over), and removes
 * the fields this manager applied before and no longer applies, unless another manager owns them.
 */
export function applyConfiguration(live: KObj | undefined, config: KObj, manager: string, force: boolean, normalise: Normalise, root: SchemaNode, subresource?: string): KObj {
  const intent = clone(config);
  delete intent.metadata.managedFields;
  const configSet = fieldSetOf(intent, root);
  const managers = managersOf(live);
  const base = live ? clone(live) : ({ apiVersion: config.apiVersion, kind: config.kind, metadata: { name: config.metadata.name, namespace: config.metadata.namespace } } as KObj);
  delete base.metadata.managedFields;
  const merged = mergeApplied(base, intent, root) as KObj;
  if (live) {
    const { changed } = changedMembers(normalise(clone(base)), normalise(clone(merged)), root);
    const conflicts: [Manager, string][] = [];
    for (const m of managers) {
      if (same(m, manager, 'Apply', subresource)) continue;
      for (const path of m.set) if (changed.has(path)) conflicts.push([m, path]);
    }
    if (conflicts.length && !force) throw conflictError(conflicts);
    for (const [m, path] of conflicts) m.set.delete(path);
  }
  const mine = managers.find((m) => same(m, manager, 'Apply', subresource));
  const others = managers.filter((m) => m !== mine);
  const ownedByOthers = (path: string) => others.some((m) => [...m.set].some((p) => p === path || p.startsWith(`${path}\n`)));
  // Shallow members first: removing a list element removes its fields with it.
  const dropped = [...(mine?.set ?? [])].filter((p) => !configSet.has(p)).sort((a, b) => a.split('\n').length - b.split('\n').length);
  for (const path of dropped) if (!ownedByOthers(path)) removeMember(merged, path, root, (parent) => !ownedByOthers(parent) && !configSet.has(parent));
  const entry: Manager = { manager, operation: 'Apply', apiVersion: config.apiVersion, time: now(), subresource, set: configSet };
  merged.metadata.managedFields = serialise(mine ? managers.map((m) => (m === mine ? entry : m)) : [...managers, entry]);
  return merged;
}

/**
 * The ownership an Update (create, PUT, any other patch, a scale) gives its manager (`Updater.Update`): the fields
 * it changed become its own and no one else's; removed fields are no one's. Sets `next.metadata.managedFields`.
 */
export function recordUpdate(live: KObj | undefined, next: KObj, manager: string, root: SchemaNode, subresource?: string): void {
  const managers = managersOf(live);
  const before = live ? clone(live) : undefined;
  if (before) delete before.metadata.managedFields;
  const after = clone(next);
  delete after.metadata.managedFields;
  const { changed, removed } = changedMembers(before, after, root);
  if (changed.size === 0 && removed.size === 0) {
    next.metadata.managedFields = live?.metadata.managedFields;
    return;
  }
  for (const m of managers) for (const path of [...changed, ...removed]) m.set.delete(path);
  let mine = managers.find((m) => same(m, manager, 'Update', subresource));
  if (!mine) managers.push((mine = { manager, operation: 'Update', apiVersion: next.apiVersion, time: now(), subresource, set: new Set() }));
  for (const path of changed) mine.set.add(path);
  mine.time = now();
  next.metadata.managedFields = serialise(managers);
}
