import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dedupe, isFixable, normaliseCvss, normaliseFixStatus, normaliseSeverity, parseJsonString, path as propertyPath, prop, readRecord, type Finding } from '../../tasks/defender-scan-check/findings';
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

describe('defender-scan-check: reading each spelling Defender writes', () => {
  it('takes every fix status spelling, in any case and punctuation, and a fixed version as a fix', () => {
    const cases: [string, string][] = [
      ['FixAvailable', 'FixAvailable'], ['fixed', 'FixAvailable'], ['No fix', 'NoFix'], ['NoFixAvailable', 'NoFix'], ['NOT_FIXED', 'NoFix'],
      ["Won't fix", 'WontFix'], ['WillNotFix', 'WontFix'], ['Scheduled', 'Scheduled'], ['Fix deferred', 'Scheduled'],
    ];
    for (const [reported, status] of cases) assert.equal(normaliseFixStatus(reported, undefined), status, reported);
    assert.equal(normaliseFixStatus('', '1.2'), 'FixAvailable');
    assert.equal(normaliseFixStatus(7, undefined), 'Unknown');
  });

  it('reads CVSS under each spelling of its keys, leaves out entries without a base score, and sorts by version then score', () => {
    assert.deepEqual(normaliseCvss([{ key: '3.1', value: { baseScore: 8, vectorString: 'CVSS:3.1/A' } }, { version: '2', score: '5.5', vector: 'AV:N' }, { Key: '4', Value: { Base: 'high' } }]), [
      { version: '3.1', base: 8, vector: 'CVSS:3.1/A' }, { version: '2', base: 5.5, vector: 'AV:N' },
    ]);
    assert.deepEqual(normaliseCvss([{ Base: 3 }, { Base: 9 }]), [{ version: '?', base: 9, vector: undefined }, { version: '?', base: 3, vector: undefined }], 'no version: the higher score first');
    assert.deepEqual(normaliseCvss({ '3.0': { base: ' ' }, 2: { base: 4 } }), [{ version: '2', base: 4, vector: undefined }]);
    assert.deepEqual(normaliseCvss('not json'), []);
    assert.deepEqual(normaliseCvss(5), []);
  });

  it('reads properties under any of their spellings, JSON kept as text included, and nothing else', () => {
    assert.equal(prop({ resourceType: 'a', ResourceType: 'b' }, 'ResourceType', 'resourceType'), 'b');
    assert.equal(prop({ resourceType: 'a' }, 'ResourceType', 'resourceType'), 'a');
    assert.equal(prop({ x: null }, 'x', 'y'), null, 'null is a value; only an absent key moves on');
    assert.equal(prop('{"a":1}', 'a'), 1);
    assert.equal(prop(['a'], '0'), undefined, 'a list has no properties');
    assert.equal(prop(null, 'a'), undefined);
    assert.equal(prop('text', 'length'), undefined);
    assert.equal(propertyPath({ status: '{"Code":"Healthy"}' }, 'status|Status', 'code|Code'), 'Healthy');
    assert.equal(propertyPath({ Status: { code: 'Unhealthy' } }, 'status|Status', 'code|Code'), 'Unhealthy');
    assert.equal(propertyPath({ status: null }, 'status|Status', 'code|Code'), undefined);
    assert.equal(propertyPath({ status: { code: null } }, 'status|Status', 'code|Code'), undefined);
    assert.deepEqual(propertyPath({ a: '[1]' }, 'a'), [1]);
    assert.deepEqual([parseJsonString(' \n\t{"a":1}'), parseJsonString('  [2]'), parseJsonString('{broken'), parseJsonString(' plain'), parseJsonString(''), parseJsonString(3)],
      [{ a: 1 }, [2], '{broken', ' plain', '', 3]);
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

describe('defender-scan-check: the allowlist file, entry by entry', () => {
  const HINT = ". Each entry needs 'id' (e.g. CVE-2024-6119), 'reason' and 'expires' (YYYY-MM-DD), and may name a 'package'.";
  /** The part of the refusal that says what is wrong with the file. */
  const refusal = (text: string): string => {
    try {
      parseAllowlist(text, 'security/allow.yml');
    } catch (err) {
      assert.ok(err instanceof UserError, String(err));
      assert.ok(err.message.startsWith("Input 'allowlist': the file security/allow.yml ") && err.message.endsWith(HINT), err.message);
      return err.message.slice("Input 'allowlist': the file security/allow.yml ".length, -HINT.length);
    }
    assert.fail(`accepted: ${text}`);
  };
  const entry = (lines: string[]) => lines.map((l, i) => (i === 0 ? `- ${l}` : `  ${l}`)).join('\n');

  it('says what is wrong with the file as a whole', () => {
    assert.equal(refusal('- id: ['), 'is not valid YAML (Flow sequence in block collection must be sufficiently indented and end with a ])');
    assert.equal(refusal('- id: CVE-1\n  id: CVE-2'), 'is not valid YAML (Map keys must be unique)');
    assert.equal(refusal(''), 'is empty');
    assert.equal(refusal('# nothing yet\n'), 'is empty');
    const notAList = "must be a list of entries (or a mapping with one key 'allowlist' holding that list)";
    assert.equal(refusal('just text'), notAList);
    assert.equal(refusal('allowlist: 3'), notAList);
    assert.equal(refusal('allowlist: []\nextra: []'), notAList);
    assert.equal(refusal('entries: []'), notAList);
  });

  it('says which entry is not a mapping or has keys it does not know', () => {
    assert.equal(refusal(`${entry(['id: CVE-1', 'reason: r', 'expires: 2026-02-01'])}\n- CVE-2`), 'has entry 2 that is not a mapping');
    assert.equal(refusal('-\n'), 'has entry 1 that is not a mapping');
    assert.equal(refusal('- [CVE-1]'), 'has entry 1 that is not a mapping');
    assert.equal(refusal(entry(['id: CVE-1', 'reason: r', 'expires: 2026-02-01', 'until: 2027-01-01'])), "has entry 1 with unknown key 'until'");
    assert.equal(refusal(entry(['id: CVE-1', 'reason: r', 'expires: 2026-02-01', 'until: x', 'why: y'])), "has entry 1 with unknown keys 'until', 'why'");
  });

  it('says which entry lacks an id, a reason or an expiry, or has one that is not well formed', () => {
    assert.equal(refusal(entry(['reason: r', 'expires: 2026-02-01'])), "has entry 1 without an 'id'");
    assert.equal(refusal(entry(['id: "  "', 'reason: r', 'expires: 2026-02-01'])), "has entry 1 without an 'id'");
    assert.equal(refusal(entry(['id: 6119', 'reason: r', 'expires: 2026-02-01'])), "has entry 1 without an 'id'");
    assert.equal(refusal(entry(['id: 1CVE', 'reason: r', 'expires: 2026-02-01'])), "has entry 1 whose id '1CVE' is not a vulnerability id");
    assert.equal(refusal(entry(['id: CVE-1!', 'reason: r', 'expires: 2026-02-01'])), "has entry 1 whose id 'CVE-1!' is not a vulnerability id");
    assert.equal(refusal(entry(['id: CVE-1', 'expires: 2026-02-01'])), "has entry 1 (CVE-1) without a 'reason'");
    assert.equal(refusal(entry(['id: CVE-1', 'reason: " "', 'expires: 2026-02-01'])), "has entry 1 (CVE-1) without a 'reason'");
    assert.equal(refusal(entry(['id: CVE-1', 'reason: 42', 'expires: 2026-02-01'])), "has entry 1 (CVE-1) without a 'reason'");
    assert.equal(refusal(entry(['id: CVE-1', 'reason: r'])), "has entry 1 (CVE-1) without 'expires'");
    assert.equal(refusal(entry(['id: CVE-1', 'reason: r', 'expires: 20260201'])), "has entry 1 (CVE-1) without 'expires'");
    for (const bad of ['26-02-01', '2026-2-1', '2026-13-01', '2026-02-30', '2026-02-01x', '+002026-02-01', '+020000-01']) {
      assert.equal(refusal(entry(['id: CVE-1', 'reason: r', `expires: "${bad}"`])), `has entry 1 (CVE-1) whose 'expires' '${bad}' is not a date of the form YYYY-MM-DD`, bad);
    }
    assert.equal(refusal(entry(['id: CVE-1', 'package: 3', 'reason: r', 'expires: 2026-02-01'])), "has entry 1 (CVE-1) whose 'package' is not a package name");
    assert.equal(refusal(entry(['id: CVE-1', 'package: "  "', 'reason: r', 'expires: 2026-02-01'])), "has entry 1 (CVE-1) whose 'package' is not a package name");
  });

  it('reads entries trimmed, the id in capitals, from a list or a mapping holding one', () => {
    const text = entry(['id: " ghsa-4x3r_9.q:1 "', 'package: " libssl3 "', 'reason: "  vendor backport "', 'expires: " 2026-02-28 "'])
      + `\n${entry(['id: C', 'reason: r', 'expires: 2026-12-31'])}`;
    const expected = [
      { id: 'GHSA-4X3R_9.Q:1', package: 'libssl3', reason: 'vendor backport', expires: '2026-02-28' },
      { id: 'C', package: undefined, reason: 'r', expires: '2026-12-31' },
    ];
    assert.deepEqual(parseAllowlist(text, 'a.yml'), { source: 'a.yml', entries: expected });
    assert.deepEqual(parseAllowlist(`allowlist:\n${text.replace(/^/gm, '  ')}`, 'a.yml').entries, expected);
  });
});

describe('defender-scan-check: the policy at its edges', () => {
  const finding = (id: string, severity: Finding['severity'], extra: Partial<Finding> = {}): Finding => ({
    id, severity, cvss: [], package: 'openssl', installedVersion: '1', fixStatus: 'FixAvailable', fixedVersion: '2',
    exploit: { inExploitKit: false, publiclyDisclosed: false, verified: false }, digest: DIGEST, model: 'assessments', ...extra,
  });
  const allow = (entries: { id: string; package?: string; expires: string }[]) => ({ source: 'allow.yml', entries: entries.map((e) => ({ reason: 'r', ...e })) });

  it('applies an entry through the last millisecond of its expiry day, UTC', () => {
    const list = allow([{ id: 'CVE-1', expires: '2026-11-22' }]);
    const at = (iso: string) => evaluatePolicy([finding('CVE-1', 'High')], { failOnSeverity: 'High', onlyFixable: false, allowlist: list, now: new Date(iso) });
    assert.equal(at('2026-11-22T23:59:59.999Z').allowlisted.length, 1);
    const after = at('2026-11-23T00:00:00.000Z');
    assert.deepEqual([after.allowlisted.length, after.failing.map((f) => f.id), after.expiredMatches.map((m) => m.entry.id)], [0, ['CVE-1'], ['CVE-1']]);
  });

  it('takes an entry whose expiry is no date as expired: it accepts nothing', () => {
    const v = evaluatePolicy([finding('CVE-1', 'High')], { failOnSeverity: 'High', onlyFixable: false, allowlist: allow([{ id: 'CVE-1', expires: 'someday' }]) });
    assert.deepEqual([v.allowlisted.length, v.failing.map((f) => f.id), v.expiredEntries.map((e) => e.expires)], [0, ['CVE-1'], ['someday']]);
    const without = evaluatePolicy([finding('CVE-1', 'High')], { failOnSeverity: 'High', onlyFixable: false });
    assert.deepEqual([without.allowlisted, without.expiredEntries, without.expiredMatches], [[], [], []], 'no allowlist: nothing accepted, nothing expired');
  });

  it('judges expiry against the current time when no time is given', () => {
    const v = evaluatePolicy([finding('CVE-1', 'High'), finding('CVE-2', 'High')], {
      failOnSeverity: 'High', onlyFixable: false, allowlist: allow([{ id: 'CVE-1', expires: '2000-01-01' }, { id: 'CVE-2', expires: '9999-12-31' }]),
    });
    assert.deepEqual([v.failing.map((f) => f.id), v.allowlisted.map((a) => a.finding.id), v.expiredEntries.map((e) => e.id)], [['CVE-1'], ['CVE-2'], ['CVE-1']]);
  });

  it('matches an entry\'s package in any case, and only that package', () => {
    const v = evaluatePolicy([finding('CVE-1', 'High', { package: 'libssl3' }), finding('CVE-2', 'High', { package: 'LibSSL3' }), finding('CVE-3', 'High', { package: 'openssl' })], {
      failOnSeverity: 'High', onlyFixable: false, now: new Date('2026-01-01T00:00:00Z'),
      allowlist: allow([{ id: 'CVE-1', package: 'LibSSL3', expires: '2026-12-31' }, { id: 'CVE-2', package: 'libssl3', expires: '2026-12-31' }, { id: 'CVE-3', package: 'libssl3', expires: '2026-12-31' }]),
    });
    assert.deepEqual([v.allowlisted.map((a) => a.finding.id), v.failing.map((f) => f.id)], [['CVE-1', 'CVE-2'], ['CVE-3']]);
  });

  it('fails at Low on everything counted, and counts each severity in its own box', () => {
    const fs = [finding('CVE-1', 'Low'), finding('CVE-2', 'Medium'), finding('CVE-3', 'Unknown'), finding('CVE-4', 'Critical'), finding('CVE-5', 'Low')];
    const v = evaluatePolicy(fs, { failOnSeverity: 'Low', onlyFixable: false });
    assert.equal(v.failing.length, 5);
    assert.deepEqual(v.counts, { critical: 1, high: 1, medium: 1, low: 2 });
    assert.deepEqual(evaluatePolicy(fs, { failOnSeverity: 'Medium', onlyFixable: false }).failing.map((f) => f.id), ['CVE-4', 'CVE-3', 'CVE-2']);
    assert.deepEqual(v.counted.map((f) => f.id), ['CVE-1', 'CVE-2', 'CVE-3', 'CVE-4', 'CVE-5']);
  });

  it('lists failing findings worst first: by severity, then by CVSS base score, then by id', () => {
    const cvss = (base: number) => [{ version: '3.1', base, vector: undefined }];
    const fs = [
      finding('CVE-5', 'High', { cvss: cvss(5) }), finding('CVE-9', 'High', { cvss: cvss(9.8) }), finding('CVE-1', 'Critical', { cvss: cvss(1) }),
      finding('CVE-3', 'High'), finding('CVE-2', 'High', { cvss: cvss(5) }), finding('CVE-0', 'Unknown', { cvss: cvss(7) }),
    ];
    assert.deepEqual(evaluatePolicy(fs, { failOnSeverity: 'High', onlyFixable: false }).failing.map((f) => f.id), ['CVE-1', 'CVE-9', 'CVE-0', 'CVE-2', 'CVE-5', 'CVE-3']);
  });

  it('keeps an allowlisted finding out of the counts, even one without a fix under onlyFixable', () => {
    const v = evaluatePolicy([finding('CVE-1', 'Critical', { fixStatus: 'NoFix', fixedVersion: undefined })], {
      failOnSeverity: 'High', onlyFixable: true, now: new Date('2026-01-01T00:00:00Z'), allowlist: allow([{ id: 'CVE-1', expires: '2026-12-31' }]),
    });
    assert.deepEqual([v.allowlisted.length, v.unfixable.length, v.unfixableCritical.length, v.counted.length, v.failing.length], [1, 0, 0, 0, 0]);
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
