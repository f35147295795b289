import { strict as assert } from 'node:assert';
import { fidelity } from './harness';

describe('Kubernetes emulator fidelity: basics', () => {
  fidelity('lists the built-in resources with their short names', 'kubectl api-resources', async ({ kubectl }) => {
    const out = await kubectl('api-resources');
    assert.match(out, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
    assert.match(out, /^namespaces\s+ns\s+v1\s+false\s+Namespace$/m);
  });

  fidelity('refuses to get an object that does not exist, with NotFound', 'kubectl get', async ({ kubectlResult, namespace }) => {
    const r = await kubectlResult('get', '-n', namespace(), 'configmap', 'missing');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error from server \(NotFound\): configmaps "missing" not found/);
  });
});
