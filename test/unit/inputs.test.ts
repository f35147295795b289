import { strict as assert } from 'node:assert';
import { readAzureConnection, readRegistryConnection } from '../../tasks/common/connections';
import { UserError } from '../../tasks/common/errors';
import { fakeInputs } from '../helpers/fakeInputs';

const userError = (pattern: RegExp) => (err: unknown) => err instanceof UserError && pattern.test(err.message);

describe('task inputs', () => {
  it('reads text trimmed, and empty as absent', () => {
    const inputs = fakeInputs({ a: '  x ', b: '   ' });
    assert.equal(inputs.text('a'), 'x');
    assert.equal(inputs.text('b'), undefined);
    assert.throws(() => inputs.required('b', 'give a b'), userError(/^Input 'b' is required: give a b\.$/));
  });

  it('reads booleans strictly', () => {
    const inputs = fakeInputs({ t: 'True', f: 'false', bad: 'yes' });
    assert.equal(inputs.bool('t', false), true);
    assert.equal(inputs.bool('f', true), false);
    assert.equal(inputs.bool('missing', true), true);
    assert.throws(() => inputs.bool('bad', false), userError(/Input 'bad' must be true or false, not 'yes'/));
  });

  it('reads whole numbers within a range', () => {
    const inputs = fakeInputs({ n: '600', neg: '-1', frac: '1.5', word: 'ten' });
    assert.equal(inputs.int('n', 1, 0, 1000), 600);
    assert.equal(inputs.int('none', 7, 0, 10), 7);
    for (const name of ['neg', 'frac', 'word']) assert.throws(() => inputs.int(name, 1, 0, 1000), userError(/must be a whole number from 0 to 1000/));
  });

  it('reads choices without regard to case, in their declared spelling', () => {
    const inputs = fakeInputs({ m: 'ACRIMPORT', bad: 'copy' });
    assert.equal(inputs.choice('m', ['auto', 'acrImport'] as const, 'auto'), 'acrImport');
    assert.throws(() => inputs.choice('bad', ['auto', 'acrImport'] as const, 'auto'), userError(/must be one of 'auto', 'acrImport', not 'copy'/));
  });

  it('takes only the whole words true and false, and whole numbers at the ends of their range', () => {
    const inputs = fakeInputs({ a: 'truex', b: 'xtrue', c: 'falsey', d: 'nofalse', lo: '0', hi: '1000', under: '-1', over: '1001' });
    for (const name of ['a', 'b', 'c', 'd']) assert.throws(() => inputs.bool(name, false), userError(/must be true or false/), name);
    assert.deepEqual([inputs.int('lo', 5, 0, 1000), inputs.int('hi', 5, 0, 1000)], [0, 1000]);
    assert.throws(() => inputs.int('under', 5, 0, 1000), userError(/^Input 'under' must be a whole number from 0 to 1000, not '-1'\.$/));
    assert.throws(() => inputs.int('over', 5, 0, 1000), userError(/^Input 'over' must be a whole number from 0 to 1000, not '1001'\.$/));
  });

  it('reads pipeline variables trimmed, and blank ones as absent', () => {
    const inputs = fakeInputs({}, {}, { a: '  x ', b: '  ' });
    assert.deepEqual([inputs.variable('a'), inputs.variable('b'), inputs.variable('c')], ['x', undefined, undefined]);
  });

  it('reads multi-line inputs as trimmed lines, commas optional', () => {
    const inputs = fakeInputs({ l: ' a \n\n b,c \r\n' });
    assert.deepEqual(inputs.lines('l'), ['a', 'b,c']);
    assert.deepEqual(inputs.lines('l', { commas: true }), ['a', 'b', 'c']);
    assert.deepEqual(fakeInputs({ l: 'a,,b\n,c' }).lines('l', { commas: true }), ['a', 'b', 'c']);
    assert.deepEqual(fakeInputs({}).lines('l'), []);
  });
});

describe('service connections', () => {
  const arm = { url: 'https://management.azure.com/', data: { subscriptionId: 'sub', activeDirectoryAuthority: 'https://login.microsoftonline.com/' } };

  it('reads a service principal with a secret', () => {
    const c = readAzureConnection(fakeInputs({ azureSubscription: 'c1' }, { c1: { ...arm, scheme: 'ServicePrincipal', auth: { tenantid: 't', serviceprincipalid: 'app', serviceprincipalkey: 'k', authenticationType: 'spnKey' } } }), 'azureSubscription', true);
    assert.equal(c.scheme, 'ServicePrincipal');
    assert.equal(c.clientSecret, 'k');
    assert.equal(c.armResource, 'https://management.azure.com/');
    assert.equal(c.authorityHost, 'https://login.microsoftonline.com/');
    assert.equal(c.subscriptionId, 'sub');
  });

  it('reads a certificate, workload identity federation and a managed identity', () => {
    const cert = readAzureConnection(fakeInputs({ s: 'c' }, { c: { ...arm, scheme: 'ServicePrincipal', auth: { tenantid: 't', serviceprincipalid: 'app', authenticationType: 'spnCertificate', servicePrincipalCertificate: 'PEM' } } }), 's', true);
    assert.equal(cert.certificatePem, 'PEM');
    const wif = readAzureConnection(fakeInputs({ s: 'c' }, { c: { ...arm, scheme: 'WorkloadIdentityFederation', auth: { tenantid: 't', serviceprincipalid: 'app' } }, SystemVssConnection: { auth: { AccessToken: 'job' } } }, { 'System.OidcRequestUri': 'https://oidc' }), 's', true);
    assert.equal(wif.oidcRequestUri, 'https://oidc');
    assert.equal(wif.systemAccessToken, 'job');
    const mi = readAzureConnection(fakeInputs({ s: 'c' }, { c: { ...arm, scheme: 'ManagedServiceIdentity', auth: { tenantid: 't' }, data: { msiclientId: 'mi' } } }), 's', true);
    assert.equal(mi.msiClientId, 'mi');
  });

  it('takes the ARM audience of a sovereign cloud from the connection', () => {
    const c = readAzureConnection(fakeInputs({ s: 'c' }, { c: { url: 'https://management.usgovcloudapi.net/', scheme: 'ServicePrincipal', auth: { tenantid: 't', serviceprincipalid: 'a', serviceprincipalkey: 'k' }, data: { activeDirectoryServiceEndpointResourceId: 'https://management.core.usgovcloudapi.net/', activeDirectoryAuthority: 'https://login.microsoftonline.us' } } }), 's', true);
    assert.equal(c.armResource, 'https://management.core.usgovcloudapi.net/');
    assert.equal(c.authorityHost, 'https://login.microsoftonline.us/');
  });

  it('explains a missing connection, an unusable scheme and missing parameters', () => {
    assert.throws(() => readAzureConnection(fakeInputs({ s: 'nope' }), 's', true), userError(/service connection 'nope' is not available to this job/));
    assert.throws(() => readAzureConnection(fakeInputs({ s: 'c' }, { c: { ...arm, scheme: 'PublishProfile', auth: { tenantid: 't' } } }), 's', true), userError(/PublishProfile/));
    assert.throws(() => readAzureConnection(fakeInputs({ s: 'c' }, { c: { ...arm, scheme: 'ServicePrincipal', auth: { tenantid: 't', serviceprincipalid: 'a' } } }), 's', true), userError(/no service principal key/));
    assert.equal(readAzureConnection(fakeInputs({}), 's', false), undefined);
    assert.throws(() => readAzureConnection(fakeInputs({}), 's', true), userError(/Input 's' is required/));
  });

  it('reads a Docker registry connection', () => {
    const r = readRegistryConnection(fakeInputs({ r: 'd' }, { d: { url: 'https://contoso.azurecr.io/', scheme: 'UsernamePassword', auth: { registry: 'https://contoso.azurecr.io', username: 'u', password: 'p' } } }), 'r');
    assert.deepEqual(r, { input: 'r', id: 'd', registry: 'contoso.azurecr.io', username: 'u', password: 'p' });
  });
});
