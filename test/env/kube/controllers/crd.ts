import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';
import { type Any } from './objects';
import { now } from '../status';

/** Establishes a CRD a moment after it is created (the apiextensions-apiserver's naming controller). */
export function reconcileCrd(cluster: KubeCluster, crd: KObj): void {
  const established = (crd.status?.conditions ?? []).some((x: Any) => x.type === 'Established' && x.status === 'True');
  if (established) return;
  const created = Date.parse(crd.metadata.creationTimestamp);
  if (Date.now() - created < 150) return;
  cluster.establishCrd(crd);
  const t = now();
  cluster.put({
    ...crd,
    status: {
      acceptedNames: crd.spec.names,
      storedVersions: (crd.spec.versions as Any[]).filter((v) => v.storage).map((v) => v.name),
      conditions: [
        { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: t },
        { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: t },
      ],
    },
  });
}
