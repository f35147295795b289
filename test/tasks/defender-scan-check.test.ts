import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Ajv } from 'ajv';
import type { Environment } from '../env';
import { runTask, secretLeaks, type TaskRun } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { node24Binary } from '../helpers/node24';
import { OciLayout, skopeoDigest, skopeoPush, skopeoTarget, type SkopeoTarget } from '../helpers/images';
import {
  assessmentRecord, manyPackages, noiseRecords, removeFindings, subAssessmentRecords, writeFindings, type PackageSpec,
} from '../data/defender/fixtures';

const SARIF_SCHEMA = JSON.parse(fs.readFileSync(path.join(__dirname, '../data/sarif-schema-2.1.0.json'), 'utf8')) as object;

/** Validates against the SARIF 2.1.0 schema, with the formats it uses checked too. */
function assertValidSarif(sarif: unknown): void {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const isUri = (s: string) => { try { return !!new URL(s).protocol; } catch { return false; } };
  ajv.addFormat('uri', isUri);
  ajv.addFormat('uri-reference', (s: string) => isUri(s) || !/\s/.test(s));
  ajv.addFormat('date-time', (s: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)));
  assert.ok(ajv.validate(SARIF_SCHEMA, sarif), ajv.errorsText(ajv.errors, { separator: '\n' }));
}
const REPO = 'defender/shop-api';

const openssl: PackageSpec = {
  name: 'openssl', installed: '3.0.13-1~deb12u1', fixedVersion: '3.0.14-1~deb12u2', severity: 'High',
  cves: [{ id: 'CVE-2024-6119', severity: 'High', cvss: 7.5, fixStatus: 'FixAvailable', fixedVersion: '3.0.14-1~deb12u2' }],
};
const zlib: PackageSpec = {
  name: 'zlib', installed: '1.2.13', fixStatus: 'NoFix', severity: 'Critical',
  cves: [{ id: 'CVE-2023-45853', severity: 'Critical', cvss: 9.8, fixStatus: 'NoFix' }],
};
const curl: PackageSpec = {
  name: 'curl', installed: '7.88.1', fixedVersion: '7.88.2', severity: 'Medium',
  cves: [{ id: 'CVE-2024-2398', severity: 'Medium', cvss: 5.9 }, { id: 'CVE-2024-7264', severity: 'Low', cvss: 3.1 }],
};
const unknownSeverity: PackageSpec = {
  name: 'base-files', installed: '12.4', severity: '',
  cves: [{ id: 'CVE-2025-0001', severity: 'Unknown' }, { id: 'CVE-2025-0002', severity: '' }],
};

function sarifOf(run: TaskRun): { runs: { results: { ruleId: string; level: string; suppressions?: unknown[] }[] }[] } {
  const file = run.uploadedFiles.find((f) => f.path.endsWith('.sarif'));
  assert.ok(file, 'a SARIF file is uploaded');
  return JSON.parse(file.content) as ReturnType<typeof sarifOf>;
}

function junitOf(run: TaskRun): string {
  assert.equal(run.testResults.length, 1, 'one JUnit publication');
  assert.equal(run.testResults[0].type, 'JUnit');
  return run.testResults[0].contents[0];
}

function summaryOf(run: TaskRun): string {
  assert.equal(run.summaries.length, 1, 'one summary');
  return run.summaries[0].content;
}

describe('DefenderScanCheck@1 as the agent runs it', function () {
  this.timeout(90_000);
  let env: Environment;
  let target: SkopeoTarget;
  let digest: string;
  let index: { digest: string; amd64: string; arm64: string };
  let tmp: string;
  const written: string[] = [];

  const write = (d: string, records: unknown[]) => {
    writeFindings(env.info.defender.findingsDir, d, records);
    written.push(d);
  };

  before(async function () {
    this.timeout(120_000);
    env = await sharedEnvironment();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'defender-'));
    const nonprod = env.registries.nonprod;
    target = skopeoTarget(env, nonprod, path.join(tmp, 'certs'));
    const layout = new OciLayout(path.join(tmp, 'layout'));
    layout.tag(layout.image([1024, 2048]), 'single');
    // A multi-architecture index of two platform images.
    const amd = layout.image([1500], { os: 'linux', architecture: 'amd64' });
    const arm = layout.image([1600], { os: 'linux', architecture: 'arm64' });
    const idx = layout.writeBlob(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ ...amd, platform: { os: 'linux', architecture: 'amd64' } }, { ...arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }],
    })), 'application/vnd.oci.image.index.v1+json');
    layout.tag(idx, 'multi');
    await skopeoPush(layout, 'single', target, REPO, '1.0.0');
    await skopeoPush(layout, 'multi', target, REPO, 'multi');
    digest = await skopeoDigest(target, `${REPO}:1.0.0`);
    index = { digest: await skopeoDigest(target, `${REPO}:multi`), amd64: amd.digest, arm64: arm.digest };
  });

  beforeEach(() => {
    env.resourceGraph.quota = { limit: 1000, windowMs: 1000 };
  });

  afterEach(() => {
    env.clearFaults();
    for (const d of written.splice(0)) removeFindings(env.info.defender.findingsDir, d);
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const run = (inputs: Record<string, string | number | boolean | undefined>, kind: 'secret' | 'federated' = 'secret', node?: string) => {
    const { id, options } = azureRmConnection(env, kind);
    return runTask('defender-scan-check', mergeRunOptions(options, { node, inputs: { azureSubscription: id, image: `${target.loginServer}/${REPO}:1.0.0`, waitForScan: 5, ...inputs } }));
  };

  const allowlistFile = (text: string) => {
    const file = path.join(tmp, `allowlist-${Math.random().toString(36).slice(2)}.yml`);
    fs.writeFileSync(file, text);
    return file;
  };

  it('passes a clean image that Defender scanned (healthy record), with zero counts and a valid SARIF', async () => {
    write(digest, [assessmentRecord(digest, { ...openssl, cves: [] }, { repository: REPO, status: 'Healthy' }), ...noiseRecords(digest, REPO)]);
    const r = await run({});
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    assert.deepEqual(r.outputs, { criticalCount: '0', highCount: '0', mediumCount: '0', lowCount: '0', scanResult: 'Passed' });
    assert.match(r.logLines.join('\n'), new RegExp(`${digest.slice(0, 20)}.*individual recommendations answered`));
    const sarif = sarifOf(r);
    assert.deepEqual(sarif.runs[0].results, []);
    assertValidSarif(sarif);
    assert.match(junitOf(r), /no finding fails the policy/);
  });

  it('fails on a High finding: reason, outputs, summary, SARIF (schema-valid) and a failing JUnit case', async () => {
    write(digest, [assessmentRecord(digest, openssl, { repository: REPO }), assessmentRecord(digest, curl, { repository: REPO }), ...noiseRecords(digest, REPO)]);
    const r = await run({});
    assert.equal(r.result?.status, 'Failed');
    assert.match(r.result!.message, /1 finding at or above High .*CVE-2024-6119 \(High, openssl\)/);
    assert.deepEqual(r.outputs, { criticalCount: '0', highCount: '1', mediumCount: '1', lowCount: '1', scanResult: 'Failed' });
    const summary = summaryOf(r);
    assert.match(summary, /\| \[CVE-2024-6119\]\(https:\/\/nvd\.nist\.gov\/vuln\/detail\/CVE-2024-6119\) \| High \| 7\.5 \(v3\) \| openssl \| 3\.0\.13-1~deb12u1 \| 3\.0\.14-1~deb12u2 \|/);
    assert.match(summary, /\| High \| 1 \| 1 \| 1 \| 0 \|/);
    assert.match(summary, /\| Medium \| 1 \| 1 \| 0 \| 0 \|/);
    assert.match(summary, /waited \d/);
    const sarif = sarifOf(r);
    assertValidSarif(sarif);
    assert.deepEqual(sarif.runs[0].results.map((x) => `${x.ruleId}:${x.level}`).sort(), ['CVE-2024-2398:warning', 'CVE-2024-6119:error', 'CVE-2024-7264:warning']);
    const junit = junitOf(r);
    assert.equal((junit.match(/<testcase /g) ?? []).length, 1);
    assert.match(junit, /<testcase [^>]*name="CVE-2024-6119 in openssl"><failure message="CVE-2024-6119 \(High\) in openssl 3\.0\.13-1~deb12u1, fixed in 3\.0\.14-1~deb12u2"/);
    const { options } = azureRmConnection(env, 'secret');
    const secret = Object.values(options.endpoints!)[0].parameters.serviceprincipalkey;
    assert.deepEqual(secretLeaks(r, [secret]), []);
  });

  it('does the same on the Node24 handler', async () => {
    write(digest, [assessmentRecord(digest, openssl, { repository: REPO }), assessmentRecord(digest, curl, { repository: REPO })]);
    const r = await run({}, 'federated', node24Binary());
    assert.equal(r.result?.status, 'Failed', r.result?.message);
    assert.deepEqual(r.outputs, { criticalCount: '0', highCount: '1', mediumCount: '1', lowCount: '1', scanResult: 'Failed' });
    assert.equal(r.stderr, '');
  });

  it('onlyFixable lets an unfixable Critical through with a warning, and still fails on a fixable High', async () => {
    write(digest, [assessmentRecord(digest, zlib, { repository: REPO })]);
    let r = await run({ onlyFixable: true });
    assert.equal(r.result?.status, 'SucceededWithIssues', r.result?.message);
    assert.equal(r.outputs.criticalCount, '0');
    assert.ok(r.issues.some((i) => i.type === 'warning' && /CVE-2023-45853 \(Critical\) in zlib 1\.2\.13 has no fix \(NoFix\) and is let through because onlyFixable is true/.test(i.message)), JSON.stringify(r.issues));
    r = await run({ onlyFixable: false });
    assert.equal(r.result?.status, 'Failed');
    assert.equal(r.outputs.criticalCount, '1');
    write(digest, [assessmentRecord(digest, zlib, { repository: REPO }), assessmentRecord(digest, openssl, { repository: REPO })]);
    r = await run({ onlyFixable: true });
    assert.equal(r.result?.status, 'Failed');
    assert.match(r.result!.message, /CVE-2024-6119/);
    assert.doesNotMatch(r.result!.message, /CVE-2023-45853/);
  });

  it('applies the allowlist: an accepted finding passes with its reason and expiry in the summary; an expired entry fails and is reported', async () => {
    write(digest, [assessmentRecord(digest, openssl, { repository: REPO })]);
    const future = allowlistFile('- id: CVE-2024-6119\n  package: openssl\n  reason: not reachable, TLS terminates at the gateway\n  expires: 2099-12-31\n');
    let r = await run({ allowlist: future });
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    assert.equal(r.outputs.highCount, '0');
    assert.match(summaryOf(r), /\| CVE-2024-6119 \| High \| openssl \| not reachable, TLS terminates at the gateway \| 2099-12-31 \|/);
    const sarif = sarifOf(r);
    assert.equal(sarif.runs[0].results[0].suppressions?.length, 1);
    assertValidSarif(sarif);

    const expired = allowlistFile('allowlist:\n  - id: CVE-2024-6119\n    reason: accepted for the 1.0 release\n    expires: 2024-01-31\n');
    r = await run({ allowlist: expired });
    assert.equal(r.result?.status, 'Failed');
    assert.ok(r.issues.some((i) => /Allowlist entry CVE-2024-6119 expired on 2024-01-31 and no longer applies: 1 finding counts again/.test(i.message)), JSON.stringify(r.issues));
    assert.match(summaryOf(r), /Expired allowlist entries \(1\)/);

    const otherPackage = allowlistFile('- id: CVE-2024-6119\n  package: libssl3\n  reason: only in libssl3\n  expires: 2099-01-01\n');
    r = await run({ allowlist: otherPackage });
    assert.equal(r.result?.status, 'Failed', 'an entry for another package does not apply');
  });

  it('counts Unknown severities as High unless the allowlist accepts them', async () => {
    write(digest, [assessmentRecord(digest, unknownSeverity, { repository: REPO })]);
    let r = await run({});
    assert.equal(r.result?.status, 'Failed');
    assert.equal(r.outputs.highCount, '2');
    assert.match(summaryOf(r), /\| Unknown \(counts as High\) \| 2 \| 2 \| 2 \| 0 \|/);
    const list = allowlistFile('- id: CVE-2025-0001\n  reason: vendor says not affected\n  expires: 2099-01-01\n- id: cve-2025-0002\n  reason: vendor says not affected\n  expires: 2099-01-01\n');
    r = await run({ allowlist: list });
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    assert.equal(r.outputs.highCount, '0');
  });

  it('waits for a scan that arrives later, and reports the time waited', async () => {
    removeFindings(env.info.defender.findingsDir, digest);
    const timer = setTimeout(() => write(digest, [assessmentRecord(digest, curl, { repository: REPO })]), 2500);
    const r = await run({ waitForScan: 60 });
    clearTimeout(timer);
    written.push(digest);
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    assert.equal(r.outputs.mediumCount, '1');
    assert.ok(r.logLines.some((l) => /No Defender results yet for sha256:.*looking again in/.test(l)), r.logLines.join('\n'));
    assert.ok(r.durationMs >= 2500);
    assert.match(summaryOf(r), /waited \d+\.\d s for results/);
  });

  it('does not take results from before the digest was last pushed as its scan', async () => {
    write(digest, [assessmentRecord(digest, openssl, { repository: REPO, pushedAt: '2026-09-10T10:00:00Z', generatedAt: '2026-09-01T10:00:00Z' })]);
    const r = await run({ waitForScan: 2 });
    assert.equal(r.result?.status, 'Failed');
    assert.equal(r.outputs.scanResult, 'NotScanned');
    assert.ok(r.logLines.some((l) => /are from before the digest's latest push/.test(l)));
  });

  for (const [onMissingScan, status] of [['fail', 'Failed'], ['warn', 'SucceededWithIssues'], ['pass', 'Succeeded']] as const) {
    it(`follows onMissingScan=${onMissingScan} when no scan arrives in time`, async () => {
      const r = await run({ waitForScan: 2, onMissingScan });
      assert.equal(r.result?.status, status, r.result?.message);
      assert.equal(r.outputs.scanResult, 'NotScanned');
      assert.match(r.result!.message, new RegExp(`No Defender scan result for ${digest} arrived within 2 s`));
      assert.match(junitOf(r), /<skipped message="no Defender result arrived/);
      if (onMissingScan === 'fail') assert.match(r.result!.message, /Raise waitForScan/);
    });
  }

  it('checks every platform of a multi-architecture index and fails when one is vulnerable', async () => {
    write(index.amd64, [assessmentRecord(index.amd64, curl, { repository: REPO })]);
    write(index.arm64, [assessmentRecord(index.arm64, openssl, { repository: REPO })]);
    const r = await run({ image: `${target.loginServer}/${REPO}:multi` });
    assert.equal(r.result?.status, 'Failed');
    assert.ok(r.logLines.some((l) => /multi-architecture index: checking each of its 2 platform images/.test(l)));
    const summary = summaryOf(r);
    assert.match(summary, /linux\/amd64 \| from individual recommendations \| 2 \|/);
    assert.match(summary, /linux\/arm64\/v8 \| from individual recommendations \| 1 \|/);
    assert.match(summary, new RegExp(`CVE-2024-6119.*\`${index.arm64.slice(0, 19)}`));
    assert.deepEqual([r.outputs.highCount, r.outputs.mediumCount], ['1', '1']);
    // One platform without results is not a pass.
    removeFindings(env.info.defender.findingsDir, index.arm64);
    write(index.amd64, [assessmentRecord(index.amd64, { ...curl, cves: [] }, { repository: REPO, status: 'Healthy' })]);
    const partial = await run({ image: `${target.loginServer}/${REPO}@${index.digest}`, waitForScan: 1 });
    assert.equal(partial.result?.status, 'Failed');
    assert.equal(partial.outputs.scanResult, 'NotScanned');
    assert.match(partial.result!.message, new RegExp(`linux/arm64/v8 \\(${index.arm64}\\)`));
  });

  it('reads the retired sub-assessment model when auto finds only it, or when chosen', async () => {
    write(digest, subAssessmentRecords(digest, { ...openssl, cves: [...openssl.cves, { id: 'CVE-2024-5535', severity: 'Low', cvss: 3.1 }] }, { repository: REPO }));
    let r = await run({});
    assert.equal(r.result?.status, 'Failed');
    assert.ok(r.logLines.some((l) => /only the retired sub-assessment model has results \(2 records\)/.test(l)), r.logLines.join('\n'));
    assert.deepEqual([r.outputs.highCount, r.outputs.lowCount], ['1', '1']);
    r = await run({ dataSource: 'subAssessments' });
    assert.equal(r.result?.status, 'Failed');
    assert.equal(r.outputs.highCount, '1');
    r = await run({ dataSource: 'assessments', waitForScan: 1 });
    assert.equal(r.outputs.scanResult, 'NotScanned', 'the individual model alone has nothing for this digest');
    assert.equal(env.resourceGraph.stats.shapes.subAssessments, 2, 'sub-assessments were asked only when auto or chosen');
  });

  it('reads the camelCase variation (objects instead of JSON strings, CVSS as a map) the same way', async () => {
    write(digest, [assessmentRecord(digest, openssl, { repository: REPO, variant: 'camel' }), assessmentRecord(digest, curl, { repository: REPO, variant: 'camel' })]);
    const r = await run({}, 'federated');
    assert.equal(r.result?.status, 'Failed');
    assert.deepEqual(r.outputs, { criticalCount: '0', highCount: '1', mediumCount: '1', lowCount: '1', scanResult: 'Failed' });
    assert.match(summaryOf(r), /CVE-2024-6119\)\s*\| High \| 7\.5 \(v3\.0\)/);
  });

  it('reads every page of a digest with thousands of findings', async () => {
    write(digest, manyPackages(2500).map((p) => assessmentRecord(digest, p, { repository: REPO })));
    const r = await run({});
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    assert.equal(Number(r.outputs.mediumCount) + Number(r.outputs.lowCount), 2500);
    assert.equal(env.resourceGraph.stats.answered, 3, 'three pages of at most 1000');
  });

  it('honours the quota headers and survives 429s from Resource Graph', async () => {
    write(digest, manyPackages(2500).map((p) => assessmentRecord(digest, p, { repository: REPO })));
    env.resourceGraph.quota = { limit: 2, windowMs: 2000 };
    let r = await run({});
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    assert.equal(env.resourceGraph.stats.throttled, 0, 'the task waited for the quota to reset instead of being throttled');
    assert.equal(env.resourceGraph.stats.answered, 3);
    env.clearFaults();
    env.resourceGraph.quota = { limit: 1000, windowMs: 1000 };
    env.arm.faults.failNext('429', 2, { match: /ResourceGraph/, retryAfterSeconds: 1 });
    env.arm.faults.failNext('503', 1, { match: /ResourceGraph/ });
    r = await run({});
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    assert.deepEqual([env.arm.faults.served['429'], env.arm.faults.served['503']], [2, 1]);
    assert.equal(Number(r.outputs.mediumCount) + Number(r.outputs.lowCount), 2500);
  });

  it('gives up on a Resource Graph that keeps answering 503 after six attempts, and says to try again later', async function () {
    this.timeout(60_000);
    write(digest, manyPackages(10).map((p) => assessmentRecord(digest, p, { repository: REPO })));
    env.clearFaults();
    env.arm.faults.failNext('503', 20, { match: /ResourceGraph/ });
    const r = await run({});
    assert.equal(r.result?.status, 'Failed');
    assert.match(r.result!.message, /^Resource Graph kept answering 503 \(.+\); try again later\.$/);
    assert.equal(env.arm.faults.served['503'], 6, 'six attempts, the first included');
  });
});
