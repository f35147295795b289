import { sdkNetworkFailure } from '../common/http';
import { UserError, errorMessage, isUserError } from '../common/errors';
import type { TaskLog } from '../common/log';
import { sleep } from '../common/retry';
import { KubeApiError, isSchemaRefusal, type KObj, type KubeClient } from './kubeClient';

/** The field manager of every apply: the same in every run, so a later apply removes what an earlier one set. */
export const FIELD_MANAGER = 'aks-secure-delivery';

export interface ResourceInfo {
  resource: string;
  namespaced: boolean;
}

/** Discovery of resource types per group version, refreshed when a kind is missing (a CRD just established). */
export class Discovery {
  private readonly cache = new Map<string, Map<string, ResourceInfo> | null>();

  constructor(private readonly client: KubeClient) {}

  async resolve(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    let types = await this.load(apiVersion, false);
    if (!types?.has(kind)) types = await this.load(apiVersion, true);
    return types?.get(kind);
  }

  private async load(apiVersion: string, refresh: boolean): Promise<Map<string, ResourceInfo> | null> {
    if (!refresh && this.cache.has(apiVersion)) return this.cache.get(apiVersion)!;
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    try {
      const { body } = await this.client.request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>('GET', path);
      const types = new Map<string, ResourceInfo>();
      for (const r of body.resources ?? []) if (!r.name.includes('/')) types.set(r.kind, { resource: r.name, namespaced: r.namespaced });
      this.cache.set(apiVersion, types);
      return types;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) {
        this.cache.set(apiVersion, null);
        return null;
      }
      throw err;
    }
  }
}

export function objectPath(apiVersion: string, info: ResourceInfo, namespace: string | undefined, name?: string): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return `${base}${info.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : ''}/${info.resource}${name ? `/${encodeURIComponent(name)}` : ''}`;
}

/** `Deployment shop/web` or `ClusterRole reader`: how objects are named in the log and in errors. */
export function describeObject(obj: KObj): string {
  return `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
}

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface ApplyOutcome {
  action: ApplyAction;
  live: KObj;
  /** The object as it was before, when it existed. */
  before?: KObj;
}

/**
 * Server-side applies one object with the task's field manager and force (the pipeline owns these fields), as raw
 * JSON. Reads the object first, to report created / configured / unchanged and to keep the previous state.
 */
export async function applyObject(client: KubeClient, obj: KObj, info: ResourceInfo, dryRun: boolean, source: string): Promise<ApplyOutcome> {
  const path = objectPath(obj.apiVersion, info, obj.metadata.namespace, obj.metadata.name);
  let before: KObj | undefined;
  try {
    before = (await client.request<KObj>('GET', path)).body;
  } catch (err) {
    if (!(err instanceof KubeApiError && (err.status === 404 || err.status === 403))) throw explainApiError(err, obj, source, 'get');
  }
  try {
    const { status, body } = await client.request<KObj>('PATCH', path, {
      query: { dryRun: dryRun ? 'All' : undefined, fieldManager: FIELD_MANAGER, force: 'true', fieldValidation: 'Strict' },
      body: obj,
      contentType: 'application/apply-patch+yaml',
    });
    // A dry run persists nothing, so the resource version says nothing: compare the objects instead.
    const same = dryRun ? sameObject(before, body) : body.metadata.resourceVersion === before?.metadata.resourceVersion;
    const action: ApplyAction = status === 201 || !before ? 'created' : same ? 'unchanged' : 'configured';
    return { action, live: body, before };
  } catch (err) {
    throw explainApiError(err, obj, source, 'patch');
  }
}

function sameObject(a: KObj | undefined, b: KObj): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with sorted keys and without the fields every write changes. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => {
    if (key === 'managedFields' || key === 'resourceVersion') return undefined;
    if (v && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]));
    return v;
  });
}

/** Turns an API server refusal into a message that names the object and says what to change. */
export function explainApiError(err: unknown, obj: KObj, source: string, verb: string): Error {
  if (isUserError(err)) return err;
  const what = `${describeObject(obj)} (${source})`;
  if (!(err instanceof KubeApiError)) return unreachable(err, what);
  const message = err.message;
  if (err.status === 401) return new UserError(`${what}: the API server did not accept the task's credentials (401 Unauthorized). Check that the service connection's identity can sign in to this cluster.`, { cause: err });
  if (err.status === 403 && /admission webhook|denied the request|violat/i.test(message)) {
    return new UserError(`${what} was denied by the cluster's admission policy: ${message}. Change the object so that it meets the policy, or ask the cluster's administrators for an exemption.`, { cause: err });
  }
  if (err.status === 403) {
    return new UserError(`${what}: the task's identity may not ${verb} it: ${message}. Grant the identity a Role or ClusterRole (through a binding) that allows get and patch on ${err.details?.kind ?? obj.kind.toLowerCase()}${obj.metadata.namespace ? ` in namespace '${obj.metadata.namespace}'` : ''}.`, { cause: err });
  }
  if (err.status === 404 && /namespaces? "[^"]+" not found/.test(message)) {
    const ns = /namespaces? "([^"]+)"/.exec(message)![1];
    return new UserError(`${what}: the namespace '${ns}' does not exist. Add a Namespace object to the manifests, create the namespace, or change the 'namespace' input.`, { cause: err });
  }
  const immutable = (err.details?.causes ?? []).filter((c) => /immutable/.test(c.message ?? '')).map((c) => c.field).filter((f): f is string => !!f);
  if (err.status === 422 && (immutable.length || /field is immutable/.test(message))) {
    const fields = immutable.length ? immutable.join(', ') : 'a field that cannot change';
    const ns = obj.metadata.namespace ? ` -n ${obj.metadata.namespace}` : '';
    return new UserError(`${what}: the cluster refuses to change ${fields}, which cannot change once the object exists (${message}). It was left as it is. `
      + `To apply the new value, delete the object and deploy again (kubectl delete ${obj.kind.toLowerCase()} ${obj.metadata.name}${ns}), or give it a new name.`, { cause: err });
  }
  if (err.status === 422 || err.status === 400 || isSchemaRefusal(err.status, message)) return new UserError(`${what} is invalid: ${message}. Fix the manifest.`, { cause: err });
  if (err.status === 409) return new UserError(`${what}: ${message}.`, { cause: err });
  return new Error(`${what}: the API server answered ${err.status}: ${message}`, { cause: err });
}

/** A network failure reaching the API server, as the fix a person can make. */
export function unreachable(err: unknown, what: string, server?: string): Error {
  // Through the agent's proxy, the failure may be the proxy's (407, a refused tunnel): say so, naming the proxy.
  const viaProxy = server && /Bad response: \d+/.test(errorMessage(err)) ? sdkNetworkFailure(err, server) : undefined;
  if (viaProxy) return new UserError(`${what}: the API server ${server} could not be reached: ${viaProxy}.`, { cause: err });
  const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (code && /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN|CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
    const tls = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code);
    return new UserError(`${what}: the API server${server ? ` ${server}` : ''} could not be reached (${code}). ${tls
      ? "Its TLS certificate is not trusted: check the kubeconfig's certificate-authority-data."
      : 'Check the server address, that the cluster is running, and for a private cluster that the agent runs in its network (a self-hosted agent).'}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(errorMessage(err));
}

/** Waits until a CRD is Established (its resources are served), or fails naming it. */
export async function waitForCrd(client: KubeClient, name: string, log: TaskLog, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await client.request<KObj>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`);
    const conditions = (body.status?.conditions ?? []) as { type: string; status: string; message?: string; reason?: string }[];
    if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) {
      log.info(`CustomResourceDefinition ${name} is established`);
      return;
    }
    const names = conditions.find((c) => c.type === 'NamesAccepted' && c.status === 'False');
    if (names) throw new UserError(`CustomResourceDefinition ${name}: its names were not accepted: ${names.message ?? names.reason}. Change spec.names.`);
    if (Date.now() > until) throw new UserError(`CustomResourceDefinition ${name} was not established within ${Math.round(timeoutMs / 1000)} s.`);
    await sleep(200);
  }
}
