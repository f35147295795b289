import * as models from '@kubernetes/client-node';

/**
 * The shape of the built-in kinds, from the models `@kubernetes/client-node` generates from the published
 * Kubernetes OpenAPI spec (each model's `attributeTypeMap`: field names, types and formats), plus the list
 * semantics the spec declares on those fields (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`,
 * `x-kubernetes-patch-merge-key`, `x-kubernetes-patch-strategy`), which the generated models do not carry.
 */
export type SchemaNode =
  | { kind: 'object'; model: string }
  | { kind: 'map'; of: SchemaNode }
  | { kind: 'list'; of: SchemaNode; owner?: string; field?: string }
  | { kind: 'scalar'; type: 'string' | 'number' | 'boolean' | 'date' | 'int-or-string'; format?: string }
  | { kind: 'json'; schema: JsonSchema }
  | { kind: 'any' };

/** A CRD's structural schema (`openAPIV3Schema`), as far as the emulator enforces it. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  enum?: unknown[];
  format?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-embedded-resource'?: boolean;
}

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

const registry = models as unknown as Record<string, { attributeTypeMap?: Attribute[] } | undefined>;

/** The generated model of a kind: `V1Deployment`, `V2HorizontalPodAutoscaler`, `CoreV1Event`… */
export function modelOf(apiVersion: string, kind: string): string | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const v = version.charAt(0).toUpperCase() + version.slice(1);
  const prefix = group.split('.')[0].replace(/^./, (c) => c.toUpperCase());
  for (const name of [`${v}${kind}`, `${group ? prefix : 'Core'}${v}${kind}`]) if (registry[name]?.attributeTypeMap) return name;
  return undefined;
}

export function attributes(model: string): Attribute[] {
  return registry[model]?.attributeTypeMap ?? [];
}

/** The schema node a generated type string stands for. */
export function nodeOf(type: string, format = '', owner?: string, field?: string): SchemaNode {
  let m: RegExpExecArray | null;
  if ((m = /^Array<(.+)>$/.exec(type))) return { kind: 'list', of: nodeOf(m[1]), owner, field };
  if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) return { kind: 'map', of: nodeOf(m[1]) };
  if (type === 'string') return { kind: 'scalar', type: 'string', format };
  if (type === 'number') return { kind: 'scalar', type: 'number', format };
  if (type === 'boolean') return { kind: 'scalar', type: 'boolean' };
  if (type === 'Date') return { kind: 'scalar', type: 'date' };
  if (type === 'IntOrString') return { kind: 'scalar', type: 'int-or-string' };
  if (registry[type]?.attributeTypeMap) return { kind: 'object', model: type };
  return { kind: 'any' };
}

/** The node of field `name` inside an object node (undefined: the field is not declared). */
export function fieldNode(model: string, name: string): SchemaNode | undefined {
  const a = attributes(model).find((x) => x.baseName === name);
  return a && nodeOf(a.type, a.format, model, name);
}

/** How a list is merged: by keys (`map`), as a set of scalars (`set`), or replaced whole (`atomic`). */
export interface ListSemantics {
  type: 'map' | 'set' | 'atomic';
  keys?: string[];
  /** Defaults of key fields, as the schema's `default` gives them (a missing `protocol` is TCP). */
  keyDefaults?: Record<string, unknown>;
  /** Strategic merge patch: the patch merge key (undefined: the list is replaced). */
  mergeKey?: string;
  /** Strategic merge patch of a list of scalars with `patchStrategy: merge`. */
  mergeScalars?: boolean;
}

const TCP = { protocol: 'TCP' };

/**
 * `x-kubernetes-list-type` / `-list-map-keys` and the patch merge keys of the built-in types' lists, as the
 * Kubernetes 1.32 OpenAPI spec (`api/openapi-spec/v3/*.json`) declares them, keyed by `<model>.<field>`. Lists
 * not named here are atomic and replaced by a strategic merge patch, as the spec says for lists without them.
 */
const LISTS: Record<string, ListSemantics> = {
  'V1PodSpec.containers': { type: 'map', keys: ['name'], mergeKey: 'name' },
  'V1PodSpec.initContainers': { type: 'map', keys: ['name'], mergeKey: 'name' },
  'V1PodSpec.ephemeralContainers': { type: 'map', keys: ['name'], mergeKey: 'name' },
  'V1PodSpec.volumes': { type: 'map', keys: ['name'], mergeKey: 'name' },
  'V1PodSpec.imagePullSecrets': { type: 'map', keys: ['name'], mergeKey: 'name' },
  'V1PodSpec.hostAliases': { type: 'map', keys: ['ip'], mergeKey: 'ip' },
  'V1PodSpec.topologySpreadConstraints': { type: 'map', keys: ['topologyKey', 'whenUnsatisfiable'], mergeKey: 'topologyKey' },
  'V1PodSpec.resourceClaims': { type: 'map', keys: ['name'], mergeKey: 'name' },
  'V1PodSpec.schedulingGates': { type: 'map', keys: ['name'], mergeKey: 'name' },
  'V1Container.env': { type: 'map', keys: ['name'], mergeKey: 'name' },
  'V1Container.ports': { type: 'map', keys: ['containerPort', 'protocol'], keyDefaults: TCP, mergeKey: 'containerPort' },
  'V1Container.volumeMounts': { type: 'map', keys: ['mountPath'], mergeKey: 'mountPath' },
  'V1Container.volumeDevices': { type: 'map', keys: ['devicePath'], mergeKey: 'devicePath' },
  'V1Container.resizePolicy': { type: 'atomic' },
  'V1EphemeralContainer.env': { type: 'map', keys: ['name'], mergeKey: 'name' },
  'V1ServiceSpec.ports': { type: 'map', keys: ['port', 'protocol'], keyDefaults: TCP, mergeKey: 'port' },
  'V1ServiceSpec.clusterIPs': { type: 'atomic' },
  'V1ObjectMeta.finalizers': { type: 'set', mergeScalars: true },
  'V1ObjectMeta.ownerReferences': { type: 'map', keys: ['uid'], mergeKey: 'uid' },
  'V1DeploymentStatus.conditions': { type: 'map', keys: ['type'], mergeKey: 'type' },
  'V1ReplicaSetStatus.conditions': { type: 'map', keys: ['type'], mergeKey: 'type' },
  'V1StatefulSetStatus.conditions': { type: 'map', keys: ['type'], mergeKey: 'type' },
  'V1DaemonSetStatus.conditions': { type: 'map', keys: ['type'], mergeKey: 'type' },
  'V1JobStatus.conditions': { type: 'atomic', mergeKey: 'type' },
  'V1PodStatus.conditions': { type: 'map', keys: ['type'], mergeKey: 'type' },
  'V1NodeStatus.conditions': { type: 'map', keys: ['type'], mergeKey: 'type' },
  'V1NamespaceStatus.conditions': { type: 'map', keys: ['type'], mergeKey: 'type' },
  'V1PersistentVolumeClaimSpec.accessModes': { type: 'atomic' },
  'V1StatefulSetSpec.volumeClaimTemplates': { type: 'atomic' },
};

export function listSemantics(node: SchemaNode | undefined): ListSemantics {
  if (node?.kind === 'json') {
    const t = node.schema['x-kubernetes-list-type'];
    if (t === 'map') return { type: 'map', keys: node.schema['x-kubernetes-list-map-keys'] ?? [] };
    return { type: t === 'set' ? 'set' : 'atomic' };
  }
  if (node?.kind === 'list' && node.owner && node.field) {
    const known = LISTS[`${node.owner}.${node.field}`];
    if (known) return known;
  }
  return { type: 'atomic' };
}

/** The Go name of a generated model, as decoding errors name struct fields (`V1DeploymentSpec` → `DeploymentSpec`). */
export function goName(model: string): string {
  return model.replace(/^(?:[A-Z][a-z]+)?V\d+(?:alpha\d+|beta\d+)?/, '');
}

/** The Go type of a node, as decoding errors name it (`int32`, `string`, `v1.PodSpec`, `map[string]string`). */
export function goType(node: SchemaNode): string {
  switch (node.kind) {
    case 'object': return `v1.${goName(node.model)}`;
    case 'map': return `map[string]${goType(node.of)}`;
    case 'list': return `[]${goType(node.of)}`;
    case 'any': case 'json': return 'interface {}';
    case 'scalar':
      if (node.type === 'number') return node.format || 'float64';
      if (node.type === 'boolean') return 'bool';
      if (node.type === 'int-or-string') return 'intstr.IntOrString';
      return 'string';
  }
}
