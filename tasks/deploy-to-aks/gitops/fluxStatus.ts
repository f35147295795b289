import type { FluxConfiguration } from '@azure/arm-kubernetesconfiguration';

/** One object's line of ARM's `statuses[]`. */
export interface FluxObjectStatus {
  kind: string;
  name: string;
  namespace?: string;
  complianceState: string;
  conditions: { type?: string; status?: string; reason?: string; message?: string; lastTransitionTime?: Date }[];
  /** The Kustomization that applied it; undefined for the GitRepository and Kustomizations themselves. */
  appliedBy?: string;
}

/** What one read of the fluxConfiguration says about our commit. */
export type FluxVerdict =
  | { state: 'pending'; say: string }
  | { state: 'applied'; revision: string; sha: string; superseded: boolean }
  | { state: 'failed'; say: string; objects: FluxObjectStatus[] };

export interface FluxTarget {
  sha: string;
  /** When our commit landed (ms): readings older than that are stale. */
  since: number;
  /** `<fluxConfiguration>-<kustomization key>`: the Kustomization object covering gitPath. */
  kustomization: string;
  /**
   * When the task began to wait (ms). A source failure counts only in a reading Flux made since: one reported just
   * before (a credential renewed a moment ago, not fetched with yet) is what Flux said about an earlier try.
   */
  waitingSince: number;
}

/**
 * A revision as Flux writes it: `main@sha1:<sha>` (RFC-0005, Flux 2.0 onwards) or the older `main/<sha>`
 * (gitops.md §2.4: both shapes appear in ARM). Undefined when no full SHA is in it.
 */
export function parseRevision(text: string | undefined): { branch?: string; sha: string } | undefined {
  if (!text) return undefined;
  const modern = /^(?:(.+)@)?sha1:([0-9a-f]{40})$/i.exec(text.trim());
  if (modern) return { branch: modern[1], sha: modern[2].toLowerCase() };
  const old = /^(?:(.+)\/)?([0-9a-f]{40})$/i.exec(text.trim());
  return old ? { branch: old[1], sha: old[2].toLowerCase() } : undefined;
}

/** `namespace/name`, or the name alone for an object without a namespace. */
export function objectName(o: FluxObjectStatus): string {
  return `${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
}

/** ARM's statuses[] in our shape. */
export function objectStatuses(config: FluxConfiguration): FluxObjectStatus[] {
  return (config.statuses ?? []).filter((s) => s !== null).map((s) => ({
    kind: s.kind ?? '', name: s.name ?? '', namespace: s.namespace, complianceState: s.complianceState ?? 'Unknown',
    conditions: s.statusConditions ?? [], appliedBy: s.appliedBy?.name,
  }));
}

/**
 * Judges one reading (gitops.md §3.3). Applied: the source is at our commit, or at a newer one that `contains`
 * ours, and the Kustomization is Ready with that revision and the configuration Compliant. Failed: the
 * Kustomization is Ready=False for the synced revision after it was synced, or objects it applied are
 * Non-Compliant. A reading whose statusUpdatedAt is older than our commit says nothing about it.
 */
export async function judge(config: FluxConfiguration, target: FluxTarget, contains: (descendant: string, ancestor: string) => Promise<boolean>): Promise<FluxVerdict> {
  const updated = config.statusUpdatedAt?.getTime();
  const synced = parseRevision(config.sourceSyncedCommitId);
  if (config.suspend || config.complianceState === 'Suspended') return { state: 'pending', say: 'the configuration is suspended' };
  if (updated !== undefined && updated < target.since - 1000) {
    return { state: 'pending', say: `status from ${config.statusUpdatedAt!.toISOString()}, before our commit (stale)` };
  }
  const objects = objectStatuses(config);
  const fetching = updated !== undefined && updated >= target.waitingSince ? sourceFailure(objects) : undefined;
  if (!synced) return fetching ?? { state: 'pending', say: `no source revision yet (${config.complianceState ?? 'Unknown'})` };
  const short = (sha: string) => sha.slice(0, 8);
  let superseded = false;
  if (synced.sha !== target.sha) {
    if (await contains(target.sha, synced.sha)) return fetching ?? { state: 'pending', say: `source at ${short(synced.sha)}, older than our ${short(target.sha)}: Flux has not fetched it yet` };
    if (!(await contains(synced.sha, target.sha))) {
      return { state: 'failed', say: `Flux reconciles ${config.sourceSyncedCommitId}, which does not contain our commit ${target.sha}: the branch was rewritten, or the configuration follows another branch`, objects: [] };
    }
    superseded = true;
  }
  const kustomization = objects.find((o) => o.kind === 'Kustomization' && o.name === target.kustomization);
  const ready = kustomization?.conditions.find((c) => c.type === 'Ready');
  const appliedBy = objects.filter((o) => o.appliedBy === target.kustomization);
  const sourceUpdated = config.sourceUpdatedAt?.getTime() ?? 0;
  const about = superseded ? `the newer ${short(synced.sha)}, which contains ours` : `our ${short(target.sha)}`;
  if (ready?.status === 'True' && parseRevision(/revision:?\s*'?([^\s']+)/i.exec(ready.message ?? '')?.[1])?.sha === synced.sha) {
    if (config.complianceState === 'Compliant') return { state: 'applied', revision: config.sourceSyncedCommitId!, sha: synced.sha, superseded };
    return { state: 'pending', say: `Kustomization ${target.kustomization} applied ${about}; configuration ${config.complianceState}` };
  }
  // A Ready=False from before the source reached this revision is the previous revision's failure.
  const failedAfterSync = ready?.status === 'False' && (ready.lastTransitionTime?.getTime() ?? Date.now()) >= sourceUpdated;
  const nonCompliant = appliedBy.filter((o) => o.complianceState === 'Non-Compliant');
  if (failedAfterSync) {
    const why = ready?.status === 'False' ? `${ready.reason}: ${ready.message}` : 'objects are Non-Compliant';
    return { state: 'failed', say: `Kustomization ${target.kustomization} failed on ${about}: ${why}`, objects: nonCompliant.length ? nonCompliant : appliedBy };
  }
  const progress = ready ? `${ready.status === 'Unknown' ? 'in progress' : ready.status}: ${ready.message ?? ready.reason ?? ''}` : 'no status yet';
  return { state: 'pending', say: `source at ${about}; Kustomization ${target.kustomization} ${progress} (${config.complianceState ?? 'Unknown'})` };
}

/**
 * A source that Flux cannot fetch (its GitRepository Ready=False: a refused credential, a repository or branch that
 * is gone), while our commit is not applied yet: Flux only retries the same fetch, so waiting would end at the
 * timeout with nothing more to say.
 */
function sourceFailure(objects: FluxObjectStatus[]): FluxVerdict | undefined {
  const source = objects.find((o) => o.kind === 'GitRepository');
  const ready = source?.conditions.find((c) => c.type === 'Ready');
  if (!source || ready?.status !== 'False') return undefined;
  return {
    state: 'failed',
    say: `Flux cannot fetch its source, GitRepository ${objectName(source)} (${ready.reason}: ${(ready.message ?? '').replace(/\.$/, '')}). Check the Flux configuration's repository URL, branch and credentials (its HTTPS user and token, or SSH key), then run again.`,
    // The condition is in the sentence already.
    objects: [],
  };
}
