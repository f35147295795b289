import type { KObj } from '../kube/types';

export type KStatus = 'Current' | 'InProgress' | 'Failed';

/**
 * The kstatus verdict Flux's `wait: true` health checks use (sigs.k8s.io/cli-utils pkg/kstatus/status/core.go):
 * workloads are Current once their controller observed the latest generation and every replica is updated and
 * available; a Deployment whose Progressing condition says ProgressDeadlineExceeded is Failed. Kinds without a
 * rule are Current as soon as they exist.
 */
export function kstatus(obj: KObj): { status: KStatus; message: string } {
  const status = obj.status ?? {};
  const generation = obj.metadata.generation;
  if (generation !== undefined && ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(obj.kind) && (status.observedGeneration ?? 0) < generation) {
    return { status: 'InProgress', message: `${obj.kind} generation is ${generation}, but latest observed generation is ${status.observedGeneration ?? 0}` };
  }
  const conditions: { type: string; status: string; reason?: string }[] = status.conditions ?? [];
  const condition = (type: string) => conditions.find((c) => c.type === type);
  switch (obj.kind) {
    case 'Deployment': {
      const want = obj.spec?.replicas ?? 1;
      if (condition('Progressing')?.reason === 'ProgressDeadlineExceeded') return { status: 'Failed', message: 'Progress deadline exceeded' };
      if ((status.updatedReplicas ?? 0) < want) return { status: 'InProgress', message: `Updated: ${status.updatedReplicas ?? 0}/${want}` };
      if ((status.replicas ?? 0) > (status.updatedReplicas ?? 0)) return { status: 'InProgress', message: `Pending termination: ${(status.replicas ?? 0) - (status.updatedReplicas ?? 0)}` };
      if ((status.availableReplicas ?? 0) < want) return { status: 'InProgress', message: `Available: ${status.availableReplicas ?? 0}/${want}` };
      if ((status.readyReplicas ?? 0) < want) return { status: 'InProgress', message: `Ready: ${status.readyReplicas ?? 0}/${want}` };
      if (condition('Available')?.status !== 'True') return { status: 'InProgress', message: 'Deployment not Available' };
      return { status: 'Current', message: `Deployment is available. Replicas: ${status.replicas ?? 0}` };
    }
    case 'StatefulSet': {
      const want = obj.spec?.replicas ?? 1;
      if ((status.readyReplicas ?? 0) < want) return { status: 'InProgress', message: `Ready: ${status.readyReplicas ?? 0}/${want}` };
      if (status.updateRevision && status.currentRevision !== status.updateRevision) return { status: 'InProgress', message: `Waiting for updated revision ${status.updateRevision}` };
      return { status: 'Current', message: `All replicas scheduled as expected. Replicas: ${want}` };
    }
    case 'DaemonSet': {
      const want = status.desiredNumberScheduled ?? 0;
      if ((status.updatedNumberScheduled ?? 0) < want) return { status: 'InProgress', message: `Updated: ${status.updatedNumberScheduled ?? 0}/${want}` };
      if ((status.numberAvailable ?? 0) < want) return { status: 'InProgress', message: `Available: ${status.numberAvailable ?? 0}/${want}` };
      return { status: 'Current', message: `All replicas scheduled as expected. Replicas: ${want}` };
    }
    case 'Job':
      if (condition('Failed')?.status === 'True') return { status: 'Failed', message: 'Job Failed' };
      if (condition('Complete')?.status === 'True') return { status: 'Current', message: 'Job Completed' };
      return { status: 'InProgress', message: 'Job in progress' };
    default:
      return { status: 'Current', message: 'Resource is current' };
  }
}
