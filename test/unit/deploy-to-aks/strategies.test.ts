import { strict as assert } from 'node:assert';
import { readDeployOptions } from '../../../tasks/deploy-to-aks/options';
import { canaryWorkloads } from '../../../tasks/deploy-to-aks/strategies/canary';
import { COLOUR_LABEL, MADE_FOR_LABEL, TRACK_LABEL, deploymentCopy, selects, serviceCopy } from '../../../tasks/deploy-to-aks/strategies/labels';
import { canaryWeights, weightedRules } from '../../../tasks/deploy-to-aks/traffic/gatewayApi';
import { replicaReport, replicaSplit } from '../../../tasks/deploy-to-aks/traffic/replicas';
import { fakeInputs } from '../../helpers/fakeInputs';

const deployment = (image: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' }, uid: 'u1', resourceVersion: '7', annotations: { 'deployment.kubernetes.io/revision': '3', team: 'a' } },
  spec: { replicas: 4, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } } },
  ...extra,
});

describe('deploy-to-aks strategies: planning', () => {
  it('turns a percentage into pod counts, rounded up to at least one, and says what share that gives', () => {
    assert.deepEqual(replicaSplit(4, 10), { canary: 1, baseline: 1, share: 1 / 6 });
    assert.deepEqual(replicaSplit(8, 20), { canary: 3, baseline: 3, share: 3 / 14 });
    // 9 · 10 / 80 = 1.125 → 2 pods each, 2/13 = 15.4 % (rounding up never gives the canary nothing).
    assert.equal(replicaSplit(9, 10).canary, 2);
    assert.equal(replicaSplit(1, 1).canary, 1);
    // Exactly reachable: 8 · 10 / 80 = 1 pod each, 1/10.
    assert.deepEqual(replicaSplit(8, 10), { canary: 1, baseline: 1, share: 0.1 });
    const report = replicaReport('web', 4, 1, 1, 10);
    assert.equal(report.words, 'the canary gets 1 of the 6 pods behind Service web (16.7 % of connections, 10 % asked; the baseline as much)');
    assert.deepEqual(report.rows.map((r) => r.pods), [4, 1, 1]);
  });

  it('weights stable, baseline and canary backends of an HTTPRoute, leaving rules for other apps alone', () => {
    assert.deepEqual(canaryWeights(10), { stable: 80, baseline: 10, canary: 10 });
    const rules = [
      { matches: [{ path: { value: '/' } }], backendRefs: [{ name: 'web', port: 80 }] },
      { matches: [{ path: { value: '/admin' } }], backendRefs: [{ name: 'admin', port: 8080 }] },
    ];
    const out = weightedRules(rules, ['web', 'web-stable', 'web-baseline', 'web-canary'], { 'web-stable': 80, 'web-baseline': 10, 'web-canary': 10 });
    assert.deepEqual(out[0], { matches: [{ path: { value: '/' } }], backendRefs: [{ name: 'web-stable', port: 80, weight: 80 }, { name: 'web-baseline', port: 80, weight: 10 }, { name: 'web-canary', port: 80, weight: 10 }] });
    assert.deepEqual(out[1], rules[1]);
  });

  it('makes the canary from the new manifests and the baseline from the stable template, both labelled apart', () => {
    const { canary, baseline } = canaryWorkloads(deployment('web:2.0'), deployment('web:1.0'), 2);
    assert.deepEqual([canary.metadata.name, baseline.metadata.name], ['web-canary', 'web-baseline']);
    assert.deepEqual([canary.spec.template.spec.containers[0].image, baseline.spec.template.spec.containers[0].image], ['web:2.0', 'web:1.0']);
    assert.deepEqual(canary.spec.selector.matchLabels, { app: 'web', [TRACK_LABEL]: 'canary' });
    assert.deepEqual(baseline.spec.template.metadata.labels, { app: 'web', [TRACK_LABEL]: 'baseline' });
    assert.deepEqual([canary.spec.replicas, baseline.spec.replicas], [2, 2]);
    assert.deepEqual(canary.metadata.labels, { app: 'web', [TRACK_LABEL]: 'canary', [MADE_FOR_LABEL]: 'web' });
    // Server fields of the live stable object do not travel into the copy.
    assert.deepEqual([baseline.metadata.uid, baseline.metadata.resourceVersion, baseline.metadata.annotations], [undefined, undefined, { team: 'a' }]);
  });

  it('copies a Service for one colour or track without its cluster address', () => {
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '127.32.0.9', selector: { app: 'web' }, ports: [{ port: 80 }] } };
    const preview = serviceCopy(svc, 'web-preview', { [COLOUR_LABEL]: 'green' }, 'web');
    assert.deepEqual(preview.spec, { selector: { app: 'web', [COLOUR_LABEL]: 'green' }, ports: [{ port: 80 }] });
    assert.ok(selects(svc, deploymentCopy(deployment('web:2.0'), 'web-green', { [COLOUR_LABEL]: 'green' }, undefined, 'web')));
    assert.ok(!selects({ ...svc, spec: { selector: { app: 'api' } } }, deployment('web:1.0')));
  });
});

describe('deploy-to-aks strategies: inputs', () => {
  const base = { connectionType: 'kubeconfig', kubeconfig: '/k', manifests: 'k8s/*.yaml' };
  const read = (extra: Record<string, string>) => readDeployOptions(fakeInputs({ ...base, ...extra })).strategy;
  it('reads a canary with its defaults, and a blue-green with its delay', () => {
    assert.deepEqual(read({ strategy: 'canary' }), { name: 'canary', action: 'deploy', traffic: 'replicas', percentage: 10, httpRoute: undefined });
    assert.deepEqual(read({ strategy: 'blueGreen', action: 'promote' }), { name: 'blueGreen', action: 'promote', traffic: 'replicas', httpRoute: undefined, scaleDownDelaySeconds: 30 });
    assert.deepEqual(read({}), { name: 'rolling' });
  });

  it('refuses input that cannot work, naming the input and the fix', () => {
    const fails = (extra: Record<string, string>, pattern: RegExp) => assert.throws(() => read(extra), pattern);
    fails({ strategy: 'canary', percentage: '0' }, /Input 'percentage' must be a whole number from 1 to 99, not '0'/);
    fails({ strategy: 'canary', percentage: '50' }, /50 % cannot be reached: .* at most 49 %/);
    fails({ strategy: 'canary', trafficSplit: 'gatewayApi' }, /Input 'httpRoute' is required when trafficSplit is gatewayApi/);
    fails({ strategy: 'canary', httpRoute: 'web' }, /Input 'httpRoute' applies to trafficSplit gatewayApi only/);
    fails({ action: 'promote' }, /Input 'action' applies to strategy canary or blueGreen only/);
    fails({ strategy: 'blueGreen', percentage: '10' }, /Input 'percentage' applies to strategy canary only/);
    fails({ strategy: 'canary', scaleDownDelaySeconds: '5' }, /Input 'scaleDownDelaySeconds' applies to strategy blueGreen only/);
    fails({ strategy: 'canary', dryRun: 'true' }, /Input 'dryRun' applies to strategy rolling only/);
    fails({ strategy: 'smi' }, /Input 'strategy' must be one of 'rolling', 'canary', 'blueGreen', not 'smi'/);
  });
});
