import { strict as assert } from 'node:assert';
import { agentBypass, noProxyBypass } from '../../tasks/common/network/bypass';
import { proxyFor, readNetworkSettings } from '../../tasks/common/network/settings';
import type { TaskLog } from '../../tasks/common/log';

function memoryLog(): TaskLog & { secrets: string[]; warnings: string[] } {
  const secrets: string[] = [];
  const warnings: string[] = [];
  return { secrets, warnings, info() {}, debug() {}, warn: (m) => warnings.push(m), secret: (v) => { if (v) secrets.push(v); } };
}

const variables = (values: Record<string, string>) => ({ variable: (name: string) => values[name] });

describe('the agent proxy bypass list, as task-lib means it (units)', () => {
  it('tests each entry as an unanchored, case-insensitive regular expression over the whole URL', () => {
    const bypass = agentBypass(JSON.stringify(['localhost', '\\.corp\\.example\\.com']), () => assert.fail('all valid'));
    // task-lib's getHttpProxyConfiguration: `new RegExp(entry, 'i').test(requestUrl)` (reference §1.4).
    assert.equal(bypass(new URL('https://LOCALHOST:1/')), true);
    assert.equal(bypass(new URL('https://registry.example.com/v2/?x=localhost')), true, 'the query counts, as task-lib matches it');
    assert.equal(bypass(new URL('https://acr.corp.example.com/v2/')), true);
    assert.equal(bypass(new URL('https://myacr.azurecr.io/v2/')), false);
  });

  it('bypasses nothing implicitly, loopback included', () => {
    const bypass = agentBypass(undefined, () => undefined);
    for (const url of ['https://127.0.0.1:8443/', 'http://localhost/', 'https://[::1]/']) assert.equal(bypass(new URL(url)), false, url);
  });

  it('matches an entry that is not a regular expression as a host pattern, and reports it', () => {
    const invalid: string[] = [];
    // The agent turns no_proxy=*.corp.example.com into '*\.corp\.example\.com' (VstsAgentWebProxy.cs L273): "Nothing to repeat" in JavaScript.
    const bypass = agentBypass(JSON.stringify(['*\\.corp\\.example\\.com']), (entry) => invalid.push(entry));
    assert.deepEqual(invalid, ['*\\.corp\\.example\\.com']);
    assert.equal(bypass(new URL('https://acr.corp.example.com/v2/')), true);
    assert.equal(bypass(new URL('https://corp.example.com.evil.io/')), false, 'a host pattern is matched whole');
  });

  it('reports an invalid entry once however many requests it meets', () => {
    const log = memoryLog();
    const settings = readNetworkSettings(variables({ 'Agent.ProxyUrl': 'http://127.0.0.1:3128', 'Agent.ProxyBypassList': JSON.stringify(['*\\.x', '*\\.x']) }), log, {});
    for (let i = 0; i < 3; i++) proxyFor(new URL('https://a.x/'), settings);
    assert.equal(log.warnings.filter((w) => w.includes('*\\.x')).length, 1);
  });
});

describe('NO_PROXY of the environment (units)', () => {
  it('matches exact hosts, domains with a leading dot or *., ports, and * for everything', () => {
    const bypass = noProxyBypass('localhost, .corp.example.com,*.internal, 127.0.0.1:8443');
    assert.equal(bypass(new URL('http://localhost:1/')), true);
    assert.equal(bypass(new URL('https://a.corp.example.com/')), true);
    assert.equal(bypass(new URL('https://corp.example.com/')), true);
    assert.equal(bypass(new URL('https://b.internal/')), true);
    assert.equal(bypass(new URL('https://127.0.0.1:8443/')), true);
    assert.equal(bypass(new URL('https://127.0.0.1:9443/')), false, 'another port');
    assert.equal(bypass(new URL('https://notcorp.example.com.io/')), false);
    assert.equal(noProxyBypass('*')(new URL('https://anything/')), true);
  });
});

describe('the agent network settings (units)', () => {
  it('takes the agent proxy and its credentials, registering every form of the password before use', () => {
    const log = memoryLog();
    const password = 's3cr3t@:x';
    const settings = readNetworkSettings(variables({ 'Agent.ProxyUrl': 'http://127.0.0.1:13128', 'Agent.ProxyUsername': 'dom\\alice', 'Agent.ProxyPassword': password }), log, {});
    const proxy = proxyFor(new URL('https://myacr.azurecr.io/v2/'), settings)!;
    assert.equal(proxy.origin, 'http://127.0.0.1:13128');
    assert.equal(proxy.authorization, `Basic ${Buffer.from(`dom\\alice:${password}`).toString('base64')}`);
    for (const form of [password, encodeURIComponent(password), Buffer.from(`dom\\alice:${password}`).toString('base64')]) {
      assert.ok(log.secrets.includes(form), `registered: ${form}`);
    }
  });

  it('honours HTTPS_PROXY and NO_PROXY only when the agent gives no proxy', () => {
    const env = { HTTPS_PROXY: 'http://u:p%40ss@127.0.0.1:3128', NO_PROXY: 'localhost' };
    const fromEnv = readNetworkSettings(variables({}), memoryLog(), env);
    assert.equal(proxyFor(new URL('https://acr.example.com/'), fromEnv)?.origin, 'http://127.0.0.1:3128');
    assert.equal(proxyFor(new URL('https://acr.example.com/'), fromEnv)?.password, 'p@ss');
    assert.equal(proxyFor(new URL('https://localhost/'), fromEnv), undefined);
    assert.equal(proxyFor(new URL('http://acr.example.com/'), fromEnv), undefined, 'no HTTP_PROXY: plain HTTP goes directly');
    const agent = readNetworkSettings(variables({ 'Agent.ProxyUrl': 'http://127.0.0.9:8080' }), memoryLog(), env);
    assert.equal(proxyFor(new URL('https://localhost/'), agent)?.origin, 'http://127.0.0.9:8080', "the agent's settings win, NO_PROXY included");
  });

  it('warns that Agent.SkipCertValidation is not honoured', () => {
    const log = memoryLog();
    readNetworkSettings(variables({ 'Agent.SkipCertValidation': 'True' }), log, {});
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0], /still validates every server certificate.*Agent\.CAInfo/);
  });
});
