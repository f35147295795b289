import { strict as assert } from 'node:assert';
import { deployment } from '../../../tasks/deploy-to-aks/rollout/deployment';
import { crashing, deploymentAt, pod, pulling, replicaSet } from './rolloutObjects';

describe('deploy-to-aks rollout: Deployments', () => {
  it('follows kubectl\'s Deployment rules in order', () => {
    assert.match(deployment.evaluate(deploymentAt({}, { observedGeneration: 1 })).message, /spec update to be observed/);
    const deadline = deployment.evaluate(deploymentAt({}, { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-1" has timed out progressing.' }] }));
    assert.deepEqual(deadline, { state: 'failed', progressDeadline: true, message: 'ReplicaSet "web-1" has timed out progressing.' });
    assert.match(deployment.evaluate(deploymentAt({}, { updatedReplicas: 1 })).message, /1 out of 3 new replicas have been updated/);
    assert.match(deployment.evaluate(deploymentAt({}, { updatedReplicas: 3, replicas: 4 })).message, /1 old replicas are pending termination/);
    assert.match(deployment.evaluate(deploymentAt({}, { updatedReplicas: 3, replicas: 3, availableReplicas: 2 })).message, /2 of 3 updated replicas are available/);
    assert.equal(deployment.evaluate(deploymentAt({}, { updatedReplicas: 3, replicas: 3, availableReplicas: 3 })).state, 'ready');
  });

  it('says paused once the pause is observed, before any replica count', () => {
    assert.equal(deployment.evaluate(deploymentAt({ paused: true }, { updatedReplicas: 0 })).state, 'paused');
    assert.equal(deployment.evaluate(deploymentAt({ paused: true }, { observedGeneration: 1 })).state, 'waiting');
  });

  it('finds the new ReplicaSet by the applied template, not by the revision annotation, and only once observed', () => {
    const old = { ...replicaSet('web-old', 'web:1'), metadata: { ...replicaSet('web-old', 'web:1').metadata, annotations: { 'deployment.kubernetes.io/revision': '1' } } };
    const d = deploymentAt({}, {});
    d.metadata.annotations = { 'deployment.kubernetes.io/revision': '1' };
    const pods = [pod('web-old-a', 'rs-web-old', pulling), pod('web-new-a', 'rs-web-new', crashing)];
    assert.equal(deployment.revisionPods(d, { pods, replicaSets: [old] }), undefined, 'the new ReplicaSet does not exist yet: nothing to judge');
    const split = deployment.revisionPods(d, { pods, replicaSets: [old, replicaSet('web-new', 'web:2')] })!;
    assert.deepEqual(split.current.map((p) => p.metadata.name), ['web-new-a']);
    assert.deepEqual(split.previous.map((p) => p.metadata.name), ['web-old-a']);
    const unobserved = deploymentAt({}, { observedGeneration: 1 });
    assert.equal(deployment.revisionPods(unobserved, { pods, replicaSets: [old, replicaSet('web-new', 'web:2')] }), undefined);
  });

  it('matches templates semantically: nulls, empty maps and the hash label do not count', () => {
    const rs = replicaSet('web-new', 'web:2');
    rs.spec.template.metadata.creationTimestamp = null;
    rs.spec.template.spec.containers[0].resources = {};
    const split = deployment.revisionPods(deploymentAt({}, {}), { pods: [pod('a', 'rs-web-new')], replicaSets: [rs] });
    assert.equal(split?.current.length, 1);
  });

  it('reads ReplicaFailure off the new ReplicaSet only', () => {
    const failure = { conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'pods "web-new-" is forbidden: exceeded quota' }] };
    const old = { ...replicaSet('web-old', 'web:1'), status: failure };
    const fresh = replicaSet('web-new', 'web:2');
    assert.equal(deployment.replicaFailure!(deploymentAt({}, {}), { pods: [], replicaSets: [old, fresh] }), undefined);
    const refused = deployment.replicaFailure!(deploymentAt({}, {}), { pods: [], replicaSets: [old, { ...fresh, status: failure }] });
    assert.equal(refused, 'FailedCreate: pods "web-new-" is forbidden: exceeded quota');
  });

  it('lists the ReplicaSets and the namespace\'s pods as its collections', () => {
    assert.equal(deployment.collection('a b'), '/apis/apps/v1/namespaces/a%20b/deployments');
    assert.equal(deployment.readsReplicaSets, true);
  });
  it('words each verdict, one replica and no pause unless the spec says otherwise', () => {
    assert.deepEqual(deployment.evaluate(deploymentAt({ paused: true }, {})), { state: 'paused', message: 'deployment "web" is paused' });
    assert.deepEqual(deployment.evaluate(deploymentAt({}, { conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] })),
      { state: 'failed', progressDeadline: true, message: 'deployment "web" exceeded its progress deadline' });
    assert.deepEqual(deployment.evaluate(deploymentAt({}, { updatedReplicas: 1 })), { state: 'waiting', message: '1 out of 3 new replicas have been updated' });
    assert.deepEqual(deployment.evaluate(deploymentAt({}, { updatedReplicas: 3, replicas: 5 })), { state: 'waiting', message: '2 old replicas are pending termination' });
    assert.deepEqual(deployment.evaluate(deploymentAt({}, { updatedReplicas: 3, replicas: 3 })), { state: 'waiting', message: '0 of 3 updated replicas are available' });
    assert.deepEqual(deployment.evaluate(deploymentAt({}, { updatedReplicas: 3, replicas: 3, availableReplicas: 3 })), { state: 'ready', message: 'successfully rolled out (3 of 3 replicas available)' });
    const bare = { ...deploymentAt({}, {}), spec: undefined };
    assert.deepEqual(deployment.evaluate(bare), { state: 'waiting', message: '0 out of 1 new replicas have been updated' });
    assert.deepEqual(deployment.evaluate({ ...bare, status: { observedGeneration: 2, updatedReplicas: 1, availableReplicas: 1 } }), { state: 'ready', message: 'successfully rolled out (1 of 1 replicas available)' });
    assert.equal(deployment.revisionPods(bare, { pods: [], replicaSets: [replicaSet('web-new', 'web:2')] }), undefined, 'no template: no ReplicaSet of it');
  });

  it('takes the oldest ReplicaSet of the applied template, as the controller does, passing over one without a spec', () => {
    const at = (name: string, created: string) => ({ ...replicaSet(name, 'web:2'), metadata: { ...replicaSet(name, 'web:2').metadata, creationTimestamp: created } });
    const pods = [pod('a', 'rs-web-b'), pod('b', 'rs-web-a')];
    const partial = { ...replicaSet('web-c', 'web:2'), spec: undefined };
    const split = deployment.revisionPods(deploymentAt({}, {}), { pods, replicaSets: [partial, at('web-b', '2026-01-02T00:00:00Z'), at('web-a', '2026-01-01T00:00:00Z')] })!;
    assert.deepEqual([split.current.map((p) => p.metadata.name), split.previous.map((p) => p.metadata.name)], [['b'], ['a']]);
  });
});
