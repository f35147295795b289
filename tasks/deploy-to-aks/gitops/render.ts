import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { UserError } from '../../common/errors';
import { formatImageReference, parseImageReference, type ImageReference } from '../../common/imageReference';
import type { TaskLog } from '../../common/log';
import type { KObj } from '../kubeClient';
import { addImagePullSecrets, imagesOf, orderForApply, podSpecOf, substituteImages, type Manifest } from '../manifests';

/** One object as a file of the GitOps folder. */
export interface RenderedFile {
  /** Repository-relative path under the folder. */
  path: string;
  content: string;
  /** `Kind namespace/name`, for messages. */
  object: string;
  obj: KObj;
}

/**
 * Kinds that have no namespace, which a render without a cluster to ask must know by itself: the same built-in
 * list kustomize's namespace transformer uses (sigs.k8s.io/kustomize api/internal/builtins, IsNamespaceableKind),
 * plus the kinds of CustomResourceDefinitions in the manifests with scope Cluster.
 */
const CLUSTER_SCOPED = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'PriorityClass',
  'StorageClass', 'VolumeAttachment', 'CSIDriver', 'CSINode', 'IngressClass', 'RuntimeClass', 'APIService',
  'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
  'CertificateSigningRequest', 'ComponentStatus', 'PodSecurityPolicy', 'FlowSchema', 'PriorityLevelConfiguration',
]);

export interface RenderOptions {
  namespace?: string;
  images: ImageReference[];
  imagePullSecrets: string[];
  /** Label value that marks the objects of this app. */
  appLabel: [string, string];
}

/**
 * What a push would apply, as objects: namespaces defaulted, images substituted by parsed reference, pull secrets
 * and the app label added. Pipeline metadata stays out of the objects (it goes in the commit message), so an
 * unchanged deployment renders the same bytes and makes no commit.
 */
export function renderObjects(manifests: Manifest[], options: RenderOptions, log: TaskLog): KObj[] {
  const clusterScoped = new Set(CLUSTER_SCOPED);
  for (const m of manifests) {
    if (m.obj.kind === 'CustomResourceDefinition' && m.obj.spec?.scope === 'Cluster' && m.obj.spec?.names?.kind) clusterScoped.add(m.obj.spec.names.kind);
  }
  const out: KObj[] = [];
  for (const m of manifests) {
    const obj = structuredClone(m.obj);
    if (clusterScoped.has(obj.kind)) delete obj.metadata.namespace;
    else obj.metadata.namespace ??= options.namespace ?? 'default';
    for (const s of substituteImages(obj, options.images)) log.info(`Image of ${s.object}, container '${s.container}': ${s.from} -> ${s.to}`);
    addImagePullSecrets(obj, options.imagePullSecrets);
    obj.metadata.labels = { ...obj.metadata.labels, [options.appLabel[0]]: options.appLabel[1] };
    out.push(obj);
  }
  return orderForApply(out.map((obj) => ({ obj, namespaced: obj.metadata.namespace !== undefined }))).map((x) => x.obj);
}

/**
 * Pins every container image by digest: a tag is resolved through the registry (`resolve`), so what Flux applies
 * is exactly the image the pipeline tested, whatever the tag points at later. Returns the pinned references.
 */
export async function pinImages(objects: KObj[], resolve: (ref: ImageReference) => Promise<string | undefined>, log: TaskLog): Promise<string[]> {
  const resolved = new Map<string, Promise<string>>();
  const pin = (image: string, where: string): Promise<string> => {
    let pending = resolved.get(image);
    if (!pending) {
      pending = (async () => {
        const ref = parseImageReference(image, `${where}: the image`);
        if (ref.digest) return formatImageReference({ registry: ref.registry, repository: ref.repository, digest: ref.digest });
        const digest = await resolve(ref);
        if (!digest) {
          throw new UserError(`${where}: the image ${image} does not exist in ${ref.registry} (no tag '${ref.tag ?? 'latest'}' in ${ref.repository}). Push it first, or correct the 'images' input.`);
        }
        const pinned = formatImageReference({ registry: ref.registry, repository: ref.repository, digest });
        log.info(`Pinned ${image} to ${digest}`);
        return pinned;
      })();
      resolved.set(image, pending);
    }
    return pending;
  };
  const pinned = new Set<string>();
  for (const obj of objects) {
    const spec = podSpecOf(obj);
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
      if (typeof c.image !== 'string') continue;
      c.image = await pin(c.image, `Input 'manifests': ${obj.kind} '${obj.metadata.name}', container '${c.name}'`);
    }
    for (const i of imagesOf(obj)) pinned.add(i);
  }
  return [...pinned];
}

/**
 * One YAML file per object, under `folder`: `<namespace>/<kind>-<name>.yaml`, cluster-scoped objects under
 * `_cluster/`. Kinds of the same name in two API groups get the group in the file name.
 */
export function renderFiles(objects: KObj[], folder: string): RenderedFile[] {
  const files: RenderedFile[] = [];
  const names = new Map<string, number>();
  const base = (o: KObj) => `${o.metadata.namespace ?? '_cluster'}/${o.kind.toLowerCase()}-${o.metadata.name}`;
  for (const o of objects) names.set(base(o), (names.get(base(o)) ?? 0) + 1);
  for (const obj of objects) {
    const group = obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : 'core';
    const name = (names.get(base(obj)) ?? 0) > 1 ? `${base(obj)}.${group}` : base(obj);
    files.push({
      path: `${folder}/${name}.yaml`,
      content: stringify(obj, { lineWidth: 0, aliasDuplicateObjects: false }),
      object: `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`,
      obj,
    });
  }
  return files;
}

/** Git's blob id of a file's content (`blob <size>\0<content>`, SHA-1): compared with the tree's ids, no download needed. */
export function gitBlobId(content: string): string {
  const bytes = Buffer.from(content, 'utf8');
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}
