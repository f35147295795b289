import { strict as assert } from 'node:assert';
import type { KObj } from '../../../tasks/deploy-to-aks/kubeClient';
import { managersOf } from '../../../tasks/deploy-to-aks/rollout/managedFields';
import { sameTemplate } from '../../../tasks/deploy-to-aks/rollout/template';
import { replicaSet, template } from './rolloutObjects';

describe('deploy-to-aks rollout: templates and their writers', () => {
  it('compares pod templates as the controllers do: the ReplicaSet\'s pod-template-hash aside, either way round', () => {
    const applied = template('web:2');
    const owned = replicaSet('web-new', 'web:2').spec.template;
    assert.equal(sameTemplate(applied, owned), true);
    assert.equal(sameTemplate(owned, applied), true);
    assert.equal(sameTemplate(applied, replicaSet('web-old', 'web:1').spec.template), false);
  });

  it('takes null, empty maps and empty lists as absent, and keys in any order', () => {
    const t = { metadata: { labels: { app: 'web', tier: 'front' } }, spec: { containers: [{ name: 'web', image: 'web:2', args: ['-v'] }] } };
    const served = { metadata: { creationTimestamp: null, labels: { tier: 'front', app: 'web' } }, spec: { volumes: [], containers: [{ resources: {}, image: 'web:2', name: 'web', args: ['-v'] }] } };
    assert.equal(sameTemplate(t, served), true);
    assert.equal(sameTemplate(undefined, {}), true);
    assert.equal(sameTemplate({ metadata: { annotations: {} }, spec: t.spec }, { spec: t.spec }), true, 'a map of nothing but empty maps is empty');
  });

  it('tells apart what the controllers tell apart: another label, a hash outside the labels, the order or kind of a list', () => {
    const t = (labels: Record<string, string>, spec: object = {}) => ({ metadata: { labels }, spec: { containers: [{ name: 'web', image: 'web:2' }], ...spec } });
    assert.equal(sameTemplate(t({ app: 'web' }), t({ app: 'api' })), false);
    assert.equal(sameTemplate(t({ app: 'web' }), t({ app: 'web', track: 'canary' })), false);
    assert.equal(sameTemplate(t({ app: 'web' }, { nodeSelector: { 'pod-template-hash': 'a' } }), t({ app: 'web' }, { nodeSelector: { 'pod-template-hash': 'b' } })), false);
    assert.equal(sameTemplate(t({ app: 'web' }, { args: ['a', 'b'] }), t({ app: 'web' }, { args: ['b', 'a'] })), false);
    assert.equal(sameTemplate(t({ app: 'web' }, { args: ['a'] }), t({ app: 'web' }, { args: { 0: 'a' } })), false, 'a list is not a map');
  });

  it('names the managers of a field, latest first, once each, leaving out one manager and those of other fields', () => {
    const obj = (managedFields: object[]): KObj => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', managedFields } });
    const template = { 'f:spec': { 'f:template': { 'f:spec': {} } } };
    const fields = obj([
      { manager: 'timeless', operation: 'Apply', fieldsV1: template },
      { manager: 'argocd', operation: 'Apply', time: '2026-01-01T00:00:01Z', fieldsV1: template },
      { manager: 'kubectl', operation: 'Update', time: '2026-01-01T00:00:03Z', fieldsV1: template },
      { manager: 'argocd', operation: 'Apply', time: '2026-01-01T00:00:02Z', fieldsV1: template },
      { manager: 'hpa', operation: 'Update', time: '2026-01-01T00:00:09Z', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
      { manager: 'labels', operation: 'Update', time: '2026-01-01T00:00:09Z', fieldsV1: { 'f:spec': 'f:template' } },
      { manager: 'nulls', operation: 'Update', time: '2026-01-01T00:00:09Z', fieldsV1: { 'f:spec': null } },
      { manager: 'none', operation: 'Update', time: '2026-01-01T00:00:09Z' },
      { operation: 'Update', time: '2026-01-01T00:00:09Z', fieldsV1: template },
      { manager: 'timeless', operation: 'Apply', fieldsV1: template },
      { manager: 'hpa', operation: 'Update', time: '2026-01-01T00:00:08Z', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
    ]);
    assert.deepEqual(managersOf(fields, ['spec', 'template']), ['kubectl (an update)', 'argocd', 'timeless']);
    assert.deepEqual(managersOf(fields, ['spec', 'template'], 'argocd'), ['kubectl (an update)', 'timeless']);
    assert.deepEqual(managersOf(fields, ['spec', 'template', 'spec']), ['kubectl (an update)', 'argocd', 'timeless']);
    assert.deepEqual(managersOf(fields, ['spec', 'replicas']), ['hpa (an update)']);
    assert.deepEqual(managersOf(fields, ['spec', 'paused']), []);
    assert.deepEqual(managersOf(obj([]), ['spec']), []);
    assert.deepEqual(managersOf({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }, ['spec']), [], 'no managedFields at all');
  });
});
