import type { KObj, ResourceType } from '../types';

/** Whether the client asked for `Table` output (kubectl get does: `Accept: application/json;as=Table;…`). */
export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '');
}

function age(ts: string | undefined): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
  return s < 120 ? `${s}s` : `${Math.floor(s / 60)}m`;
}

/** The columns `kubectl get` prints per kind (priority 1: only with -o wide), as the API server's table printers. */
function columnsOf(type: ResourceType): [string, (o: KObj) => string, number?][] {
  switch (type.kind) {
    case 'Deployment': return [
      ['Ready', (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`],
      ['Up-to-date', (o) => String(o.status?.updatedReplicas ?? 0)],
      ['Available', (o) => String(o.status?.availableReplicas ?? 0)],
    ];
    case 'Pod': return [
      ['Ready', (o) => `${(o.status?.containerStatuses ?? []).filter((c: { ready: boolean }) => c.ready).length}/${o.spec?.containers?.length ?? 0}`],
      // printPod (pkg/printers/internalversion/printers.go): a pod being deleted that has not finished shows Terminating.
      ['Status', (o) => (o.metadata.deletionTimestamp && !['Succeeded', 'Failed'].includes(o.status?.phase) ? 'Terminating' : undefined)
        ?? (o.status?.containerStatuses ?? []).map((c: { state?: { waiting?: { reason: string } } }) => c.state?.waiting?.reason).find(Boolean) ?? o.status?.phase ?? 'Pending'],
      ['Restarts', (o) => String((o.status?.containerStatuses ?? []).reduce((n: number, c: { restartCount: number }) => n + c.restartCount, 0))],
      ['IP', (o) => o.status?.podIP ?? '<none>', 1],
      ['Node', (o) => o.spec?.nodeName ?? '<none>', 1],
    ];
    case 'Service': return [
      ['Type', (o) => o.spec?.type ?? 'ClusterIP'],
      ['Cluster-IP', (o) => o.spec?.clusterIP ?? '<none>'],
      ['External-IP', (o) => (o.status?.loadBalancer?.ingress ?? []).map((i: { ip: string }) => i.ip).join(',') || (o.spec?.type === 'LoadBalancer' ? '<pending>' : '<none>')],
      ['Port(s)', (o) => (o.spec?.ports ?? []).map((p: { port: number; nodePort?: number; protocol?: string }) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',')],
    ];
    case 'EndpointSlice': return [
      ['AddressType', (o) => o.addressType ?? ''],
      ['Ports', (o) => (o.ports ?? []).map((p: { port: number }) => p.port).join(',') || '<unset>'],
      ['Endpoints', (o) => (o.endpoints ?? []).flatMap((e: { addresses: string[] }) => e.addresses).join(',') || '<unset>'],
    ];
    case 'Namespace': return [['Status', (o) => o.status?.phase ?? 'Active']];
    // The columns of pkg/printers/internalversion/printers.go.
    case 'ReplicaSet': return [
      ['Desired', (o) => String(o.spec?.replicas ?? 0)], ['Current', (o) => String(o.status?.replicas ?? 0)], ['Ready', (o) => String(o.status?.readyReplicas ?? 0)],
    ];
    case 'StatefulSet': return [['Ready', (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 0}`]];
    case 'DaemonSet': return [
      ['Desired', (o) => String(o.status?.desiredNumberScheduled ?? 0)], ['Current', (o) => String(o.status?.currentNumberScheduled ?? 0)],
      ['Ready', (o) => String(o.status?.numberReady ?? 0)], ['Up-to-date', (o) => String(o.status?.updatedNumberScheduled ?? 0)],
      ['Available', (o) => String(o.status?.numberAvailable ?? 0)],
      ['Node Selector', (o) => Object.entries(o.spec?.template?.spec?.nodeSelector ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>'],
    ];
    case 'ConfigMap': return [['Data', (o) => String(Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length)]];
    case 'Secret': return [['Type', (o) => o.type ?? 'Opaque'], ['Data', (o) => String(Object.keys(o.data ?? {}).length)]];
    case 'ResourceQuota': return [];
    case 'HorizontalPodAutoscaler': return [
      ['Reference', (o) => `${o.spec?.scaleTargetRef?.kind ?? ''}/${o.spec?.scaleTargetRef?.name ?? ''}`],
      ['Targets', (o) => ((o.spec?.metrics ?? []) as { resource?: { name: string; target?: { averageUtilization?: number } } }[])
        .map((m) => `${m.resource?.name ?? ''}: <unknown>/${m.resource?.target?.averageUtilization ?? ''}%`).join(', ') || '<none>'],
      ['MinPods', (o) => String(o.spec?.minReplicas ?? 1)], ['MaxPods', (o) => String(o.spec?.maxReplicas ?? 0)], ['Replicas', (o) => String(o.status?.currentReplicas ?? 0)],
    ];
    default: return [];
  }
}

function partial(o: KObj) {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

/** A `meta.k8s.io/v1` Table of `items`, with the columns kubectl prints for their kind. */
export function toTable(type: ResourceType, items: KObj[], resourceVersion: string, includeObject: boolean) {
  if (type.kind === 'Event') {
    const columns: [string, number, (e: KObj) => string][] = [
      ['Last Seen', 0, (e) => age(e.lastTimestamp)], ['Type', 0, (e) => e.type], ['Reason', 0, (e) => e.reason],
      ['Object', 0, (e) => `${String(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`], ['Message', 0, (e) => e.message],
      ['Name', 1, (e) => e.metadata.name],
    ];
    return {
      kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion },
      columnDefinitions: columns.map(([name, priority]) => ({ name, type: 'string', format: name === 'Name' ? 'name' : '', description: name, priority })),
      rows: items.map((o) => ({ cells: columns.map(([, , cell]) => cell(o)), object: partial(o) })),
    };
  }
  // Age comes after the columns always shown and before the -o wide ones, as kubectl prints them.
  const kind = columnsOf(type);
  const columns: [string, (o: KObj) => string, number?][] = [...kind.filter(([, , p]) => !p), ['Age', (o) => age(o.metadata.creationTimestamp as string)], ...kind.filter(([, , p]) => p)];
  return {
    kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
      ...columns.map(([n, , priority]) => ({ name: n, type: 'string', format: '', description: n, priority: priority ?? 0 })),
    ],
    rows: items.map((o) => ({
      cells: [o.metadata.name, ...columns.map(([, f]) => f(o))],
      object: includeObject ? o : partial(o),
    })),
  };
}
