import { startTicking } from '../ticker';
import type { KubeCluster } from './cluster';
import { reconcileCrd } from './controllers/crd';
import { reconcileDaemonSet } from './controllers/daemonSet';
import { reconcileDeployment } from './controllers/deployment';
import { reconcileHorizontalPodAutoscaler } from './controllers/horizontalPodAutoscaler';
import { reconcileJob } from './controllers/job';
import { reconcileReplicaSet } from './controllers/replicaSet';
import { reconcileServiceAccounts } from './controllers/serviceAccounts';
import { reconcileStatefulSet } from './controllers/statefulSet';

/**
 * The controllers (Deployment → ReplicaSet → Pod, StatefulSet, DaemonSet, Job, CRD establishment; one reconcile
 * function each in controllers/, as kube-controller-manager keeps one controller per package), run on a fast
 * tick so rollouts take fractions of a second. The kubelet stand-in (kubelet/) runs pods on its own tick.
 */
export class Controllers {
  /** Milliseconds between reconciliations. */
  tickMs = 50;
  private ticking?: { stop(): void };

  constructor(private readonly cluster: KubeCluster) {}

  start(): void {
    this.ticking = startTicking(() => this.tick(), () => this.tickMs);
  }

  stop(): void {
    this.ticking?.stop();
  }

  private tick(): void {
    const c = this.cluster;
    for (const ns of c.list('v1', 'Namespace')) reconcileServiceAccounts(c, ns);
    for (const crd of c.list('apiextensions.k8s.io/v1', 'CustomResourceDefinition')) reconcileCrd(c, crd);
    for (const hpa of c.list('autoscaling/v2', 'HorizontalPodAutoscaler')) reconcileHorizontalPodAutoscaler(c, hpa);
    for (const d of c.list('apps/v1', 'Deployment')) reconcileDeployment(c, d);
    for (const rs of c.list('apps/v1', 'ReplicaSet')) reconcileReplicaSet(c, rs);
    for (const s of c.list('apps/v1', 'StatefulSet')) reconcileStatefulSet(c, s);
    for (const ds of c.list('apps/v1', 'DaemonSet')) reconcileDaemonSet(c, ds);
    for (const j of c.list('batch/v1', 'Job')) reconcileJob(c, j);
  }
}
