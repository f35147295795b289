import { strict as assert } from 'node:assert';
import { FIELD_MANAGER } from '../../../tasks/deploy-to-aks/apply';
import { judge } from '../../../tasks/deploy-to-aks/rollout/judge';
import { crashing, deploymentAt, pod, pulling, readyPod, replicaSet, template } from './rolloutObjects';

const key = 'Deployment shop/web';

describe('deploy-to-aks rollout: judging one workload', () => {
  it('never fails a rollout for the previous revision\'s pods, and names them as context', () => {
    const d = deploymentAt({}, { updatedReplicas: 1, replicas: 4, availableReplicas: 1 });
    const view = { replicaSets: [replicaSet('web-old', 'web:1'), replicaSet('web-new', 'web:2')], pods: [pod('web-old-a', 'rs-web-old', pulling), pod('web-new-a', 'rs-web-new', readyPod)] };
    const look = judge({ applied: d, manifest: d }, d, view, key);
    assert.equal(look.outcome, 'waiting');
    assert.deepEqual(look.pods?.previous.map((p) => p.metadata.name), ['web-old-a']);
  });

  it('fails on the new revision\'s own pods with their reason', () => {
    const d = deploymentAt({}, { updatedReplicas: 1 });
    const view = { replicaSets: [replicaSet('web-old', 'web:1'), replicaSet('web-new', 'web:2')], pods: [pod('web-old-a', 'rs-web-old', pulling), pod('web-new-a', 'rs-web-new', crashing)] };
    const look = judge({ applied: d, manifest: d }, d, view, key);
    assert.equal(look.outcome, 'failed');
    assert.match(look.message, /^Deployment shop\/web failed: pod web-new-a, container 'web' is in CrashLoopBackOff/);
  });

  it('says a Deployment paused by someone else is paused, naming the field manager, and accepts a pause the manifest asks for', () => {
    const d = deploymentAt({ paused: true }, {});
    d.metadata.managedFields = [
      { manager: FIELD_MANAGER, operation: 'Apply', time: '2026-01-01T00:00:01Z', fieldsV1: { 'f:spec': { 'f:template': {} } } },
      { manager: 'kubectl', operation: 'Update', time: '2026-01-01T00:00:00Z', fieldsV1: { 'f:spec': { 'f:paused': {} } } },
    ];
    const other = judge({ applied: d, manifest: { ...d, spec: { template: d.spec.template } } }, d, { pods: [], replicaSets: [] }, key);
    assert.equal(other.outcome, 'failed');
    assert.match(other.message, /is paused \(spec\.paused is set by field manager 'kubectl \(an update\)'\).*kubectl rollout resume deployment\/web -n shop/);
    const own = judge({ applied: d, manifest: d }, d, { pods: [], replicaSets: [] }, key);
    assert.equal(own.outcome, 'ready');
  });

  it('calls a rollout superseded when the live template is no longer the applied one, saying by whom and what runs', () => {
    const applied = deploymentAt({}, {});
    const live = deploymentAt({ template: template('web:3') }, { updatedReplicas: 3, replicas: 3, availableReplicas: 3 }, 3);
    live.metadata.managedFields = [{ manager: 'argocd', operation: 'Apply', time: '2026-01-01T00:00:02Z', fieldsV1: { 'f:spec': { 'f:template': {} } } }];
    const look = judge({ applied, manifest: applied }, live, { pods: [], replicaSets: [] }, key);
    assert.equal(look.outcome, 'failed');
    assert.equal(look.outcome === 'failed' && look.status, 'superseded');
    assert.match(look.message, /replaced by field manager 'argocd'.*live now: container 'web' runs web:3/);
    live.metadata.managedFields = [{ manager: FIELD_MANAGER, operation: 'Apply', time: '2026-01-01T00:00:02Z', fieldsV1: { 'f:spec': { 'f:template': {} } } }];
    assert.match(judge({ applied, manifest: applied }, live, { pods: [], replicaSets: [] }, key).message, /another run of this task/);
  });

  it('judges a change of replicas alone (an autoscaler) as the same rollout', () => {
    const applied = deploymentAt({}, {});
    const live = deploymentAt({ replicas: 5 }, { updatedReplicas: 5, replicas: 5, availableReplicas: 5 }, 3);
    assert.equal(judge({ applied, manifest: applied }, live, { pods: [], replicaSets: [replicaSet('web-new', 'web:2')] }, key).outcome, 'ready');
  });
});
