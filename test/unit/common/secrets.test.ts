import { strict as assert } from 'node:assert';
import { isSecretParameter, pemSecretLines, secretLines } from '../../../tasks/common/secrets';

describe('common secrets: which values are registered with the agent, and in what pieces', () => {
  it('takes the authorization parameters that hold keys, passwords, tokens, certificates and kubeconfigs as secrets, in any case', () => {
    for (const name of ['serviceprincipalkey', 'password', 'apitoken', 'servicePrincipalCertificate', 'kubeconfig', 'clientSecret', 'ACCESSTOKEN', 'Key']) {
      assert.equal(isSecretParameter(name), true, name);
    }
    for (const name of ['username', 'tenantid', 'serviceprincipalid', 'authenticationType', 'serverUrl', 'scope']) {
      assert.equal(isSecretParameter(name), false, name);
    }
  });

  it('registers each line of a multi-line value as it stands, leaving out blank lines', () => {
    assert.deepEqual(secretLines('s3cr3t'), ['s3cr3t']);
    assert.deepEqual(secretLines('first\r\nsecond\n\n  \nthird '), ['first', 'second', 'third ']);
    assert.deepEqual(secretLines(' padded '), [' padded '], 'the agent masks the value as it is printed, spaces included');
  });

  it('registers nothing for an empty or missing value', () => {
    assert.deepEqual(secretLines(undefined), []);
    assert.deepEqual(secretLines(''), []);
    assert.deepEqual(secretLines(' \n\t'), []);
  });

  it('registers the body of a PEM key, trimmed, and not its armour lines', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\r\n  MIIEvQIBADANBgkqhkiG9w0BAQEFAASC \r\nBKcwggSjAgEAAoIBAQC7\n\n-----END PRIVATE KEY-----\n';
    assert.deepEqual(pemSecretLines(pem), ['MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', 'BKcwggSjAgEAAoIBAQC7']);
    assert.deepEqual(pemSecretLines('  -----BEGIN CERTIFICATE-----\nAAAA'), ['AAAA'], 'an indented armour line is armour too');
    assert.deepEqual(pemSecretLines('-----BEGIN RSA PRIVATE KEY\nAAAA\n'), ['AAAA'], 'a line that opens with the five dashes is armour, closed or not');
    assert.deepEqual(pemSecretLines(undefined), []);
    assert.deepEqual(pemSecretLines(' \n'), []);
  });
});
