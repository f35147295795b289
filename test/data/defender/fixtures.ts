/**
 * Defender for Containers records in the shapes of reference/defender-scan-check.md §1.2–1.4, for the Resource Graph
 * emulator's findings folder: the individual-recommendations model (with the variations seen in the field: PascalCase
 * or camelCase keys, JSON kept as strings or as objects, CVSS as an array or a map, exploitability under either
 * name, the push time top-level or nested) and the retired sub-assessment model. Big fixtures are generated here at
 * run time rather than committed.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const SUBSCRIPTION = '0b1f6e2a-9c4d-4e11-a7f2-3c5d6e7f8a90';
const REGISTRY_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/delivery-nonprod/providers/Microsoft.ContainerRegistry/registries/contosodev`;

export interface CveSpec {
  id: string;
  /** Critical, High, Medium, Low, Unknown, '' or anything Defender may write; undefined leaves the field out. */
  severity?: string;
  cvss?: number;
  vector?: string;
  fixStatus?: string;
  fixedVersion?: string;
  published?: string;
  exploitKit?: boolean;
}

export interface PackageSpec {
  name: string;
  installed: string;
  fixedVersion?: string;
  fixStatus?: string;
  /** The recommendation's own severity (individual model). */
  severity?: string;
  cves: CveSpec[];
}

export type Variant = 'pascal' | 'camel';

export interface RecordOptions {
  repository: string;
  /** When the digest was pushed, as Defender records it. */
  pushedAt?: string;
  /** When the records were made (the scan); before pushedAt means an older scan. */
  generatedAt?: string;
  variant?: Variant;
  status?: 'Unhealthy' | 'Healthy' | 'NotApplicable';
}

const DEFAULT_PUSHED = '2026-09-02T07:41:10Z';
const DEFAULT_GENERATED = '2026-09-02T07:55:00Z';

/** One individual-model assessment: one image × one software package, its CVEs inside a JSON string. */
export function assessmentRecord(digest: string, pkg: PackageSpec, o: RecordOptions): Record<string, unknown> {
  const hex = digest.replace(/^sha256:/, '');
  const repoSlug = o.repository.replace(/\//g, '-');
  const variant = o.variant ?? 'pascal';
  const pushedAt = o.pushedAt ?? DEFAULT_PUSHED;
  const generatedAt = o.generatedAt ?? DEFAULT_GENERATED;
  const imageId = `${REGISTRY_ID}/repositories-${repoSlug}-images-sha256:${hex}`;
  const id = `${imageId}/providers/Microsoft.Security/assessments/${randomUUID()}`;
  if (variant === 'camel') {
    // camelCase keys, objects instead of JSON strings, CVSS as a map by version, the push time at the top.
    return {
      id, name: id.split('/').pop(), type: 'Microsoft.Security/assessments', subscriptionId: SUBSCRIPTION,
      properties: {
        displayName: `Update ${pkg.name}`,
        status: { code: o.status ?? 'Unhealthy', statusChangeDate: generatedAt },
        metadata: { severity: pkg.severity ?? 'High', recommendationCategory: 'SoftwareUpdate' },
        resourceDetails: { source: 'Azure', resourceType: '.containerimage', id: imageId },
        resourceAdditionalData: { digest, lastPushedToRegistryUtc: pushedAt, repositoryDetails: { repositoryName: o.repository } },
        additionalData: {
          softwareName: pkg.name, packageType: 'OS', language: '',
          detectedSoftwareVersions: [pkg.installed], fixedVersion: pkg.fixedVersion ?? '',
          scannersDetails: { agentlessmdvm: { detectedSoftwareVersions: [pkg.installed], fixedVersion: pkg.fixedVersion ?? '', fixStatus: pkg.fixStatus ?? (pkg.fixedVersion ? 'FixAvailable' : 'NoFixAvailable') } },
          cvesDetails: pkg.cves.map((c) => ({
            cveId: c.id, ...(c.severity === undefined ? {} : { severity: c.severity }),
            cvss: c.cvss === undefined ? {} : { '3.0': { base: c.cvss, cvssVectorString: c.vector ?? 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' } },
            publishedDate: c.published ?? '2025-01-15T10:00:00Z',
            ...(c.fixStatus ? { fixStatus: c.fixStatus } : {}), ...(c.fixedVersion !== undefined ? { fixedVersion: c.fixedVersion } : {}),
            exploitabilityDetails: { isInExploitKit: !!c.exploitKit, isPubliclyDisclosed: false, isVerified: false },
          })),
        },
      },
    };
  }
  return {
    id, name: id.split('/').pop(), type: 'microsoft.security/assessments', subscriptionId: SUBSCRIPTION,
    properties: {
      displayName: `${pkg.name} should be updated`,
      status: { code: o.status ?? 'Unhealthy', firstEvaluationDate: generatedAt, statusChangeDate: generatedAt },
      metadata: { severity: pkg.severity ?? 'High', recommendationCategory: 'SoftwareUpdate' },
      resourceDetails: { Source: 'Azure', ResourceType: '.containerimage', Id: imageId },
      resourceAdditionalData: JSON.stringify({ Digest: digest, RepositoryDetails: { RepositoryName: o.repository, LastPushedToRegistryUTC: pushedAt } }),
      additionalData: {
        SoftwareName: pkg.name, PackageType: 'OS', Language: '',
        DetectedSoftwareVersions: JSON.stringify([pkg.installed]), FixedVersion: pkg.fixedVersion ?? '',
        ScannersDetails: JSON.stringify({ mdvm: { DetectedSoftwareVersions: [pkg.installed], FixedVersion: pkg.fixedVersion ?? '', FixStatus: pkg.fixStatus ?? (pkg.fixedVersion ? 'FixAvailable' : 'NoFix') } }),
        CvesDetails: JSON.stringify(pkg.cves.map((c) => ({
          CveId: c.id, ...(c.severity === undefined ? {} : { Severity: c.severity }), CvssSource: 'NVD',
          Cvss: c.cvss === undefined ? [] : [{ Key: '3', Value: { Base: c.cvss, CvssVectorString: c.vector ?? 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' } }],
          PublishedDate: c.published ?? '2025-01-15T10:00:00Z',
          ...(c.fixStatus ? { FixStatus: c.fixStatus } : {}), ...(c.fixedVersion !== undefined ? { FixedVersion: c.fixedVersion } : {}),
          ExploitabilityDetails: { IsInExploitKit: !!c.exploitKit, ExploitStepsPublished: false, ExploitStepsVerified: false },
        }))),
      },
    },
  };
}

/** Sub-assessments of the retired grouped model: one record per image × CVE. */
export function subAssessmentRecords(digest: string, pkg: PackageSpec, o: RecordOptions): Record<string, unknown>[] {
  const key = 'c0b7cfc6-3172-465a-b378-53c7ff2cc0d5';
  return pkg.cves.map((c) => {
    const name = randomUUID();
    return {
      id: `${REGISTRY_ID}/providers/Microsoft.Security/assessments/${key}/subassessments/${name}`,
      name, type: 'microsoft.security/assessments/subassessments', subscriptionId: SUBSCRIPTION, resourceGroup: 'delivery-nonprod', location: 'global',
      properties: {
        id: c.id, displayName: c.id, description: `${c.id} in ${pkg.name}.`,
        remediation: pkg.fixedVersion ? `Upgrade ${pkg.name} to ${pkg.fixedVersion} or later.` : 'No remediation exists',
        timeGenerated: o.generatedAt ?? DEFAULT_GENERATED,
        resourceDetails: { id: `/repositories/${o.repository}/images/${digest}`, source: 'Azure' },
        status: { code: o.status ?? 'Unhealthy', severity: c.severity ?? pkg.severity ?? 'High', cause: '', description: '' },
        additionalData: {
          assessedResourceType: 'AzureContainerRegistryVulnerability',
          ...(c.cvss === undefined ? {} : { cvssV30Score: c.cvss }),
          vulnerabilityDetails: {
            cveId: c.id, ...(c.severity === undefined ? {} : { severity: c.severity }),
            publishedDate: c.published ?? '2025-01-15T10:00:00Z', lastModifiedDate: '2026-04-30T00:00:00Z',
            exploitabilityAssessment: { exploitStepsPublished: false, exploitStepsVerified: false, isInExploitKit: !!c.exploitKit, exploitUris: [], types: ['Remote'] },
            cvss: { '2.0': null, '3.0': c.cvss === undefined ? null : { base: c.cvss, cvssVectorString: c.vector ?? 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' } },
            references: [{ title: c.id, link: `https://nvd.nist.gov/vuln/detail/${c.id}` }], weaknesses: { cwe: [{ id: 'CWE-843' }] }, workarounds: [],
          },
          artifactDetails: {
            registryHost: 'contosodev.azurecr.io', repositoryName: o.repository, digest, tags: ['1.0.0'],
            artifactType: 'ContainerImage', mediaType: 'application/vnd.oci.image.manifest.v1+json',
            lastPushedToRegistryUTC: o.pushedAt ?? DEFAULT_PUSHED,
          },
          softwareDetails: {
            packageName: pkg.name, vendor: 'debian', category: 'OS', language: '', version: pkg.installed,
            fixedVersion: c.fixedVersion ?? pkg.fixedVersion ?? '', fixStatus: c.fixStatus ?? pkg.fixStatus ?? (pkg.fixedVersion ? 'FixAvailable' : 'NoFixAvailable'),
            osDetails: { osPlatform: 'linux', osVersion: 'debian_12' }, evidence: [],
          },
        },
      },
    };
  });
}

/** Records of both kinds that are not findings of this image and must be ignored (other digests, other categories). */
export function noiseRecords(digest: string, repository: string): Record<string, unknown>[] {
  const other = `sha256:${'e'.repeat(64)}`;
  const vm = assessmentRecord(digest, { name: 'kernel', installed: '5.15', cves: [{ id: 'CVE-2020-0001', severity: 'Critical' }] }, { repository });
  ((vm.properties as Record<string, Record<string, unknown>>).resourceDetails).ResourceType = 'VirtualMachine';
  return [
    vm,
    assessmentRecord(other, { name: 'zlib', installed: '1.2', cves: [{ id: 'CVE-2020-0002', severity: 'Critical' }] }, { repository }),
  ];
}

/** `count` packages with one CVE each, severities cycling Medium/Low so that a High policy passes unless told. */
export function manyPackages(count: number, severities: string[] = ['Medium', 'Low']): PackageSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `lib${i}`, installed: `1.${i}.0`, fixedVersion: `1.${i}.1`, severity: severities[i % severities.length],
    cves: [{ id: `CVE-2025-${String(10000 + i)}`, severity: severities[i % severities.length], cvss: 5.3, fixStatus: 'FixAvailable', fixedVersion: `1.${i}.1` }],
  }));
}

/** Writes the records of a digest where the Resource Graph emulator serves them from (atomically, as a scan lands). */
export function writeFindings(findingsDir: string, digest: string, records: unknown[]): string {
  const file = path.join(findingsDir, `${digest.replace(':', '-')}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(records));
  fs.renameSync(tmp, file);
  return file;
}

export function removeFindings(findingsDir: string, digest: string): void {
  fs.rmSync(path.join(findingsDir, `${digest.replace(':', '-')}.json`), { force: true });
}
