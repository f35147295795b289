import type { KubeCluster } from '../cluster';
import type { KObj } from '../types';
import { type Any } from './objects';
import { now, sameStatus } from '../status';

/** The annotation this stand-in reads as its metric: the replicas a test wants the autoscaler to ask for. */
export const DESIRED_REPLICAS_ANNOTATION = 'autoscaling.aks-secure-delivery.dev/desired-replicas';

const FIELD_MANAGER = 'horizontal-pod-autoscaler';

/**
 * A stand-in for the HPA controller (pkg/controller/podautoscaler) of autoscaling/v2 HorizontalPodAutoscalers. It
 * measures no metric; its decision is deterministic: the desired replicas are the HPA's annotation
 * `autoscaling.aks-secure-delivery.dev/desired-replicas` when set, else the target's current replicas, always held
 * within [minReplicas (default 1), maxReplicas]. So a target below minReplicas is scaled up to it at once. The
 * target is written as kube-controller-manager writes it, an Update through the scale subresource by field manager
 * `horizontal-pod-autoscaler`, which then owns spec.replicas (and a manifest that leaves replicas out keeps them).
 * Until the API server serves autoscaling/v2 there are no HPAs to list and this does nothing.
 */
export function reconcileHorizontalPodAutoscaler(cluster: KubeCluster, hpa: KObj): void {
  const spec = hpa.spec as Any;
  const ref = spec.scaleTargetRef ?? {};
  const target = cluster.get(ref.apiVersion ?? 'apps/v1', ref.kind, hpa.metadata.namespace, ref.name);
  const t = now();
  if (!target) {
    writeStatus(cluster, hpa, { currentReplicas: 0, desiredReplicas: 0, conditions: [condition('AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${String(ref.kind).toLowerCase()}s "${ref.name}" not found`, t)] });
    return;
  }
  const current: number = target.spec?.replicas ?? 1;
  const min: number = spec.minReplicas ?? 1;
  const max: number = spec.maxReplicas ?? current;
  const asked = Number(hpa.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION] ?? current);
  const desired = Math.min(max, Math.max(min, Number.isFinite(asked) ? asked : current));
  if (desired !== current) scaleTarget(cluster, target, desired, t);
  const limited = asked < min ? 'TooFewReplicas' : asked > max ? 'TooManyReplicas' : undefined;
  writeStatus(cluster, hpa, {
    currentReplicas: current, desiredReplicas: desired, ...(desired !== current ? { lastScaleTime: t } : hpa.status?.lastScaleTime ? { lastScaleTime: hpa.status.lastScaleTime } : {}),
    conditions: [
      condition('AbleToScale', 'True', desired !== current ? 'SucceededRescale' : 'ReadyForNewScale', desired !== current ? `the HPA controller was able to update the target scale to ${desired}` : 'recommended size matches current size', t),
      limited
        ? condition('ScalingLimited', 'True', limited, `the desired replica count is ${limited === 'TooFewReplicas' ? 'less' : 'more'} than the ${limited === 'TooFewReplicas' ? 'minimum' : 'maximum'} replica count`, t)
        : condition('ScalingLimited', 'False', 'DesiredWithinRange', 'the desired count is within the acceptable range', t),
    ],
  });
}

/** The scale subresource's write: spec.replicas, a new generation, and the autoscaler's Update entry in managedFields. */
function scaleTarget(cluster: KubeCluster, target: KObj, replicas: number, t: string): void {
  const entry = { manager: FIELD_MANAGER, operation: 'Update', apiVersion: target.apiVersion, time: t, fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:replicas': {} } }, subresource: 'scale' };
  const managedFields = [...((target.metadata.managedFields ?? []) as Any[]).filter((e) => !(e.manager === FIELD_MANAGER && e.subresource === 'scale')), entry];
  cluster.put({ ...target, metadata: { ...target.metadata, generation: (target.metadata.generation ?? 1) + 1, managedFields }, spec: { ...target.spec, replicas } });
  cluster.event(target, 'Normal', 'SuccessfulRescale', `New size: ${replicas}; reason: the autoscaler's desired replicas`, FIELD_MANAGER);
}

function condition(type: string, status: string, reason: string, message: string, t: string) {
  return { type, status, reason, message, lastTransitionTime: t };
}

function writeStatus(cluster: KubeCluster, hpa: KObj, status: Any): void {
  if (!sameStatus(hpa.status, status)) cluster.put({ ...hpa, status });
}
