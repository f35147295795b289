import type { KubeCluster } from '../cluster';
import { clone, type KObj } from '../types';
import { controllerRef, ownedBy, templateHash } from './objects';
import { sameTemplate } from './deployment/replicaSets';

/**
 * ControllerRevisions (pkg/controller/history): the template history of a StatefulSet or DaemonSet. The live
 * template's revision is found by its content; a template seen before (a rollback) gets its old revision object back
 * with the next revision number, as Deployments do with ReplicaSets. Revisions beyond revisionHistoryLimit that no
 * pod uses any more are deleted, oldest first.
 */
export function syncControllerRevision(cluster: KubeCluster, owner: KObj, podsInUse: Set<string>): { name: string; hash: string; revision: number } {
  const template = owner.spec.template;
  const revisions = ownedBy(cluster, owner, 'apps/v1', 'ControllerRevision').sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0));
  const latest = Math.max(0, ...revisions.map((r) => Number(r.revision ?? 0)));
  let current = revisions.find((r) => sameTemplate(templateOf(r), template));
  if (!current) {
    const hash = templateHash(template);
    current = cluster.put({
      apiVersion: 'apps/v1', kind: 'ControllerRevision',
      metadata: { name: `${owner.metadata.name}-${hash}`, namespace: owner.metadata.namespace, labels: { ...owner.spec.selector?.matchLabels, 'controller.kubernetes.io/hash': hash }, ownerReferences: controllerRef(owner) },
      data: { spec: { template: { ...clone(template), $patch: 'replace' } } }, revision: latest + 1,
    });
  } else if (Number(current.revision) < latest) {
    current = cluster.put({ ...current, revision: latest + 1 });
  }
  const limit = owner.spec.revisionHistoryLimit ?? 10;
  const old = revisions.filter((r) => r.metadata.name !== current!.metadata.name && !podsInUse.has(r.metadata.labels?.['controller.kubernetes.io/hash'] ?? ''));
  for (const r of old.slice(0, Math.max(0, old.length - limit))) cluster.deleteObject(r, {});
  return { name: current.metadata.name, hash: current.metadata.labels?.['controller.kubernetes.io/hash'] ?? '', revision: Number(current.revision) };
}

/** The template a revision holds: its data is a strategic merge patch that replaces the template. */
export function templateOf(revision: KObj): unknown {
  const t = { ...revision.data?.spec?.template };
  delete t.$patch;
  return t;
}
