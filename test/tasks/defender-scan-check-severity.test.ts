import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Environment } from '../env';
import { runTask, type TaskRun } from '../helpers/agent';
import { azureRmConnection, mergeRunOptions } from '../helpers/connections';
import { sharedEnvironment } from '../helpers/environment';
import { OciLayout, skopeoDigest, skopeoPush, skopeoTarget } from '../helpers/images';
import { assessmentRecord, removeFindings, writeFindings, type PackageSpec } from '../data/defender/fixtures';

const REPO = 'defender/severity-threshold';
const openssl: PackageSpec = {
  name: 'openssl', installed: '3.0.13-1~deb12u1', fixedVersion: '3.0.14-1~deb12u2', severity: 'High',
  cves: [{ id: 'CVE-2024-6119', severity: 'High', cvss: 7.5, fixStatus: 'FixAvailable', fixedVersion: '3.0.14-1~deb12u2' }],
};
const curl: PackageSpec = {
  name: 'curl', installed: '7.88.1', fixedVersion: '7.88.2', severity: 'Medium',
  cves: [{ id: 'CVE-2024-2398', severity: 'Medium', cvss: 5.9 }, { id: 'CVE-2024-7264', severity: 'Low', cvss: 3.1 }],
};
const zlib: PackageSpec = {
  name: 'zlib', installed: '1.2.13', fixedVersion: '1.3.1', severity: 'Critical',
  cves: [{ id: 'CVE-2023-45853', severity: 'Critical', cvss: 9.8, fixStatus: 'FixAvailable', fixedVersion: '1.3.1' }],
};
const tar: PackageSpec = {
  name: 'tar', installed: '1.34+dfsg-1.2', fixedVersion: '1.34+dfsg-1.2+deb12u1', severity: 'Low',
  cves: [{ id: 'CVE-2022-48303', severity: 'Low', cvss: 3.3, fixStatus: 'FixAvailable', fixedVersion: '1.34+dfsg-1.2+deb12u1' }],
};

describe('DefenderScanCheck@1 fails at the failOnSeverity the pipeline sets', function () {
  this.timeout(120_000);
  let env: Environment;
  let tmp: string;
  let image: string;
  let digest: string;

  before(async function () {
    env = await sharedEnvironment();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'defender-severity-'));
    const target = skopeoTarget(env, env.registries.nonprod, path.join(tmp, 'certs'));
    const layout = new OciLayout(path.join(tmp, 'layout'));
    layout.tag(layout.image([1200]), 'severity');
    await skopeoPush(layout, 'severity', target, REPO, 'severity');
    digest = await skopeoDigest(target, `${REPO}:severity`);
    image = `${target.loginServer}/${REPO}:severity`;
  });
  afterEach(() => removeFindings(env.info.defender.findingsDir, digest));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const scan = (packages: PackageSpec[], failOnSeverity: string): Promise<TaskRun> => {
    writeFindings(env.info.defender.findingsDir, digest, packages.map((p) => assessmentRecord(digest, p, { repository: REPO })));
    const { id, options } = azureRmConnection(env, 'secret');
    return runTask('defender-scan-check', mergeRunOptions(options, { inputs: { azureSubscription: id, image, waitForScan: 5, failOnSeverity } }));
  };
  const failingCves = (run: TaskRun) => [...(run.result?.message ?? '').matchAll(/(CVE-\d+-\d+) \(/g)].map((m) => m[1]).sort();

  it('Critical: passes a High, a Medium and a Low finding, and fails on a Critical one', async () => {
    const passed = await scan([openssl, curl], 'Critical');
    assert.equal(passed.result?.status, 'Succeeded', passed.result?.message);
    assert.deepEqual(passed.outputs, { criticalCount: '0', highCount: '1', mediumCount: '1', lowCount: '1', scanResult: 'Passed' });
    assert.match(passed.result!.message, /^No finding at or above Critical/);
    const failed = await scan([openssl, curl, zlib], 'Critical');
    assert.equal(failed.result?.status, 'Failed', failed.result?.message);
    assert.match(failed.result!.message, /^1 finding at or above Critical/);
    assert.deepEqual(failingCves(failed), ['CVE-2023-45853']);
  });

  it('Medium: fails on the High and the Medium finding, not on the Low one; passes a Low finding alone', async () => {
    const failed = await scan([openssl, curl], 'Medium');
    assert.equal(failed.result?.status, 'Failed', failed.result?.message);
    assert.equal(failed.outputs.scanResult, 'Failed');
    assert.match(failed.result!.message, /^2 findings at or above Medium/);
    assert.deepEqual(failingCves(failed), ['CVE-2024-2398', 'CVE-2024-6119']);
    const passed = await scan([tar], 'Medium');
    assert.equal(passed.result?.status, 'Succeeded', passed.result?.message);
    assert.deepEqual(passed.outputs, { criticalCount: '0', highCount: '0', mediumCount: '0', lowCount: '1', scanResult: 'Passed' });
  });

  it('Low: fails on a Low finding, alone or beside others', async () => {
    const alone = await scan([tar], 'Low');
    assert.equal(alone.result?.status, 'Failed', alone.result?.message);
    assert.equal(alone.outputs.scanResult, 'Failed');
    assert.deepEqual(failingCves(alone), ['CVE-2022-48303']);
    const all = await scan([openssl, curl], 'Low');
    assert.equal(all.result?.status, 'Failed', all.result?.message);
    assert.match(all.result!.message, /^3 findings at or above Low/);
    assert.deepEqual(failingCves(all), ['CVE-2024-2398', 'CVE-2024-6119', 'CVE-2024-7264']);
  });

  it('None: passes every finding, Critical included, and still counts them', async () => {
    const run = await scan([zlib, openssl, curl, tar], 'None');
    assert.equal(run.result?.status, 'Succeeded', run.result?.message);
    assert.deepEqual(run.outputs, { criticalCount: '1', highCount: '1', mediumCount: '1', lowCount: '2', scanResult: 'Passed' });
  });
});
