import type { Exchange } from '../../http';
import { KubeStatus, subresourcesOf, type ResourceType } from '../types';

/** What `/version` answers: the AKS 1.32 patch release the emulator stands for. */
export const VERSION_INFO = {
  major: '1', minor: '32', gitVersion: 'v1.32.6', gitCommit: 'emulator', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23.10', compiler: 'gc', platform: 'linux/amd64',
};

export function apiVersions(port: number) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${port}` }] };
}

export function groupList(types: ResourceType[]) {
  const groups = new Map<string, string[]>();
  for (const t of types) {
    if (!t.group) continue;
    const versions = groups.get(t.group) ?? [];
    if (!versions.includes(t.version)) versions.push(t.version);
    groups.set(t.group, versions);
  }
  return {
    kind: 'APIGroupList', apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => ({
      name, versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${versions[0]}`, version: versions[0] },
    })),
  };
}

export function resourceList(types: ResourceType[], group: string, version: string) {
  const resources: Record<string, unknown>[] = [];
  for (const t of types.filter((ty) => ty.group === group && ty.version === version)) {
    resources.push({
      name: t.resource, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: t.verbs,
      ...(t.shortNames ? { shortNames: t.shortNames } : {}), ...(t.categories ? { categories: t.categories } : {}),
      storageVersionHash: Buffer.from(`${group}/${version}/${t.kind}`).toString('base64').slice(0, 11),
    });
    for (const sub of subresourcesOf(t)) {
      const scale = sub === 'scale';
      resources.push({
        name: `${t.resource}/${sub}`, singularName: '', namespaced: t.namespaced, kind: scale ? 'Scale' : t.kind, verbs: ['get', 'patch', 'update'],
        ...(scale ? { group: 'autoscaling', version: 'v1' } : {}),
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

/**
 * OpenAPI v3: the root lists one document per group version; each document holds the paths of its resources
 * with their PATCH operation's GVK and query parameters, which is what kubectl reads to decide that the server
 * validates fields itself (`fieldValidation`). Schemas are not served (v2 answers 404).
 */
export function serveOpenapi(x: Exchange, path: string, types: ResourceType[], rv: number): void {
  if (path === '/openapi/v3') {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const t of types) {
      const gv = t.group ? `apis/${t.group}/${t.version}` : `api/${t.version}`;
      paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${rv.toString(16).padStart(16, '0')}` };
    }
    return x.sendJson(200, { paths });
  }
  const m = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
  const gvTypes = m ? types.filter((t) => t.group === (m[2] ?? '') && t.version === (m[1] ?? m[3])) : [];
  if (!gvTypes.length) return x.sendJson(404, new KubeStatus(404, 'NotFound', 'the server could not find the requested resource').toJSON());
  const query = ['dryRun', 'fieldManager', 'fieldValidation', 'force', 'pretty'].map((name) => ({ name, in: 'query', schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true } }));
  const paths: Record<string, unknown> = {};
  for (const t of gvTypes) {
    const prefix = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
    const item = `${prefix}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.resource}/{name}`;
    const gvk = { group: t.group, version: t.version, kind: t.kind };
    paths[item] = {
      parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }, ...(t.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }] : [])],
      get: { operationId: `read${t.kind}`, 'x-kubernetes-action': 'get', 'x-kubernetes-group-version-kind': gvk, responses: { 200: { description: 'OK' } } },
      patch: { operationId: `patch${t.kind}`, 'x-kubernetes-action': 'patch', 'x-kubernetes-group-version-kind': gvk, parameters: query, responses: { 200: { description: 'OK' }, 201: { description: 'Created' } } },
      delete: { operationId: `delete${t.kind}`, 'x-kubernetes-action': 'delete', 'x-kubernetes-group-version-kind': gvk, responses: { 200: { description: 'OK' } } },
    };
  }
  x.sendJson(200, { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.6' }, paths, components: { schemas: {} } });
}
