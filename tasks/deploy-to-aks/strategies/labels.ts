import type { KObj } from '../kubeClient';
import { ANNOTATION_PREFIX } from '../options';

/** Which version a canary-strategy object or pod runs: `stable`, `baseline` or `canary` (Prometheus: aks_secure_delivery_dev_track). */
export const TRACK_LABEL = `${ANNOTATION_PREFIX}/track`;
/** Which colour a blue-green object or pod belongs to: `blue` or `green`. */
export const COLOUR_LABEL = `${ANNOTATION_PREFIX}/colour`;
/** The workload (or Service) of the manifests an object was made for: how promote and reject find what deploy made. */
export const MADE_FOR_LABEL = `${ANNOTATION_PREFIX}/made-for`;
/** On an HTTPRoute: its rules' backendRefs before the task weighted them, restored by promote and reject. */
export const BACKENDS_BEFORE_ANNOTATION = `${ANNOTATION_PREFIX}/backends-before`;

export type Track = 'stable' | 'baseline' | 'canary';
export type Colour = 'blue' | 'green';

export const otherColour = (c: Colour): Colour => (c === 'blue' ? 'green' : 'blue');

/** Metadata the server owns, dropped from a live object before it is applied under another name. */
const SERVER_FIELDS = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'ownerReferences', 'deletionTimestamp'];

/**
 * A copy of a Deployment under another name whose selector, pod template and object all carry `labels`, so that its
 * pods are told apart from the original's (and its ReplicaSets never adopt the original's pods).
 */
export function deploymentCopy(source: KObj, name: string, labels: Record<string, string>, replicas: number | undefined, madeFor: string): KObj {
  const spec = structuredClone(source.spec ?? {});
  const template = spec.template ?? {};
  const metadata: KObj['metadata'] = {
    name, namespace: source.metadata.namespace,
    labels: { ...source.metadata.labels, ...labels, [MADE_FOR_LABEL]: madeFor },
    annotations: { ...withoutServerAnnotations(source.metadata.annotations) },
  };
  for (const f of SERVER_FIELDS) delete (metadata as Record<string, unknown>)[f];
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata,
    spec: {
      ...spec,
      ...(replicas === undefined ? {} : { replicas }),
      selector: { ...spec.selector, matchLabels: { ...spec.selector?.matchLabels, ...labels } },
      template: { ...template, metadata: { ...template.metadata, labels: { ...template.metadata?.labels, ...labels } } },
    },
  };
}

/** A copy of a Service under another name that selects only the pods that also carry `labels`. */
export function serviceCopy(source: KObj, name: string, labels: Record<string, string>, madeFor: string): KObj {
  const spec = structuredClone(source.spec ?? {});
  // The cluster gives the copy its own address.
  delete spec.clusterIP;
  delete spec.clusterIPs;
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: source.metadata.namespace, labels: { ...source.metadata.labels, ...labels, [MADE_FOR_LABEL]: madeFor } },
    spec: { ...spec, selector: { ...spec.selector, ...labels } },
  };
}

function withoutServerAnnotations(annotations: Record<string, string> | undefined): Record<string, string> {
  const out = { ...annotations };
  delete out['deployment.kubernetes.io/revision'];
  delete out['kubectl.kubernetes.io/last-applied-configuration'];
  return out;
}

/** Whether a Service's selector picks the pods of a Deployment's template (every selector label matches). */
export function selects(service: KObj, deployment: KObj): boolean {
  const selector: Record<string, string> = service.spec?.selector ?? {};
  const labels: Record<string, string> = deployment.spec?.template?.metadata?.labels ?? {};
  const keys = Object.keys(selector).filter((k) => k !== TRACK_LABEL && k !== COLOUR_LABEL);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}
