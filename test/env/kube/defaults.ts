import { canonicalQuantity } from './quantity';
import { KubeStatus, selectorMatches, type KObj, type ResourceType } from './types';

/** Reads stored objects (validation of custom resources reads their CRD). */
export interface ObjectLookup {
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KObj | undefined;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

function podSpecOf(obj: KObj): Any {
  if (obj.kind === 'Pod') return obj.spec;
  if (obj.kind === 'CronJob') return obj.spec?.jobTemplate?.spec?.template?.spec;
  return obj.spec?.template?.spec;
}

function defaultPodSpec(spec: Any, restartPolicy = 'Always'): void {
  if (!spec) return;
  spec.restartPolicy ??= restartPolicy;
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    c.imagePullPolicy ??= /:latest$|^[^:@]+$/.test(String(c.image ?? '')) ? 'Always' : 'IfNotPresent';
    c.terminationMessagePath ??= '/dev/termination-log';
    c.terminationMessagePolicy ??= 'File';
    // ResourceRequirements is a struct, not a pointer, in the Go types: a container always serialises `resources: {}`.
    c.resources ??= {};
    canonicalise(c.resources.requests);
    canonicalise(c.resources.limits);
    for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  }
  canonicalise(spec.overhead);
}

/** Quantities are stored in canonical form ("0.5" as "500m"), so equal amounts compare equal. */
function canonicalise(quantities: Record<string, string | number> | undefined): void {
  for (const [k, v] of Object.entries(quantities ?? {})) quantities![k] = canonicalQuantity(v);
}

/** The defaults the API server fills in, for the fields the controllers and clients read. */
export function applyDefaults(obj: KObj): void {
  const spec = obj.spec as Any;
  switch (obj.kind) {
    case 'Deployment':
      spec.replicas ??= 1;
      spec.progressDeadlineSeconds ??= 600;
      spec.revisionHistoryLimit ??= 10;
      spec.strategy ??= { type: 'RollingUpdate' };
      if (spec.strategy.type === 'RollingUpdate') spec.strategy.rollingUpdate ??= { maxSurge: '25%', maxUnavailable: '25%' };
      break;
    case 'StatefulSet':
      spec.replicas ??= 1;
      spec.podManagementPolicy ??= 'OrderedReady';
      spec.updateStrategy ??= { type: 'RollingUpdate' };
      if (spec.updateStrategy.type === 'RollingUpdate') spec.updateStrategy.rollingUpdate ??= { partition: 0 };
      spec.revisionHistoryLimit ??= 10;
      break;
    case 'DaemonSet':
      spec.updateStrategy ??= { type: 'RollingUpdate' };
      if (spec.updateStrategy.type === 'RollingUpdate') spec.updateStrategy.rollingUpdate ??= { maxUnavailable: 1, maxSurge: 0 };
      spec.revisionHistoryLimit ??= 10;
      break;
    case 'ReplicaSet':
      spec.replicas ??= 1;
      break;
    case 'Job':
      spec.completions ??= 1;
      spec.parallelism ??= 1;
      spec.backoffLimit ??= 6;
      break;
    case 'PersistentVolumeClaim':
      canonicalise(spec?.resources?.requests);
      break;
    case 'ResourceQuota':
      canonicalise(spec?.hard);
      break;
    case 'Service':
      spec.type ??= 'ClusterIP';
      for (const p of spec.ports ?? []) p.protocol ??= 'TCP';
      spec.clusterIP ??= `10.0.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;
      break;
  }
  defaultPodSpec(podSpecOf(obj), obj.kind === 'Job' || obj.kind === 'CronJob' ? 'Never' : 'Always');
}

function invalid(type: ResourceType, obj: KObj, field: string, message: string): KubeStatus {
  const kind = type.group ? `${type.kind}.${type.group}` : type.kind;
  return new KubeStatus(422, 'Invalid', `${kind} "${obj.metadata.name}" is invalid: ${field}: ${message}`, {
    name: obj.metadata.name, group: type.group || undefined, kind: type.kind, causes: [{ reason: 'FieldValueInvalid', message, field }],
  });
}

/** The validation a real API server would refuse these objects for (422 Invalid). */
export function validate(type: ResourceType, obj: KObj, cluster: ObjectLookup): void {
  const name = obj.metadata.name;
  if (!name) throw invalid(type, obj, 'metadata.name', 'Required value: name or generateName is required');
  const nameRule = type.kind === 'Namespace' || type.kind === 'Service' ? DNS_LABEL : DNS_SUBDOMAIN;
  if (!nameRule.test(name) || name.length > 253) {
    throw invalid(type, obj, 'metadata.name', `Invalid value: "${name}": a lowercase RFC 1123 ${nameRule === DNS_LABEL ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`);
  }
  const spec = obj.spec as Any;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(obj.kind)) {
    if (!spec?.selector) throw invalid(type, obj, 'spec.selector', 'Required value');
    if (!selectorMatches(spec.selector, spec.template?.metadata?.labels)) {
      throw invalid(type, obj, 'spec.template.metadata.labels', `Invalid value: ${JSON.stringify(spec.template?.metadata?.labels ?? {})}: \`selector\` does not match template \`labels\``);
    }
  }
  const podSpec = podSpecOf(obj);
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'Pod'].includes(obj.kind)) {
    const path = obj.kind === 'Pod' ? 'spec' : obj.kind === 'CronJob' ? 'spec.jobTemplate.spec.template.spec' : 'spec.template.spec';
    if (!podSpec?.containers?.length) throw invalid(type, obj, `${path}.containers`, 'Required value');
    podSpec.containers.forEach((c: Any, i: number) => {
      if (!c.name) throw invalid(type, obj, `${path}.containers[${i}].name`, 'Required value');
      if (!c.image) throw invalid(type, obj, `${path}.containers[${i}].image`, 'Required value');
    });
  }
  if (obj.kind === 'CustomResourceDefinition') {
    const expected = `${spec?.names?.plural}.${spec?.group}`;
    if (name !== expected) throw invalid(type, obj, 'metadata.name', `Invalid value: "${name}": must be spec.names.plural+"."+spec.group`);
    if (!spec?.versions?.length) throw invalid(type, obj, 'spec.versions', 'Invalid value: must have exactly one version marked as storage version');
  }
  if (type.crd) {
    const crd = cluster.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, type.crd);
    const version = crd?.spec?.versions?.find((v: Any) => v.name === type.version);
    const required: string[] = version?.schema?.openAPIV3Schema?.properties?.spec?.required ?? [];
    for (const r of required) if (obj.spec?.[r] === undefined) throw invalid(type, obj, `spec.${r}`, 'Required value');
  }
}
