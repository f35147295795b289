import { UserError } from '../../common/errors';
import type { KObj } from '../kubeClient';
import type { Strategy } from '../options';
import type { DeployResult, ObjectReport, Planned } from '../run';
import { HTTP_ROUTE_VERSION, canaryWeights, gatewayReport, readRoute, restoreRoute, routeTo } from '../traffic/gatewayApi';
import { replicaReport, replicaSplit } from '../traffic/replicas';
import { percent } from '../traffic/split';
import {
  createMissingSupport, deploymentsOf, refOf, reportOf, servicesOf, waitFor, type StrategyContext, type WorkloadRef,
} from './context';
import { MADE_FOR_LABEL, TRACK_LABEL, deploymentCopy, selects, serviceCopy, type Track } from './labels';
import { ClusterObjects } from './objects';

type Canary = Extract<Strategy, { name: 'canary' }>;

export const canaryName = (name: string, track: Exclude<Track, 'stable'>) => `${name}-${track}`;
const tracked = (track: Track) => ({ [TRACK_LABEL]: track });

/** The canary (new manifests) and baseline (the live stable pod template) Deployments, with the same replicas. */
export function canaryWorkloads(manifest: KObj, stable: KObj, replicas: number): { canary: KObj; baseline: KObj } {
  const name = manifest.metadata.name;
  return {
    canary: deploymentCopy(manifest, canaryName(name, 'canary'), tracked('canary'), replicas, name),
    baseline: deploymentCopy(stable, canaryName(name, 'baseline'), tracked('baseline'), replicas, name),
  };
}

/** The stable Deployments of a promote carry the stable track on their pods, so Services and metrics can pick them. */
function markStable(planned: Planned[]): void {
  for (const p of planned) {
    if (p.obj.kind !== 'Deployment') continue;
    const template = (p.obj.spec.template ??= {});
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, ...tracked('stable') } };
    p.obj.metadata.labels = { ...p.obj.metadata.labels, ...tracked('stable') };
  }
}

/** Canary, baseline: deploy beside stable, judge, then promote (roll the new version as stable) or reject. */
export async function runCanary(ctx: StrategyContext, strategy: Canary): Promise<DeployResult> {
  const { planned, images, discovery } = await ctx.plan();
  const objects = new ClusterObjects(ctx.client, discovery);
  const deployments = deploymentsOf(planned, 'canary');
  const base = { images: [...images], dryRun: false, cluster: ctx.cluster, rollouts: [] };
  if (strategy.action === 'deploy') return deployCanary(ctx, strategy, objects, planned, deployments, base);
  if (strategy.action === 'reject') {
    const { reports, found } = await removeCanary(ctx, strategy, objects, planned, deployments);
    const reason = found ? `Rejected the canary of ${names(deployments)}: traffic goes to stable only, canary and baseline removed; stable untouched.` : `Nothing to reject: no canary of ${names(deployments)} is running.`;
    return { ...base, ok: true, reason, objects: reports, strategy: { canaryWorkloads: [], baselineWorkloads: [] } };
  }
  // Promote: a canary must be running, else there is nothing the gate judged.
  const present = await Promise.all(deployments.map((d) => objects.get('apps/v1', 'Deployment', d.obj.metadata.namespace, canaryName(d.obj.metadata.name, 'canary'))));
  if (!present.some((c) => c?.metadata.labels?.[MADE_FOR_LABEL])) {
    throw new UserError(`Action 'promote': no canary of ${names(deployments)} is running (no Deployment ${canaryName(deployments[0].obj.metadata.name, 'canary')}), so there is nothing to promote. Run the canary with action deploy first; to roll out without a canary, use strategy rolling.`);
  }
  ctx.log.info(`Promoting the canary of ${names(deployments)}: rolling the new version out as stable`);
  const rolled = await ctx.rolling(markStable);
  if (!rolled.ok) return { ...rolled, reason: `${rolled.reason} The canary and baseline are kept: fix and promote again, or reject.` };
  const { reports } = await removeCanary(ctx, strategy, objects, planned, deployments);
  return {
    ...rolled, objects: [...rolled.objects, ...reports],
    reason: `Promoted: ${rolled.reason} Traffic goes to stable only; canary and baseline removed.`,
    strategy: { canaryWorkloads: [], baselineWorkloads: [] },
  };
}

const names = (deployments: Planned[]) => deployments.map((d) => d.obj.metadata.name).join(', ');

async function deployCanary(ctx: StrategyContext, strategy: Canary, objects: ClusterObjects, planned: Planned[], deployments: Planned[], base: Omit<DeployResult, 'ok' | 'reason' | 'objects'>): Promise<DeployResult> {
  // Everything is read and checked before the first change.
  const stables = await Promise.all(deployments.map((d) => objects.get('apps/v1', 'Deployment', d.obj.metadata.namespace, d.obj.metadata.name)));
  const missing = deployments.filter((_, i) => !stables[i]);
  if (missing.length === deployments.length) {
    ctx.log.info(`No stable version of ${names(deployments)} is running yet, so there is nothing to compare a canary with: this deployment becomes the stable version (a rolling deployment).`);
    const first = await ctx.rolling(markStable);
    return { ...first, reason: `First deployment, so no canary: ${first.reason}`, strategy: { canaryWorkloads: [], baselineWorkloads: [] } };
  }
  if (missing.length) {
    throw new UserError(`Input 'strategy': ${names(missing)} has no stable version in the cluster yet while ${names(deployments.filter((d) => !missing.includes(d)))} has: deploy ${names(missing)} once with strategy rolling (or in its own canary step) first.`);
  }
  const namespace = deployments[0].obj.metadata.namespace!;
  const hpas = await objects.list('autoscaling/v2', 'HorizontalPodAutoscaler', namespace).catch(() => [] as KObj[]);
  const plans = deployments.map((d, i) => {
    const stable = stables[i]!;
    const stableReplicas: number = stable.spec?.replicas ?? 1;
    if (stableReplicas < 1) throw new UserError(`Deployment ${namespace}/${d.obj.metadata.name} runs 0 replicas, so a canary has no stable traffic to share: scale it up, or deploy with strategy rolling.`);
    const split = replicaSplit(stableReplicas, strategy.percentage);
    const hpa = hpas.find((h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec?.scaleTargetRef?.name === d.obj.metadata.name);
    if (hpa) ctx.log.info(`HorizontalPodAutoscaler ${hpa.metadata.name} scales ${d.obj.metadata.name}; it is left alone, and canary and baseline run a fixed ${split.canary} replica${split.canary > 1 ? 's' : ''} each.`);
    const services = servicesOf(planned, d.obj, selects);
    return { deployment: d, stable, stableReplicas, split, services, ...canaryWorkloads(d.obj, stable, split.canary) };
  });
  let route: KObj | undefined;
  const serviceName = plans[0].services[0]?.metadata.name;
  if (strategy.traffic === 'gatewayApi') {
    if (!serviceName) throw new UserError(`Input 'trafficSplit': gatewayApi needs the app's Service in the manifests (one that selects the pods of ${plans[0].deployment.obj.metadata.name}), to make the stable, baseline and canary Services from it.`);
    route = await readRoute(objects, strategy.httpRoute!, namespace, [serviceName, ...(['stable', 'baseline', 'canary'] as const).map((t) => `${serviceName}-${t}`)]);
  }

  const reports: ObjectReport[] = await createMissingSupport(ctx, objects, planned, new Set(['Deployment', 'Service', 'HTTPRoute', 'HorizontalPodAutoscaler']));
  const canaries: KObj[] = [];
  const baselines: KObj[] = [];
  for (const p of plans) {
    for (const [obj, list] of [[p.canary, canaries], [p.baseline, baselines]] as const) {
      const outcome = await objects.apply(obj);
      ctx.log.info(`Deployment ${obj.metadata.name} ${outcome.action} (${obj.metadata.labels[TRACK_LABEL]}, ${p.split.canary} replica${p.split.canary > 1 ? 's' : ''})`);
      reports.push(reportOf(obj, outcome.action, `${obj.metadata.labels[TRACK_LABEL]} of ${p.deployment.obj.metadata.name}`));
      // The rollout is judged on what the server holds (its generation and defaulted template), not on our body.
      list.push({ ...outcome.live, apiVersion: obj.apiVersion, kind: obj.kind });
    }
  }
  const first = plans[0];
  let traffic;
  if (strategy.traffic === 'gatewayApi') {
    const weights = canaryWeights(strategy.percentage);
    // The stable Service needs the stable track on the stable pods; a stable deployed by a rolling step lacks it.
    if (first.stable.spec?.template?.metadata?.labels?.[TRACK_LABEL] !== 'stable') {
      ctx.log.info(`The stable pods of ${first.deployment.obj.metadata.name} get the label ${TRACK_LABEL}=stable so that Service ${serviceName}-stable can tell them from the canary; this rolls them once.`);
      await objects.merge(first.stable, { spec: { template: { metadata: { labels: tracked('stable') } } } });
    }
    const source = first.services[0];
    for (const track of ['stable', 'baseline', 'canary'] as const) {
      const svc = serviceCopy(source, `${serviceName}-${track}`, tracked(track), serviceName!);
      const outcome = await objects.apply(svc);
      reports.push(reportOf(svc, outcome.action, `${track} backend of HTTPRoute ${strategy.httpRoute}`));
    }
    const allowed = [serviceName!, `${serviceName}-stable`, `${serviceName}-baseline`, `${serviceName}-canary`];
    await routeTo(objects, route!, allowed, { [`${serviceName}-stable`]: weights.stable, [`${serviceName}-baseline`]: weights.baseline, [`${serviceName}-canary`]: weights.canary });
    reports.push(reportOf(route!, 'configured', `weights stable ${weights.stable}, baseline ${weights.baseline}, canary ${weights.canary}`));
    traffic = gatewayReport(strategy.httpRoute!, [
      { backend: `${serviceName}-stable`, pods: first.stableReplicas, weight: weights.stable },
      { backend: `${serviceName}-baseline`, pods: first.split.baseline, weight: weights.baseline },
      { backend: `${serviceName}-canary`, pods: first.split.canary, weight: weights.canary },
    ]);
  } else {
    traffic = replicaReport(serviceName ?? first.deployment.obj.metadata.name, first.stableReplicas, first.split.canary, first.split.baseline, strategy.percentage);
    if (Math.abs(first.split.share - strategy.percentage / 100) > 0.005) {
      ctx.log.info(`${strategy.percentage} % of ${first.stableReplicas} stable pods rounds up to ${first.split.canary} canary pod${first.split.canary > 1 ? 's' : ''}: a share of ${percent(first.split.share)}.`);
    }
  }
  ctx.log.info(`Traffic: ${traffic.words}.`);
  const rollouts = await waitFor(ctx, [...canaries, ...baselines]);
  const failed = rollouts.find((r) => r.status !== 'ready');
  const result = { ...base, rollouts, objects: reports, strategy: { canaryWorkloads: canaries.map(refOf), baselineWorkloads: baselines.map(refOf), traffic } };
  if (failed) return { ...result, ok: false, reason: `${failed.message} Reject the canary to remove it (the stable version was not changed).` };
  return { ...result, ok: true, reason: `Canary of ${names(deployments)} running beside its baseline: ${traffic.words}. Judge it, then promote or reject.` };
}

/** Traffic back to stable only, then the canary's and baseline's objects removed; what was not there is skipped. */
async function removeCanary(ctx: StrategyContext, strategy: Canary, objects: ClusterObjects, planned: Planned[], deployments: Planned[]): Promise<{ reports: ObjectReport[]; found: boolean }> {
  const reports: ObjectReport[] = [];
  const namespace = deployments[0].obj.metadata.namespace!;
  if (strategy.traffic === 'gatewayApi') {
    const route = await objects.get(HTTP_ROUTE_VERSION, 'HTTPRoute', namespace, strategy.httpRoute!);
    if (route && await restoreRoute(objects, route)) {
      ctx.log.info(`HTTPRoute ${strategy.httpRoute}: backendRefs restored, traffic to stable only`);
      reports.push(reportOf(route, 'configured', 'backendRefs restored'));
    }
  }
  const removals: WorkloadRef[] = [];
  for (const d of deployments) {
    for (const track of ['canary', 'baseline'] as const) removals.push({ kind: 'Deployment', namespace, name: canaryName(d.obj.metadata.name, track) });
    for (const svc of servicesOf(planned, d.obj, selects)) {
      for (const track of ['stable', 'baseline', 'canary'] as const) removals.push({ kind: 'Service', namespace, name: `${svc.metadata.name}-${track}` });
    }
  }
  let found = false;
  for (const r of removals) {
    const apiVersion = r.kind === 'Deployment' ? 'apps/v1' : 'v1';
    const live = await objects.get(apiVersion, r.kind, namespace, r.name);
    // Only what this task made: a user's own Deployment named web-canary is not ours to delete.
    if (!live?.metadata.labels?.[MADE_FOR_LABEL]) continue;
    found = true;
    await objects.remove(apiVersion, r.kind, namespace, r.name);
    ctx.log.info(`${r.kind} ${r.name} removed`);
    reports.push({ kind: r.kind, apiVersion, namespace, name: r.name, action: 'pruned', note: 'canary strategy object removed' });
  }
  return { reports, found };
}
