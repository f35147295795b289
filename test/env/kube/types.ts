/** Kubernetes objects and the built-in resource types the API emulator serves. */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KObj = Record<string, any> & {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    [key: string]: any;
  };
};

export interface ResourceType {
  group: string;
  version: string;
  /** Plural, lower case: `deployments`. */
  resource: string;
  kind: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  verbs: string[];
  categories?: string[];
  /** For CRD types: the CRD's name. */
  crd?: string;
  /** Subresources served besides the built-in kinds' (`status` and `scale` of a CRD version). */
  subresources?: string[];
}

/** The subresources of the built-in kinds the emulator serves (`kubectl api-resources --subresource` lists them). */
const BUILTIN_SUBRESOURCES: Record<string, string[]> = {
  Deployment: ['status', 'scale'], ReplicaSet: ['status', 'scale'], StatefulSet: ['status', 'scale'], DaemonSet: ['status'],
  Job: ['status'], CronJob: ['status'], Pod: ['status'], Namespace: ['status'], Node: ['status'], Service: ['status'],
  CustomResourceDefinition: ['status'], ResourceQuota: ['status'], PersistentVolumeClaim: ['status'], HorizontalPodAutoscaler: ['status'],
};

export function subresourcesOf(type: ResourceType): string[] {
  return type.crd ? (type.subresources ?? []) : (BUILTIN_SUBRESOURCES[type.kind] ?? []);
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function t(group: string, version: string, resource: string, kind: string, namespaced: boolean, shortNames?: string[], categories?: string[]): ResourceType {
  return { group, version, resource, kind, singular: kind.toLowerCase(), namespaced, shortNames, verbs: ALL_VERBS, categories };
}

export const BUILTIN_TYPES: ResourceType[] = [
  t('', 'v1', 'namespaces', 'Namespace', false, ['ns']),
  t('', 'v1', 'nodes', 'Node', false, ['no']),
  t('', 'v1', 'pods', 'Pod', true, ['po'], ['all']),
  t('', 'v1', 'services', 'Service', true, ['svc'], ['all']),
  t('', 'v1', 'endpoints', 'Endpoints', true, ['ep']),
  t('', 'v1', 'configmaps', 'ConfigMap', true, ['cm']),
  t('', 'v1', 'secrets', 'Secret', true),
  t('', 'v1', 'serviceaccounts', 'ServiceAccount', true, ['sa']),
  t('', 'v1', 'events', 'Event', true, ['ev']),
  t('', 'v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', true, ['pvc']),
  t('', 'v1', 'resourcequotas', 'ResourceQuota', true, ['quota']),
  t('', 'v1', 'limitranges', 'LimitRange', true, ['limits']),
  t('', 'v1', 'endpoints', 'Endpoints', true, ['ep']),
  t('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  t('autoscaling', 'v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler', true, ['hpa'], ['all']),
  { ...t('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview', false), verbs: ['create'] },
  t('apps', 'v1', 'deployments', 'Deployment', true, ['deploy'], ['all']),
  t('apps', 'v1', 'replicasets', 'ReplicaSet', true, ['rs'], ['all']),
  t('apps', 'v1', 'statefulsets', 'StatefulSet', true, ['sts'], ['all']),
  t('apps', 'v1', 'daemonsets', 'DaemonSet', true, ['ds'], ['all']),
  t('apps', 'v1', 'controllerrevisions', 'ControllerRevision', true),
  t('batch', 'v1', 'jobs', 'Job', true, undefined, ['all']),
  t('batch', 'v1', 'cronjobs', 'CronJob', true, ['cj'], ['all']),
  t('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  t('networking.k8s.io', 'v1', 'ingresses', 'Ingress', true, ['ing']),
  t('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true, ['netpol']),
  t('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, ['pdb']),
  t('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
  t('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
  t('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  t('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  t('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false, ['crd', 'crds']),
  t('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', false),
  t('admissionregistration.k8s.io', 'v1', 'mutatingwebhookconfigurations', 'MutatingWebhookConfiguration', false),
  t('scheduling.k8s.io', 'v1', 'priorityclasses', 'PriorityClass', false, ['pc']),
  t('storage.k8s.io', 'v1', 'storageclasses', 'StorageClass', false, ['sc']),
];

export function groupVersion(type: Pick<ResourceType, 'group' | 'version'>): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** A Kubernetes `Status` failure. */
export class KubeStatus extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Record<string, unknown>) {
    super(message);
  }
  toJSON() {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, ...(this.reason ? { reason: this.reason } : {}), ...(this.details ? { details: this.details } : {}), code: this.code };
  }
}

export function notFound(type: ResourceType, name: string): KubeStatus {
  const what = type.group ? `${type.resource}.${type.group}` : type.resource;
  return new KubeStatus(404, 'NotFound', `${what} "${name}" not found`, { name, group: type.group || undefined, kind: type.resource });
}

/** Label selector matching: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`. */
export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  for (const raw of splitSelector(selector)) {
    const term = raw.trim();
    if (!term) continue;
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term))) {
      const values = m[3].split(',').map((v) => v.trim());
      const has = m[1] in l && values.includes(l[m[1]]);
      if (m[2] === 'in' ? !has : has) return false;
    } else if ((m = /^([\w./-]+)\s*(!=|==|=)\s*([\w.-]*)$/.exec(term))) {
      const eq = l[m[1]] === m[3];
      if (m[2] === '!=' ? eq : !eq) return false;
    } else if ((m = /^!([\w./-]+)$/.exec(term))) {
      if (m[1] in l) return false;
    } else if (!(term in l)) {
      return false;
    }
  }
  return true;
}

/** A label selector's terms: split at the commas outside `in (…)` and `notin (…)` sets. */
export function splitSelector(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Field selectors: `metadata.name=x`, `involvedObject.uid=…`, `a!=b`, comma-separated. */
export function matchesFieldSelector(obj: KObj, selector: string | undefined): boolean {
  if (!selector) return true;
  for (const term of selector.split(',')) {
    const m = /^([\w.]+)\s*(!=|==|=)\s*(.*)$/.exec(term.trim());
    if (!m) continue;
    const value = m[1].split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
    const eq = String(value ?? '') === m[3];
    if (m[2] === '!=' ? eq : !eq) return false;
  }
  return true;
}

/** matchLabels and matchExpressions of a LabelSelector object. */
export function selectorMatches(selector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] } | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in l;
    if (e.operator === 'In' && !(has && e.values?.includes(l[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values?.includes(l[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
