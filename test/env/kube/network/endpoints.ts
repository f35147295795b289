import { createHash } from 'node:crypto';
import type { KubeCluster } from '../cluster';
import { isReady, sameStatus } from '../status';
import { selectorMatches, type KObj } from '../types';
import { resolvePort } from '../kubelet/probes';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** One ready (or not) address of a Service port's backends. */
export interface Endpoint {
  ip: string;
  port: number;
  ready: boolean;
  pod: string;
}

/**
 * The EndpointSlice controller (and the Endpoints one beside it) for one Service: the pods that its selector
 * matches and that have an address, each with its readiness (conditions.ready from the pod's Ready condition,
 * serving, terminating), and the Service's ports with targetPort resolved (a number, or a named containerPort).
 * One slice per Service, named `<service>-<hash>` and labelled kubernetes.io/service-name, as
 * pkg/controller/endpointslice names them; Endpoints list ready addresses and notReadyAddresses.
 */
export function reconcileEndpoints(cluster: KubeCluster, svc: KObj): void {
  const spec = svc.spec as Any;
  if (!spec?.selector || !Object.keys(spec.selector).length) return;
  const ns = svc.metadata.namespace!;
  const pods = cluster.list('v1', 'Pod', ns, (p) => selectorMatches({ matchLabels: spec.selector }, p.metadata.labels) && !!p.status?.podIP && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  const ownerReferences = [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata.name, uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }];
  const ports = ((spec.ports ?? []) as Any[]).map((p) => ({ name: p.name ?? '', port: targetPortOf(p, pods[0]), protocol: p.protocol ?? 'TCP' }));
  const endpoints = pods.map((p) => {
    const ready = isReady(p) && !p.metadata.deletionTimestamp;
    return {
      addresses: [p.status.podIP], conditions: { ready, serving: isReady(p), terminating: !!p.metadata.deletionTimestamp },
      nodeName: p.spec.nodeName, targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, uid: p.metadata.uid },
    };
  });
  const name = `${svc.metadata.name}-${createHash('sha256').update(svc.metadata.uid ?? svc.metadata.name).digest('hex').slice(0, 5)}`;
  const slice: KObj = {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: {
      name, namespace: ns, ownerReferences,
      labels: { 'kubernetes.io/service-name': svc.metadata.name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
    },
    addressType: 'IPv4', endpoints, ports,
  };
  writeIfChanged(cluster, slice, (o) => ({ endpoints: o.endpoints, ports: o.ports }));
  const address = (p: KObj) => ({ ip: p.status!.podIP, nodeName: p.spec.nodeName, targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, uid: p.metadata.uid } });
  const ready = pods.filter((p) => isReady(p) && !p.metadata.deletionTimestamp);
  const notReady = pods.filter((p) => !ready.includes(p));
  const subset = { ...(ready.length ? { addresses: ready.map(address) } : {}), ...(notReady.length ? { notReadyAddresses: notReady.map(address) } : {}), ports: ports.map((p) => ({ ...p, name: p.name || undefined })) };
  writeIfChanged(cluster, {
    apiVersion: 'v1', kind: 'Endpoints', metadata: { name: svc.metadata.name, namespace: ns, labels: { ...svc.metadata.labels } },
    subsets: pods.length ? [subset] : [],
  }, (o) => ({ subsets: o.subsets }));
}

/** The ready backends of one Service port, by the Service's EndpointSlice (what kube-proxy reads). */
export function readyEndpoints(cluster: KubeCluster, svc: KObj, servicePort: Any): Endpoint[] {
  const slices = cluster.list('discovery.k8s.io/v1', 'EndpointSlice', svc.metadata.namespace, (s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name);
  return slices.flatMap((s) => {
    const port = ((s.ports ?? []) as Any[]).find((p) => (p.name ?? '') === (servicePort.name ?? ''))?.port;
    if (!port) return [];
    return ((s.endpoints ?? []) as Any[]).filter((e) => e.conditions?.ready).map((e) => ({ ip: e.addresses[0], port, ready: true, pod: e.targetRef?.name ?? '' }));
  });
}

function targetPortOf(p: Any, pod: KObj | undefined): number {
  const target = p.targetPort ?? p.port;
  if (typeof target === 'number' || /^\d+$/.test(String(target))) return Number(target);
  const ports = ((pod?.spec.containers ?? []) as Any[]).flatMap((c) => c.ports ?? []);
  return resolvePort(target, ports) ?? p.port;
}

function writeIfChanged(cluster: KubeCluster, obj: KObj, content: (o: Any) => unknown): void {
  const live = cluster.get(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
  if (live && sameStatus(content(live), content(obj))) return;
  cluster.put(live ? { ...live, ...obj, metadata: { ...live.metadata, ...obj.metadata } } : obj);
}
