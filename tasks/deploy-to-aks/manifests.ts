import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import { UserError } from '../common/errors';
import { findFiles, walk } from '../common/glob';
import { formatImageReference, parseImageReference, type ImageReference } from '../common/imageReference';
import type { KObj } from './kubeClient';

/** One object of the manifests, with where it came from for messages. */
export interface Manifest {
  obj: KObj;
  /** `file:line`. */
  source: string;
}

/** Expands the manifest globs (relative to `cwd`), in order, without duplicates; a directory means its YAML files. */
export function expandGlobs(globs: string[], cwd: string): string[] {
  const files: string[] = [];
  for (const glob of globs) {
    const matched = matchGlob(glob, cwd);
    if (matched.length === 0) throw new UserError(`Input 'manifests': '${glob}' matches no file under ${cwd}. Check the path; globs are relative to the default working directory.`);
    for (const f of matched) if (!files.includes(f)) files.push(f);
  }
  return files;
}

function matchGlob(glob: string, cwd: string): string[] {
  const absolute = path.resolve(cwd, glob);
  const isDirectory = !/[*?{]/.test(glob) && fs.existsSync(absolute) && fs.statSync(absolute).isDirectory();
  return isDirectory ? walk(absolute).filter((f) => /\.(ya?ml|json)$/i.test(f)).sort() : findFiles(glob, cwd);
}

/**
 * Parses the files into objects: multi-document YAML, `List` objects flattened, empty documents skipped. Invalid
 * YAML and objects without kind, apiVersion or metadata.name fail with the file and line.
 */
export function parseManifests(files: string[], cwd: string): Manifest[] {
  const out: Manifest[] = [];
  for (const file of files) {
    const shown = path.relative(cwd, file) || file;
    const text = fs.readFileSync(file, 'utf8');
    const lineCounter = new LineCounter();
    const docs = parseAllDocuments(text, { lineCounter, merge: true, prettyErrors: false, uniqueKeys: true });
    for (const doc of (Array.isArray(docs) ? docs : [docs])) {
      if (doc.errors.length) {
        const err = doc.errors[0];
        const pos = lineCounter.linePos(err.pos[0]);
        throw new UserError(`Input 'manifests': ${shown}:${pos.line}:${pos.col}: invalid YAML: ${err.message.split('\n')[0]}. Fix the file.`);
      }
      const line = lineCounter.linePos(doc.contents?.range?.[0] ?? doc.range[0]).line;
      const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
      if (value === null || value === undefined) continue;
      const where = `${shown}:${line}`;
      if (typeof value !== 'object' || Array.isArray(value)) throw new UserError(`Input 'manifests': ${where}: the document is not a Kubernetes object (a YAML mapping with apiVersion, kind and metadata).`);
      const obj = value as KObj;
      if (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items)) {
        obj.items.forEach((item: unknown, i: number) => {
          if (item === null || item === undefined) return;
          out.push({ obj: checkObject(item, `${where} (item ${i + 1} of the ${obj.kind})`), source: `${where} (item ${i + 1})` });
        });
        continue;
      }
      out.push({ obj: checkObject(obj, where), source: where });
    }
  }
  const seen = new Map<string, string>();
  for (const m of out) {
    const key = `${m.obj.apiVersion}/${m.obj.kind}/${m.obj.metadata.namespace ?? ''}/${m.obj.metadata.name}`;
    if (seen.has(key)) throw new UserError(`Input 'manifests': ${m.source}: ${m.obj.kind} '${m.obj.metadata.name}' is also defined at ${seen.get(key)}. Keep one of them.`);
    seen.set(key, m.source);
  }
  return out;
}

function checkObject(value: unknown, where: string): KObj {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UserError(`Input 'manifests': ${where}: the item is not a Kubernetes object.`);
  const obj = value as KObj;
  const missing = [
    typeof obj.apiVersion === 'string' && obj.apiVersion ? undefined : 'apiVersion',
    typeof obj.kind === 'string' && obj.kind ? undefined : 'kind',
    obj.metadata && typeof obj.metadata === 'object' && typeof obj.metadata.name === 'string' && obj.metadata.name ? undefined : 'metadata.name',
  ].filter(Boolean);
  if (missing.length) {
    const what = typeof obj.kind === 'string' ? `the ${obj.kind}${obj.metadata?.name ? ` '${obj.metadata.name}'` : ''}` : 'the object';
    throw new UserError(`Input 'manifests': ${where}: ${what} has no ${missing.join(', ')}. Every object needs apiVersion, kind and metadata.name (generateName cannot be applied).`);
  }
  if (obj.metadata.namespace !== undefined && typeof obj.metadata.namespace !== 'string') throw new UserError(`Input 'manifests': ${where}: metadata.namespace must be a string.`);
  return obj;
}

/** Where the pod spec of a workload kind is. */
export function podSpecOf(obj: KObj): Record<string, unknown> & { containers?: Container[]; initContainers?: Container[]; imagePullSecrets?: { name: string }[] } | undefined {
  if (obj.kind === 'Pod') return obj.spec;
  if (obj.kind === 'CronJob') return obj.spec?.jobTemplate?.spec?.template?.spec;
  const spec = obj.spec?.template?.spec;
  return spec && Array.isArray(spec.containers) ? spec : undefined;
}

interface Container {
  name: string;
  image?: string;
}

export interface Substitution {
  object: string;
  container: string;
  from: string;
  to: string;
}

/** The name part of an image string: without `@digest`, and without a `:tag` after the last `/`. */
function imageName(image: string): string {
  let rest = image.split('@')[0];
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) rest = rest.slice(0, colon);
  return rest;
}

/**
 * Replaces the image of every container and init container whose image, without tag and digest, is an entry's
 * `registry/repository` or its repository path alone. Matching is on parsed references, never on the first ':'.
 */
export function substituteImages(obj: KObj, images: ImageReference[]): Substitution[] {
  const spec = podSpecOf(obj);
  if (!spec || images.length === 0) return [];
  const done: Substitution[] = [];
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    if (typeof c.image !== 'string') continue;
    const name = imageName(c.image.trim());
    let parsed: ImageReference | undefined;
    try {
      parsed = parseImageReference(c.image);
    } catch {
      parsed = undefined;
    }
    const entry = images.find((e) => name === `${e.registry}/${e.repository}` || name === e.repository
      || (parsed && parsed.registry === e.registry && parsed.repository === e.repository));
    if (!entry) continue;
    const to = formatImageReference(entry);
    if (to !== c.image) done.push({ object: `${obj.kind}/${obj.metadata.name}`, container: c.name, from: c.image, to });
    c.image = to;
  }
  return done;
}

/** Adds the named secrets to the pod spec's imagePullSecrets (each once). */
export function addImagePullSecrets(obj: KObj, secrets: string[]): boolean {
  const spec = podSpecOf(obj);
  if (!spec || secrets.length === 0) return false;
  const list = spec.imagePullSecrets ?? [];
  for (const name of secrets) if (!list.some((s) => s.name === name)) list.push({ name });
  spec.imagePullSecrets = list;
  return true;
}

/** Every container image of an object after substitution. */
export function imagesOf(obj: KObj): string[] {
  const spec = podSpecOf(obj);
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((c) => c.image).filter((i): i is string => typeof i === 'string');
}

const KIND_ORDER = [
  'Namespace', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass', 'ClusterRole', 'ClusterRoleBinding',
  'ResourceQuota', 'LimitRange', 'NetworkPolicy', 'ServiceAccount', 'Role', 'RoleBinding', 'Secret', 'ConfigMap',
  'PersistentVolume', 'PersistentVolumeClaim', 'Service', 'PodDisruptionBudget', 'DaemonSet', 'Pod', 'ReplicaSet',
  'Deployment', 'HorizontalPodAutoscaler', 'StatefulSet', 'Job', 'CronJob', 'IngressClass', 'Ingress', 'APIService',
];
const WEBHOOKS = new Set(['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);

/**
 * The safe apply order: Namespaces, CRDs, other cluster-scoped objects, namespaced objects, admission webhooks
 * last. Within a phase kinds follow Helm's install order; objects keep their manifest order otherwise.
 */
export function phaseOf(m: { obj: KObj; namespaced: boolean }): number {
  if (m.obj.kind === 'Namespace') return 0;
  if (m.obj.kind === 'CustomResourceDefinition') return 1;
  if (WEBHOOKS.has(m.obj.kind)) return 4;
  return m.namespaced ? 3 : 2;
}

export function orderForApply<T extends { obj: KObj; namespaced: boolean }>(items: T[]): T[] {
  const rank = (kind: string) => {
    const i = KIND_ORDER.indexOf(kind);
    return i < 0 ? KIND_ORDER.length : i;
  };
  return items.map((item, index) => ({ item, index }))
    .sort((a, b) => phaseOf(a.item) - phaseOf(b.item) || rank(a.item.obj.kind) - rank(b.item.obj.kind) || a.index - b.index)
    .map((x) => x.item);
}
