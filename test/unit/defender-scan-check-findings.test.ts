import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dedupe, isFixable, normaliseCvss, normaliseFixStatus, normaliseSeverity, readRecord, type Finding } from '../../tasks/defender-scan-check/findings';
import { parseAllowlist } from '../../tasks/defender-scan-check/allowlist';
import { evaluatePolicy } from '../../tasks/defender-scan-check/policy';
import { findingsQuery, parseHms } from '../../tasks/defender-scan-check/resourceGraph';
import { junitReport, markdownSummary, sarifReport, type ReportInput } from '../../tasks/defender-scan-check/reports';
import { UserError } from '../../tasks/common/errors';
import { assessmentRecord, subAssessmentRecords } from '../data/defender/fixtures';

const DATA = path.join(__dirname, '../data/defender');
const sample = (name: string) => JSON.parse(fs.readFileSync(path.join(DATA, name), 'utf8')) as unknown;
const DIGEST = 'sha256:3f1c9e0a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e';

describe('defender-scan-check: one normaliser for both data models', () => {
  it('reads the sub-assessment sample of the reference (§1.4) completely', () => {
    const facts = readRecord(sample('subassessment-sample.json'))!;
    assert.equal(facts.model, 'subAssessments');
    assert.equal(facts.digest, DIGEST);
    assert.equal(facts.pushedAt, Date.parse('2026-05-14T08:58:03.1020000Z'));
    assert.equal(facts.generatedAt, Date.parse('2026-05-14T09:12:44.5120000Z'));
    assert.deepEqual(facts.findings, [{
      id: 'CVE-2024-6119', severity: 'High', reportedSeverity: undefined,
      cvss: [{ version: '3.0', base: 7.5, vector: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' }],
      package: 'openssl', installedVersion: '3.0.13-1~deb12u1', fixedVersion: '3.0.14-1~deb12u2', fixStatus: 'FixAvailable',
      exploit: { inExploitKit: false, publiclyDisclosed: false, verified: false },
      published: '2024-09-03T16:15:00Z', description: 'Type confusion in X.509 name checks in OpenSSL may cause a denial of service.',
      digest: DIGEST, model: 'subAssessments',
    }]);
  });

  it('reads the individual-recommendation sample of the reference (§1.4): JSON strings, CVSS as an array', () => {
    const facts = readRecord(sample('assessment-sample.json'))!;
    assert.equal(facts.model, 'assessments');
    assert.equal(facts.digest, DIGEST);
    assert.equal(facts.pushedAt, Date.parse('2026-09-02T07:41:10Z'));
    const [f] = facts.findings;
    assert.equal(facts.findings.length, 1);
    assert.deepEqual([f.id, f.severity, f.package, f.installedVersion, f.fixedVersion, f.fixStatus], ['CVE-2024-6119', 'High', 'openssl', '3.0.13-1~deb12u1', '3.0.14-1~deb12u2', 'FixAvailable']);
    assert.deepEqual(f.cvss, [{ version: '3', base: 7.5, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H' }]);
  });

  it('reads the PascalCase and camelCase variations to the same findings', () => {
    const pkg = {
      name: 'curl', installed: '7.88.1', fixedVersion: '7.88.2', severity: 'Medium',
      cves: [{ id: 'CVE-2024-2398', severity: 'Medium', cvss: 5.9, exploitKit: true }, { id: 'cve-2024-7264', severity: 'low', cvss: 3.1 }],
    };
    const strip = (fs: Finding[]) => fs.map((f) => ({ ...f, cvss: f.cvss.map((c) => c.base) }));
    const pascal = readRecord(assessmentRecord(DIGEST, pkg, { repository: 'shop/web' }))!;
    const camel = readRecord(assessmentRecord(DIGEST, pkg, { repository: 'shop/web', variant: 'camel' }))!;
    assert.deepEqual(strip(camel.findings), strip(pascal.findings));
    assert.deepEqual(pascal.findings.map((f) => [f.id, f.severity, f.exploit.inExploitKit]), [['CVE-2024-2398', 'Medium', true], ['CVE-2024-7264', 'Low', false]]);
    assert.equal(camel.pushedAt, pascal.pushedAt, 'the push time top-level or nested');
  });

  it('keeps Unknown, empty and unheard-of severities as Unknown, never as clean', () => {
    assert.deepEqual(normaliseSeverity('Unknown'), { severity: 'Unknown' });
    assert.deepEqual(normaliseSeverity(''), { severity: 'Unknown', reported: undefined });
    assert.deepEqual(normaliseSeverity('Important'), { severity: 'Unknown', reported: 'Important' });
    assert.deepEqual(normaliseSeverity('CRITICAL'), { severity: 'Critical' });
    const facts = readRecord(assessmentRecord(DIGEST, { name: 'base-files', installed: '12', severity: '', cves: [{ id: 'CVE-2025-1', severity: 'Unknown' }, { id: 'CVE-2025-2', severity: '' }, { id: 'CVE-2025-3' }] }, { repository: 'r' }))!;
    assert.deepEqual(facts.findings.map((f) => f.severity), ['Unknown', 'Unknown', 'Unknown']);
  });

  it('a CVE without its own severity takes the recommendation\'s', () => {
    const facts = readRecord(assessmentRecord(DIGEST, { name: 'zlib', installed: '1', severity: 'Critical', cves: [{ id: 'CVE-2025-9' }] }, { repository: 'r' }))!;
    assert.equal(facts.findings[0].severity, 'Critical');
  });

  it('reads CVSS as an array of {Key, Value} or as a map by version, highest version first', () => {
    assert.deepEqual(normaliseCvss('[{"Key":"2","Value":{"Base":5}},{"Key":"3","Value":{"Base":7.1,"CvssVectorString":"CVSS:3.1/X"}}]'),
      [{ version: '3', base: 7.1, vector: 'CVSS:3.1/X' }, { version: '2', base: 5, vector: undefined }]);
    assert.deepEqual(normaliseCvss({ '2.0': null, '3.0': { base: 9.8, cvssVectorString: 'v' }, '4.0': { base: 9.3 } }),
      [{ version: '4.0', base: 9.3, vector: undefined }, { version: '3.0', base: 9.8, vector: 'v' }]);
    assert.deepEqual(normaliseCvss([]), []);
    assert.deepEqual(normaliseCvss(undefined), []);
  });

  it('normalises fix statuses and decides fixability safely', () => {
    assert.equal(normaliseFixStatus('NoFixAvailable', undefined), 'NoFix');
    assert.equal(normaliseFixStatus('WillNotFix', undefined), 'WontFix');
    assert.equal(normaliseFixStatus('FixAvailable', ''), 'FixAvailable');
    assert.equal(normaliseFixStatus(undefined, '1.2.3'), 'FixAvailable');
    assert.equal(normaliseFixStatus('something new', undefined), 'Unknown');
    const base: Omit<Finding, 'fixStatus'> = { id: 'CVE-1', severity: 'High', cvss: [], package: 'p', installedVersion: '1', exploit: { inExploitKit: false, publiclyDisclosed: false, verified: false }, digest: DIGEST, model: 'assessments' };
    assert.equal(isFixable({ ...base, fixStatus: 'NoFix', fixedVersion: '2' }), false, 'an explicit no-fix wins over a version');
    assert.equal(isFixable({ ...base, fixStatus: 'Unknown' }), false);
    assert.equal(isFixable({ ...base, fixStatus: 'FixAvailable' }), true);
  });

  it('ignores rows of other types and reports healthy records as scanned without findings', () => {
    assert.equal(readRecord({ type: 'microsoft.security/cvedetails', properties: {} }), undefined);
    const healthy = readRecord(assessmentRecord(DIGEST, { name: 'x', installed: '1', cves: [{ id: 'CVE-1', severity: 'High' }] }, { repository: 'r', status: 'Healthy' }))!;
    assert.equal(healthy.statusCode, 'Healthy');
    assert.deepEqual(healthy.findings, []);
  });

  it('counts the same vulnerability in the same package once', () => {
    const records = subAssessmentRecords(DIGEST, { name: 'openssl', installed: '3', cves: [{ id: 'CVE-1', severity: 'Low' }, { id: 'CVE-1', severity: 'High' }] }, { repository: 'r' });
    const findings = dedupe(records.flatMap((r) => readRecord(r)!.findings));
    assert.deepEqual(findings.map((f) => [f.id, f.severity]), [['CVE-1', 'High']]);
  });
});

describe('defender-scan-check: policy and allowlist', () => {
  const finding = (id: string, severity: Finding['severity'], extra: Partial<Finding> = {}): Finding => ({
    id, severity, cvss: [], package: 'openssl', installedVersion: '1', fixStatus: 'FixAvailable', fixedVersion: '2',
    exploit: { inExploitKit: false, publiclyDisclosed: false, verified: false }, digest: DIGEST, model: 'assessments', ...extra,
  });
  const now = new Date('2026-11-22T12:00:00Z');

  it('fails at or above the threshold, counts Unknown as High, and never fails with None', () => {
    const fs = [finding('CVE-1', 'Critical'), finding('CVE-2', 'High'), finding('CVE-3', 'Medium'), finding('CVE-4', 'Unknown')];
    assert.deepEqual(evaluatePolicy(fs, { failOnSeverity: 'High', onlyFixable: false, now }).failing.map((f) => f.id), ['CVE-1', 'CVE-2', 'CVE-4']);
    assert.deepEqual(evaluatePolicy(fs, { failOnSeverity: 'Critical', onlyFixable: false, now }).failing.map((f) => f.id), ['CVE-1']);
    assert.equal(evaluatePolicy(fs, { failOnSeverity: 'Medium', onlyFixable: false, now }).failing.length, 4);
    const none = evaluatePolicy(fs, { failOnSeverity: 'None', onlyFixable: false, now });
    assert.equal(none.failing.length, 0);
    assert.deepEqual(none.counts, { critical: 1, high: 2, medium: 1, low: 0 });
  });

  it('onlyFixable leaves out unfixable findings and lists the Critical ones it let through', () => {
    const v = evaluatePolicy([
      finding('CVE-1', 'Critical', { fixStatus: 'NoFix', fixedVersion: undefined }), finding('CVE-2', 'High', { fixStatus: 'WontFix', fixedVersion: undefined }),
      finding('CVE-3', 'High'), finding('CVE-4', 'Unknown', { fixStatus: 'Unknown', fixedVersion: undefined }),
    ], { failOnSeverity: 'High', onlyFixable: true, now });
    assert.deepEqual(v.failing.map((f) => f.id), ['CVE-3']);
    assert.deepEqual(v.unfixableCritical.map((f) => f.id), ['CVE-1', 'CVE-4'], 'an unknown severity may be Critical');
    assert.equal(v.unfixable.length, 3);
  });

  it('applies entries through their expiry day, by id and optional package, and reports expired ones', () => {
    const list = parseAllowlist([
      '- id: cve-1', '  reason: vendor backport', '  expires: 2026-11-22',
      '- id: CVE-2', '  package: libssl3', '  reason: only libssl3', '  expires: 2099-01-01',
      '- id: CVE-3', '  reason: old', '  expires: 2026-11-21',
    ].join('\n'), 'allow.yml');
    const v = evaluatePolicy([finding('CVE-1', 'High'), finding('CVE-2', 'High'), finding('CVE-3', 'High')], { failOnSeverity: 'High', onlyFixable: false, allowlist: list, now });
    assert.deepEqual(v.allowlisted.map((a) => a.finding.id), ['CVE-1']);
    assert.deepEqual(v.failing.map((f) => f.id), ['CVE-2', 'CVE-3']);
    assert.deepEqual(v.expiredEntries.map((e) => e.id), ['CVE-3']);
    assert.deepEqual(v.expiredMatches.map((m) => m.finding.id), ['CVE-3']);
  });

  it('refuses malformed allowlists with a message naming the file and entry', () => {
    const bad = (text: string) => assert.throws(() => parseAllowlist(text, 'security/allow.yml'), (err: unknown) => err instanceof UserError && /Input 'allowlist': the file security\/allow\.yml/.test(err.message));
    bad('');
    bad('- just a string');
    bad('- id: CVE-1\n  reason: r\n  expires: 2026-02-30');
    bad('- id: CVE-1\n  reason: r\n  expires: 2026-02-01\n- id: CVE-1\n  id: CVE-2');
    bad('- id: "CVE 1"\n  reason: r\n  expires: 2026-02-01');
    bad('- id: CVE-1\n  package: 3\n  reason: r\n  expires: 2026-02-01');
    assert.equal(parseAllowlist('allowlist: []', 'a.yml').entries.length, 0, 'an explicitly empty list is fine');
  });
});

describe('defender-scan-check: queries and reports', () => {
  it('builds digest-scoped queries for both models and refuses anything but a sha256 digest', () => {
    const hex = DIGEST.slice(7);
    const a = findingsQuery('assessments', DIGEST);
    assert.match(a, /recommendationCategory\) =~ 'SoftwareUpdate'/);
    assert.match(a, new RegExp(`has '${hex}'`));
    assert.match(a, new RegExp(`=~ 'sha256:${hex}'`));
    assert.match(findingsQuery('subAssessments', DIGEST), /c0b7cfc6-3172-465a-b378-53c7ff2cc0d5/);
    assert.throws(() => findingsQuery('assessments', "sha256:' or 1==1 //"));
  });

  it('reads the quota reset time', () => {
    assert.equal(parseHms('00:00:05'), 5000);
    assert.equal(parseHms('01:02:03'), 3723000);
    assert.equal(parseHms('soon'), undefined);
  });

  it('escapes JUnit and Markdown, and keeps every failing finding in JUnit', () => {
    const f: Finding = {
      id: 'CVE-2025-1', severity: 'High', cvss: [{ version: '3.1', base: 8.1 }], package: 'a|b<c>&"', installedVersion: '1', fixStatus: 'FixAvailable', fixedVersion: '2',
      exploit: { inExploitKit: false, publiclyDisclosed: false, verified: false }, digest: DIGEST, model: 'assessments',
    };
    const verdict = evaluatePolicy(Array.from({ length: 250 }, (_, i) => ({ ...f, id: `CVE-2025-${i}` })), { failOnSeverity: 'High', onlyFixable: false });
    const input: ReportInput = {
      image: `r.example/shop@${DIGEST}`, repository: 'shop', digests: [{ digest: DIGEST, scanned: true, answeredBy: 'assessments', findings: 250 }],
      findings: verdict.counted, verdict, failOnSeverity: 'High', onlyFixable: false, waitedMs: 1200, scanResult: 'Failed',
    };
    const junit = junitReport(input);
    assert.equal((junit.match(/<failure /g) ?? []).length, 250);
    assert.match(junit, /a\|b&lt;c&gt;&amp;&quot;/);
    const md = markdownSummary(input);
    assert.match(md, /a\\\|b<c>&"/);
    assert.match(md, /… and 50 more/);
    const sarif = JSON.parse(sarifReport(input, '1.0.0')) as { runs: { results: unknown[]; tool: { driver: { rules: unknown[] } } }[] };
    assert.equal(sarif.runs[0].results.length, 250);
    assert.equal(sarif.runs[0].tool.driver.rules.length, 250);
  });
});
