import { allocateClusterIP } from './network/addresses';
import { canonicalQuantity } from './quantity';
import { invalidError, nonStructural, validateCustom, type FieldError } from './apiserver/structural';
import { KubeStatus, deepEqual, selectorMatches, type KObj, type ResourceType } from './types';

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
/** @param cluster whose loopback block a new Service's clusterIP comes from. */
export function applyDefaults(obj: KObj, cluster: object): void {
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
      // A loopback address of the cluster's own block, where the Service proxy answers (network/services.ts).
      if (spec.clusterIP !== 'None') spec.clusterIP ??= allocateClusterIP(cluster, `${obj.metadata.namespace}/${obj.metadata.name}`);
      if (spec.clusterIP) spec.clusterIPs ??= [spec.clusterIP];
      break;
  }
  defaultPodSpec(podSpecOf(obj), obj.kind === 'Job' || obj.kind === 'CronJob' ? 'Never' : 'Always');
}

function invalid(type: ResourceType, obj: KObj, field: string, message: string, reason: FieldError['reason'] = 'FieldValueInvalid'): KubeStatus {
  return invalidError(type, obj.metadata.name, [{ reason: message.startsWith('Required') ? 'FieldValueRequired' : reason, field, message }]);
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Label keys and values as `ValidateLabels` checks them (`apimachinery/pkg/apis/meta/v1/validation`). */
function labelErrors(labels: Record<string, unknown> | undefined, path: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    const [prefix, name] = k.includes('/') ? [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)] : ['', k];
    if (!LABEL_NAME.test(name) || name.length > 63 || (prefix && !DNS_SUBDOMAIN.test(prefix))) {
      errors.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')` });
    }
    if (typeof v === 'string' && (!LABEL_VALUE.test(v) || v.length > 63)) {
      errors.push({ reason: 'FieldValueInvalid', field: path, message: `Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')` });
    }
  }
  return errors;
}

/** Enumerations the Kubernetes 1.32 OpenAPI spec declares (`enum`) for fields the emulator's clients set. */
const ENUMS: [kinds: string[], path: (o: Any) => unknown, field: string, values: string[]][] = [
  [['Deployment'], (o) => o.spec?.strategy?.type, 'spec.strategy.type', ['Recreate', 'RollingUpdate']],
  [['StatefulSet', 'DaemonSet'], (o) => o.spec?.updateStrategy?.type, 'spec.updateStrategy.type', ['OnDelete', 'RollingUpdate']],
  [['StatefulSet'], (o) => o.spec?.podManagementPolicy, 'spec.podManagementPolicy', ['OrderedReady', 'Parallel']],
  [['Service'], (o) => o.spec?.type, 'spec.type', ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort']],
];

function goSelector(sel: Any): string {
  const labels = Object.entries(sel?.matchLabels ?? {}).map(([k, v]) => `"${k}":"${v}"`).join(', ');
  return `v1.LabelSelector{MatchLabels:map[string]string{${labels}}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}`;
}

/** StatefulSet spec fields an update may change (`ValidateStatefulSetUpdate`, 1.32). */
const STATEFULSET_MUTABLE = ['replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy', 'minReadySeconds'];

/** What an update may not change in the built-in kinds, with the API server's messages (`pkg/apis/apps/validation`, `batch`, `core`). */
function immutability(type: ResourceType, obj: KObj, live: KObj): FieldError[] {
  const errors: FieldError[] = [];
  const spec = obj.spec as Any;
  const was = live.spec as Any;
  if (['Deployment', 'ReplicaSet', 'DaemonSet', 'StatefulSet'].includes(obj.kind) && !deepEqual(spec?.selector, was?.selector)) {
    errors.push({ reason: 'FieldValueInvalid', field: 'spec.selector', message: `Invalid value: ${goSelector(spec?.selector)}: field is immutable` });
  }
  if (obj.kind === 'StatefulSet') {
    const rest = (s: Any) => Object.fromEntries(Object.entries(s ?? {}).filter(([k]) => !STATEFULSET_MUTABLE.includes(k) && k !== 'selector'));
    if (!deepEqual(rest(spec), rest(was))) {
      errors.push({ reason: 'FieldValueForbidden', field: 'spec', message: `Forbidden: updates to statefulset spec for fields other than ${STATEFULSET_MUTABLE.slice(0, -1).map((f) => `'${f}'`).join(', ')} and 'minReadySeconds' are forbidden` });
    }
  }
  if (obj.kind === 'Job' && !deepEqual(spec?.template, was?.template)) {
    errors.push({ reason: 'FieldValueInvalid', field: 'spec.template', message: 'Invalid value: core.PodTemplateSpec{...}: field is immutable' });
  }
  if (obj.kind === 'Job' && !deepEqual(spec?.selector, was?.selector)) {
    errors.push({ reason: 'FieldValueInvalid', field: 'spec.selector', message: `Invalid value: ${goSelector(spec?.selector)}: field is immutable` });
  }
  if (obj.kind === 'Service' && was?.clusterIP && was.clusterIP !== 'None' && spec?.clusterIP !== was.clusterIP) {
    errors.push({ reason: 'FieldValueInvalid', field: 'spec.clusterIPs[0]', message: `Invalid value: []string{"${spec?.clusterIP ?? ''}"}: may not change once set` });
  }
  if ((obj.kind === 'ConfigMap' || obj.kind === 'Secret') && live.immutable === true) {
    if (obj.immutable !== true) errors.push({ reason: 'FieldValueForbidden', field: 'immutable', message: 'Forbidden: field is immutable when `immutable` is set' });
    if (!deepEqual(obj.data, live.data)) errors.push({ reason: 'FieldValueForbidden', field: 'data', message: 'Forbidden: field is immutable when `immutable` is set' });
    if (!deepEqual(obj.binaryData, live.binaryData) && obj.kind === 'ConfigMap') errors.push({ reason: 'FieldValueForbidden', field: 'binaryData', message: 'Forbidden: field is immutable when `immutable` is set' });
  }
  void type;
  return errors;
}

/** The validation a real API server would refuse these objects for (422 Invalid); `live` for updates. */
export function validate(type: ResourceType, obj: KObj, cluster: ObjectLookup, live?: KObj): void {
  const name = obj.metadata.name;
  if (!name) throw invalid(type, obj, 'metadata.name', 'Required value: name or generateName is required');
  const nameRule = type.kind === 'Namespace' || type.kind === 'Service' ? DNS_LABEL : DNS_SUBDOMAIN;
  if (!nameRule.test(name) || name.length > 253) {
    throw invalid(type, obj, 'metadata.name', `Invalid value: "${name}": a lowercase RFC 1123 ${nameRule === DNS_LABEL ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. '${nameRule === DNS_LABEL ? 'my-name' : 'example.com'}', regex used for validation is '${nameRule === DNS_LABEL ? "[a-z0-9]([-a-z0-9]*[a-z0-9])?" : "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"}')`);
  }
  const errors: FieldError[] = [...labelErrors(obj.metadata.labels, 'metadata.labels')];
  for (const [kinds, at, field, values] of ENUMS) {
    const v = kinds.includes(obj.kind) ? at(obj) : undefined;
    if (v !== undefined && !values.includes(v as string)) errors.push({ reason: 'FieldValueNotSupported', field, message: `Unsupported value: "${String(v)}": supported values: ${values.map((x) => `"${x}"`).join(', ')}` });
  }
  if (live) errors.push(...immutability(type, obj, live));
  if (errors.length) throw invalidError(type, name, errors);
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
    const structural = (spec.versions as Any[]).flatMap((v, i) => nonStructural(v.schema?.openAPIV3Schema, `spec.versions[${i}].schema.openAPIV3Schema`));
    if (structural.length) throw invalidError(type, name, structural);
  }
  if (type.crd) {
    const crd = cluster.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, type.crd);
    const version = crd?.spec?.versions?.find((v: Any) => v.name === type.version);
    const schema = version?.schema?.openAPIV3Schema;
    const custom = schema ? validateCustom(obj, schema) : [];
    if (custom.length) throw invalidError(type, name, custom);
  }
}
