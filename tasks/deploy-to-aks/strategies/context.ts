import { UserError } from '../../common/errors';
import type { TaskLog } from '../../common/log';
import type { KubeClient, KObj } from '../kubeClient';
import type { DeployOptions } from '../options';
import { waitForRollouts, waitError, type RolloutResult } from '../rollout';
import type { DeployResult, ObjectReport, Plan, Planned } from '../run';
import type { TrafficSplitReport } from '../traffic/split';
import { ClusterObjects } from './objects';

/** What a strategy gets from the task: the session, and the rolling deployment to build on. */
export interface StrategyContext {
  options: DeployOptions;
  log: TaskLog;
  client: KubeClient;
  cluster: string;
  plan(): Promise<Plan>;
  /** The rolling deployment of the manifests; `adjust` changes the planned objects first. */
  rolling(adjust?: (planned: Planned[]) => void): Promise<DeployResult>;
}

/** What a strategy adds to a deployment's result. */
export interface StrategyOutcome {
  canaryWorkloads?: WorkloadRef[];
  baselineWorkloads?: WorkloadRef[];
  activeColour?: string;
  traffic?: TrafficSplitReport;
}

export interface WorkloadRef { kind: string; namespace?: string; name: string }

export const refOf = (o: KObj): WorkloadRef => ({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });

/** The Deployments of the manifests; StatefulSets and DaemonSets cannot run a second copy beside themselves. */
export function deploymentsOf(planned: Planned[], strategy: string): Planned[] {
  const refused = planned.find((p) => p.obj.kind === 'StatefulSet' || p.obj.kind === 'DaemonSet');
  if (refused) {
    const why = refused.obj.kind === 'StatefulSet'
      ? 'a StatefulSet\'s pods own their names and volumes, so a second copy cannot run beside it'
      : 'a DaemonSet runs one pod per node, so a second copy would double every node\'s pods';
    throw new UserError(`Input 'strategy': ${strategy} works on Deployments only, and the manifests hold ${refused.obj.kind} ${refused.obj.metadata.name} (${refused.source}): ${why} (Argo Rollouts and Flagger refuse them too). Deploy it with strategy rolling, in its own task step.`);
  }
  const deployments = planned.filter((p) => p.obj.kind === 'Deployment' && p.obj.apiVersion === 'apps/v1');
  if (deployments.length === 0) throw new UserError(`Input 'strategy': ${strategy} needs a Deployment (apps/v1) in the manifests; they hold none.`);
  return deployments;
}

/** The Services of the manifests that select a Deployment's pods. */
export function servicesOf(planned: Planned[], deployment: KObj, select: (service: KObj, deployment: KObj) => boolean): KObj[] {
  return planned.filter((p) => p.obj.kind === 'Service' && p.obj.apiVersion === 'v1' && select(p.obj, deployment)).map((p) => p.obj);
}

/**
 * Objects beside the workloads and Services (ConfigMaps, Secrets, …) that the new version may need: created when
 * missing, so the new pods can start; existing ones are left for promote, so the live version keeps what it reads.
 */
export async function createMissingSupport(ctx: StrategyContext, objects: ClusterObjects, planned: Planned[], skip: Set<string>): Promise<ObjectReport[]> {
  const reports: ObjectReport[] = [];
  for (const p of planned) {
    if (skip.has(p.obj.kind)) continue;
    const exists = await objects.get(p.obj.apiVersion, p.obj.kind, p.obj.metadata.namespace, p.obj.metadata.name);
    const base = { kind: p.obj.kind, apiVersion: p.obj.apiVersion, namespace: p.obj.metadata.namespace, name: p.obj.metadata.name };
    if (exists) {
      ctx.log.info(`${p.obj.kind} ${p.obj.metadata.name}: exists, left as it is until promote`);
      reports.push({ ...base, action: 'skipped', note: 'exists; applied at promote' });
      continue;
    }
    const outcome = await objects.apply(p.obj);
    ctx.log.info(`${p.obj.kind} ${p.obj.metadata.name} ${outcome.action} (the new version needs it)`);
    reports.push({ ...base, action: outcome.action });
  }
  return reports;
}

/** Waits for the given Deployments with the rolling deployment's fail-fast rules. */
export async function waitFor(ctx: StrategyContext, workloads: KObj[]): Promise<RolloutResult[]> {
  ctx.log.info(`Waiting for ${workloads.map((w) => w.metadata.name).join(', ')} (rolloutTimeout ${ctx.options.rolloutTimeoutSeconds} s)`);
  try {
    // The strategies build these objects themselves, so what they sent is what they ask for.
    const targets = workloads.map((w) => ({ applied: w, manifest: w }));
    return await waitForRollouts(ctx.client, targets, ctx.log, { timeoutSeconds: ctx.options.rolloutTimeoutSeconds });
  } catch (err) {
    throw waitError(err);
  }
}

export function reportOf(o: KObj, action: ObjectReport['action'], note?: string): ObjectReport {
  return { kind: o.kind, apiVersion: o.apiVersion, namespace: o.metadata.namespace, name: o.metadata.name, action, note };
}
