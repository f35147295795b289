import { strict as assert } from 'node:assert';
import { UserError } from '../../tasks/common/errors';
import { readDeployOptions } from '../../tasks/deploy-to-aks/options';
import { fakeInputs } from '../helpers/fakeInputs';


const userError = (pattern: RegExp) => (err: unknown) => err instanceof UserError && pattern.test(err.message);
const base = { connectionType: 'kubeconfig', kubeconfig: '/agent/kubeconfig', manifests: 'k8s/*.yaml' };

describe('deploy-to-aks options', () => {
  it('reads a service account connection: token in base64, CA as PEM or base64', () => {
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const o = readDeployOptions(fakeInputs({ ...base, connectionType: 'kubernetesServiceConnection', kubernetesServiceConnection: 'sc' }, {
      sc: { url: 'https://aks.example:443', scheme: 'Token', auth: { apiToken: Buffer.from('tok.en-1').toString('base64'), serviceAccountCertificate: ca }, data: { authorizationType: 'ServiceAccount', acceptUntrustedCerts: 'false' } },
    }));
    assert.equal(o.connection.type, 'kubernetesServiceConnection');
    if (o.connection.type !== 'kubernetesServiceConnection') return;
    assert.equal(o.connection.authorizationType, 'ServiceAccount');
    assert.equal(o.connection.token, 'tok.en-1');
    assert.equal(Buffer.from(o.connection.caData!, 'base64').toString('utf8'), ca.trim());
    assert.equal(o.connection.server, 'https://aks.example:443');
  });

  it('reads a kubeconfig connection with its context, and refuses unknown authorization types', () => {
    const o = readDeployOptions(fakeInputs({ ...base, connectionType: 'kubernetesServiceConnection', kubernetesServiceConnection: 'sc' }, {
      sc: { url: 'https://aks.example', scheme: 'Kubernetes', auth: { kubeconfig: 'apiVersion: v1', clusterContext: 'prod' }, data: { authorizationType: 'Kubeconfig' } },
    }));
    assert.deepEqual(o.connection, { type: 'kubernetesServiceConnection', endpointId: 'sc', authorizationType: 'Kubeconfig', kubeconfig: 'apiVersion: v1', clusterContext: 'prod', acceptUntrustedCerts: false });
    assert.throws(() => readDeployOptions(fakeInputs({ ...base, connectionType: 'kubernetesServiceConnection', kubernetesServiceConnection: 'sc' }, {
      sc: { url: 'https://aks.example', scheme: 'Kubernetes', data: { authorizationType: 'Magic' } },
    })), userError(/authorization type 'Magic'/));
    assert.throws(() => readDeployOptions(fakeInputs({ ...base, connectionType: 'kubernetesServiceConnection', kubernetesServiceConnection: 'gone' })), userError(/'gone' is not available to this job/));
  });

  it('derives the app name from the pipeline, validates a given one, and collects pipeline metadata', () => {
    const o = readDeployOptions(fakeInputs(base, {}, {
      'Build.DefinitionName': 'Shop CD (main)', 'System.CollectionUri': 'https://dev.azure.com/contoso/', 'System.TeamProject': 'Web Shop', 'Build.BuildId': '7',
      'Build.BuildNumber': '20260101.3', 'Build.SourceVersion': 'abc',
    }));
    assert.equal(o.appName, 'Shop-CD-main');
    assert.deepEqual(o.metadata, {
      'aks-secure-delivery.dev/run-url': 'https://dev.azure.com/contoso/Web%20Shop/_build/results?buildId=7',
      'aks-secure-delivery.dev/pipeline': 'Shop CD (main)',
      'aks-secure-delivery.dev/build-number': '20260101.3',
      'aks-secure-delivery.dev/commit': 'abc',
    });
    assert.equal(readDeployOptions(fakeInputs(base)).appName, 'app');
    assert.throws(() => readDeployOptions(fakeInputs({ ...base, appName: 'bad name!' })), userError(/Input 'appName': 'bad name!' is not a valid label value/));
  });

  it('validates namespace, pull secrets, images and the timeout', () => {
    assert.throws(() => readDeployOptions(fakeInputs({ ...base, namespace: 'Prod' })), userError(/Input 'namespace': 'Prod' is not a valid namespace name/));
    assert.throws(() => readDeployOptions(fakeInputs({ ...base, imagePullSecrets: 'ok,Bad_Name' })), userError(/'Bad_Name' is not a valid secret name/));
    assert.throws(() => readDeployOptions(fakeInputs({ ...base, images: 'shop/web:1.0\nShop/Web' })), userError(/Input 'images'/));
    assert.throws(() => readDeployOptions(fakeInputs({ ...base, rolloutTimeout: '0' })), userError(/Input 'rolloutTimeout' must be a whole number from 1/));
    assert.throws(() => readDeployOptions(fakeInputs({ connectionType: 'kubeconfig', manifests: 'a.yaml' })), userError(/Input 'kubeconfig' is required/));
    const o = readDeployOptions(fakeInputs({ ...base, images: 'contoso.azurecr.io/shop/web@sha256:' + 'a'.repeat(64), imagePullSecrets: 'one\ntwo' }));
    assert.deepEqual(o.imagePullSecrets, ['one', 'two']);
    assert.equal(o.images[0].digest, `sha256:${'a'.repeat(64)}`);
    assert.equal(o.rolloutTimeoutSeconds, 600);
  });
});
