import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Environment } from '../env';
import { runTask, type TaskRun } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { OciLayout, skopeoDigest, skopeoPush, skopeoTarget, type SkopeoTarget } from '../helpers/images';
import { assessmentRecord, removeFindings, writeFindings } from '../data/defender/fixtures';

const REPO = 'defender/inputs';

describe('DefenderScanCheck@1: clean images, bad input and faults', function () {
  this.timeout(60_000);
  let env: Environment;
  let target: SkopeoTarget;
  let layout: OciLayout;
  let tmp: string;
  let digest: string;

  before(async function () {
    this.timeout(120_000);
    env = await sharedEnvironment();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'defender-inputs-'));
    target = skopeoTarget(env, env.registries.nonprod, path.join(tmp, 'certs'));
    layout = new OciLayout(path.join(tmp, 'layout'));
    layout.tag(layout.image([700]), 'app');
    await skopeoPush(layout, 'app', target, REPO, '2.0.0');
    digest = await skopeoDigest(target, `${REPO}:2.0.0`);
  });

  afterEach(() => {
    env.clearFaults();
    env.registries.nonprod.acr.referrersApi = false;
    removeFindings(env.info.defender.findingsDir, digest);
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const run = (inputs: Record<string, string | number | boolean | undefined>, connection = azureRmConnection(env, 'secret')) =>
    runTask('defender-scan-check', mergeRunOptions(connection.options, {
      inputs: { azureSubscription: connection.id, image: `${target.loginServer}/${REPO}:2.0.0`, waitForScan: 2, ...inputs },
    }));

  const failedWith = (r: TaskRun, pattern: RegExp) => {
    assert.equal(r.result?.status, 'Failed', r.result?.message);
    assert.match(r.result!.message, pattern);
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace for a user error');
  };

  /** Pushes Defender's vulnerability attestation for `subject` as a referrer (the in-toto artifact of reference §1.4). */
  async function pushAttestation(subject: { digest: string; size: number; mediaType: string }, tag: string, { annotateManifest = true } = {}): Promise<void> {
    const empty = layout.writeBlob(Buffer.from('{}'), 'application/vnd.oci.empty.v1+json');
    const report = layout.writeBlob(Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'https://in-toto.io/attestation/vulns/v0.2', predicate: { scanner: { uri: 'MDVM', result: [] } } })), 'application/vnd.in-toto+json');
    const annotations = { scanner: 'MDVM', 'report-type': 'SoftwareInventoryAssessment' };
    const manifest = layout.writeBlob(Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/vnd.in-toto+json',
      config: empty, layers: [{ ...report, annotations: { 'in-toto.io/predicate-type': 'https://in-toto.io/attestation/vulns/v0.2', ...annotations } }],
      subject, ...(annotateManifest ? { annotations: { 'org.opencontainers.image.created': '2026-07-23T01:06:19Z', ...annotations } } : {}),
    })), 'application/vnd.oci.image.manifest.v1+json');
    layout.tag(manifest, tag);
    await skopeoPush(layout, tag, target, REPO, tag);
  }

  it("passes a clean image: no rows in Resource Graph, but Defender's attestation is in the registry", async () => {
    const image = layout.image([800]);
    layout.tag(image, 'clean');
    await skopeoPush(layout, 'clean', target, REPO, 'clean');
    await pushAttestation(image, 'clean-attestation');
    env.registries.nonprod.acr.referrersApi = true;
    const r = await run({ image: `${target.loginServer}/${REPO}:clean` });
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    assert.equal(r.outputs.scanResult, 'Passed');
    assert.ok(r.logLines.some((l) => /Defender's vulnerability attestation is in the registry: scanned, nothing found/.test(l)), r.logLines.join('\n'));
    // Without the attestation where the task looks, no rows is not taken as clean.
    env.registries.nonprod.acr.referrersApi = false;
    const unscanned = await run({ image: `${target.loginServer}/${REPO}:clean`, waitForScan: 1 });
    assert.equal(unscanned.outputs.scanResult, 'NotScanned');
    assert.equal(unscanned.result?.status, 'Failed');
  });

  it('finds the attestation when only its layer is annotated (the listing then says nothing)', async () => {
    const image = layout.image([900]);
    layout.tag(image, 'clean2');
    await skopeoPush(layout, 'clean2', target, REPO, 'clean2');
    await pushAttestation(image, 'clean2-attestation', { annotateManifest: false });
    env.registries.nonprod.acr.referrersApi = true;
    const r = await run({ image: `${target.loginServer}/${REPO}:clean2` });
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    assert.equal(r.outputs.scanResult, 'Passed');
  });

  it('names the role to grant when the identity may not read Resource Graph (403)', async () => {
    const identity = env.entra.addIdentity({ name: `acr-only-${randomUUID().slice(0, 8)}`, clientSecret: `pull~${randomUUID()}` });
    env.arm.assignRole(identity, env.registries.nonprod.resourceId, 'AcrPull');
    const connection = azureRmConnection(env, 'secret');
    const endpoint = Object.values(connection.options.endpoints!)[0];
    endpoint.parameters = { ...endpoint.parameters, serviceprincipalid: identity.clientId, serviceprincipalkey: identity.clientSecret! };
    writeFindings(env.info.defender.findingsDir, digest, [assessmentRecord(digest, { name: 'x', installed: '1', cves: [{ id: 'CVE-2025-1', severity: 'High' }] }, { repository: REPO })]);
    const r = await run({}, connection);
    failedWith(r, new RegExp(`may not read Defender's findings in subscription ${env.arm.subscriptionId}\\. Give its identity the Security Reader role`));
    assert.equal(env.resourceGraph.stats.refused, 1, 'a 403 is not retried');
  });

  it('says when the subscription of the service connection does not exist', async () => {
    const connection = azureRmConnection(env, 'secret');
    const missing = randomUUID();
    Object.values(connection.options.endpoints!)[0].data!.subscriptionId = missing;
    const r = await run({}, connection);
    failedWith(r, new RegExp(`the subscription ${missing} of the service connection '.+' does not exist or is not visible to its identity`));
  });

  it('says when the image does not resolve in the registry', async () => {
    failedWith(await run({ image: `${target.loginServer}/${REPO}:no-such-tag` }), new RegExp(`Input 'image': ${target.loginServer.replace(/\./g, '\\.')}/defender/inputs:no-such-tag does not exist in the registry`));
    failedWith(await run({ image: `${target.loginServer}/${REPO}@sha256:${'0'.repeat(64)}` }), /does not exist in the registry .*Check the repository and digest/);
    failedWith(await run({ image: 'not a reference' }), /Input 'image' 'not a reference' is not a valid image reference/);
  });

  for (const [name, text, why] of [
    ['not YAML', 'id: [unclosed', /is not valid YAML/],
    ['an entry without a reason', '- id: CVE-2024-6119\n  expires: 2099-01-01\n', /entry 1 \(CVE-2024-6119\) without a 'reason'/],
    ['an entry with a bad date', '- id: CVE-2024-6119\n  reason: ok\n  expires: 31/12/2099\n', /'expires' '31\/12\/2099' is not a date of the form YYYY-MM-DD/],
    ['an unknown key', '- id: CVE-2024-6119\n  reason: ok\n  expires: 2099-01-01\n  until: never\n', /unknown key 'until'/],
    ['a mapping instead of a list', 'CVE-2024-6119: accepted\n', /must be a list of entries/],
    ['an empty file', '', /is empty/],
  ] as const) {
    it(`fails on a malformed allowlist (${name}) instead of reading it as empty`, async () => {
      const file = path.join(tmp, `allow-${randomUUID()}.yml`);
      fs.writeFileSync(file, text);
      failedWith(await run({ allowlist: file }), why);
    });
  }

  it('fails on an allowlist file that is not there', async () => {
    failedWith(await run({ allowlist: path.join(tmp, 'missing.yml') }), /Input 'allowlist': cannot read .*missing\.yml \(no such file\)/);
  });

  for (const [input, value, why] of [
    ['failOnSeverity', 'Severe', /Input 'failOnSeverity' must be one of 'Critical', 'High', 'Medium', 'Low', 'None', not 'Severe'/],
    ['waitForScan', '-5', /Input 'waitForScan' must be a whole number from 0 to 86400, not '-5'/],
    ['onMissingScan', 'ignore', /Input 'onMissingScan' must be one of 'fail', 'warn', 'pass'/],
    ['dataSource', 'graph', /Input 'dataSource' must be one of 'auto', 'assessments', 'subAssessments'/],
  ] as const) {
    it(`rejects ${input}=${value} before doing anything`, async () => {
      const r = await run({ [input]: value });
      failedWith(r, why);
      assert.ok(r.durationMs < 5000);
    });
  }

  it('survives a dropped connection and a 500 from Resource Graph', async () => {
    writeFindings(env.info.defender.findingsDir, digest, [assessmentRecord(digest, { name: 'x', installed: '1', fixedVersion: '2', cves: [{ id: 'CVE-2025-1', severity: 'Medium' }] }, { repository: REPO })]);
    env.arm.faults.failNext('drop', 1, { match: /ResourceGraph/ });
    env.arm.faults.failNext('500', 1, { match: /ResourceGraph/ });
    const r = await run({});
    assert.equal(r.result?.status, 'Succeeded', r.result?.message);
    assert.equal(r.outputs.mediumCount, '1');
    assert.deepEqual([env.arm.faults.served.drop, env.arm.faults.served['500']], [1, 1]);
  });
});
