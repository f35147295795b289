import { UserError } from '../../common/errors';
import { applyObject, describeObject, explainApiError, objectPath, type ApplyOutcome, type Discovery, type ResourceInfo } from '../apply';
import { KubeApiError, type KObj, type KubeClient } from '../kubeClient';

/** Reads, applies and deletes single objects by kind, for the strategies. */
export class ClusterObjects {
  constructor(private readonly client: KubeClient, private readonly discovery: Discovery) {}

  private async info(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const info = await this.discovery.resolve(apiVersion, kind);
    if (!info) throw new UserError(`The cluster does not serve ${kind} (${apiVersion}).${kind === 'HTTPRoute' ? ' Install the Gateway API (on AKS: the Managed Gateway API or a gateway add-on), or use trafficSplit replicas.' : ''}`);
    return info;
  }

  async get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<KObj | undefined> {
    const info = await this.info(apiVersion, kind);
    try {
      const { body } = await this.client.request<KObj>('GET', objectPath(apiVersion, info, namespace, name));
      return { ...body, apiVersion, kind };
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw explainApiError(err, { apiVersion, kind, metadata: { name, namespace } }, 'strategy', 'get');
    }
  }

  async list(apiVersion: string, kind: string, namespace: string, labelSelector?: string): Promise<KObj[]> {
    const info = await this.info(apiVersion, kind);
    const { body } = await this.client.request<{ items: KObj[] }>('GET', objectPath(apiVersion, info, namespace), { query: labelSelector ? { labelSelector } : undefined });
    return body.items.map((o) => ({ ...o, apiVersion, kind }));
  }

  async apply(obj: KObj): Promise<ApplyOutcome> {
    return applyObject(this.client, obj, await this.info(obj.apiVersion, obj.kind), false, describeObject(obj));
  }

  /** A JSON merge patch (the HTTPRoute's rules, a Deployment's replicas). */
  async merge(obj: KObj, patch: Record<string, unknown>): Promise<KObj> {
    const info = await this.info(obj.apiVersion, obj.kind);
    try {
      const { body } = await this.client.request<KObj>('PATCH', objectPath(obj.apiVersion, info, obj.metadata.namespace, obj.metadata.name), { body: patch, contentType: 'application/merge-patch+json' });
      return { ...body, apiVersion: obj.apiVersion, kind: obj.kind };
    } catch (err) {
      throw explainApiError(err, obj, 'strategy', 'patch');
    }
  }

  /** Deletes the object; false when it was not there. */
  async remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): Promise<boolean> {
    const info = await this.info(apiVersion, kind);
    try {
      await this.client.request('DELETE', objectPath(apiVersion, info, namespace, name), { query: { propagationPolicy: 'Background' } });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return false;
      throw explainApiError(err, { apiVersion, kind, metadata: { name, namespace } }, 'strategy', 'delete');
    }
  }
}
