import { strict as assert } from 'node:assert';
import { FIELD_MANAGER } from '../../../tasks/deploy-to-aks/apply';
import { judge } from '../../../tasks/deploy-to-aks/rollout/judge';
import type { KObj } from '../../../tasks/deploy-to-aks/kubeClient';
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
  it('names only the managers that wrote the template or the pause, not those of other fields', () => {
    const applied = deploymentAt({}, {});
    const live = deploymentAt({ template: template('web:3') }, {}, 3);
    live.metadata.managedFields = [
      { manager: 'argocd', operation: 'Apply', time: '2026-01-01T00:00:02Z', fieldsV1: { 'f:spec': { 'f:template': {} } } },
      { manager: 'hpa', operation: 'Update', time: '2026-01-01T00:00:03Z', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
      { manager: 'labeller', operation: 'Update', time: '2026-01-01T00:00:04Z', fieldsV1: { 'f:metadata': { 'f:labels': {} } } },
    ];
    const superseded = judge({ applied, manifest: applied }, live, { pods: [], replicaSets: [] }, key);
    assert.match(superseded.message, /replaced by field manager 'argocd' while/);
    const paused = deploymentAt({ paused: true }, {});
    paused.metadata.managedFields = [
      { manager: 'hpa', operation: 'Update', time: '2026-01-01T00:00:03Z', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
      { manager: 'kubectl', operation: 'Update', time: '2026-01-01T00:00:00Z', fieldsV1: { 'f:spec': { 'f:paused': {} } } },
    ];
    const other = judge({ applied: paused, manifest: applied }, paused, { pods: [], replicaSets: [] }, key);
    assert.match(other.message, /\(spec\.paused is set by field manager 'kubectl \(an update\)'\)/);
  });

  it('judges a workload by its status when the apply answer or the live object has no template to compare', () => {
    const live = deploymentAt({}, { updatedReplicas: 3, replicas: 3, availableReplicas: 3 });
    const withoutTemplate = (d: KObj): KObj => ({ ...d, spec: { replicas: d.spec.replicas } });
    const view = { pods: [], replicaSets: [replicaSet('web-new', 'web:2')] };
    assert.equal(judge({ applied: withoutTemplate(live), manifest: live }, live, view, key).outcome, 'ready');
    assert.equal(judge({ applied: { ...live, spec: undefined }, manifest: live }, live, view, key).outcome, 'ready', 'an answer without a spec');
    const applied = deploymentAt({}, {});
    assert.equal(judge({ applied, manifest: applied }, withoutTemplate(live), view, key).outcome, 'ready');
    assert.equal(judge({ applied, manifest: applied }, { ...live, spec: undefined }, view, key).outcome, 'ready', 'a live object without a spec: one replica');
  });

  it('fails at a progress deadline, naming the new revision\'s pod problem, and fails a failed Job as failed', () => {
    const deadline = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "web-new" has timed out progressing.' };
    const d = deploymentAt({}, { updatedReplicas: 1, conditions: [deadline] });
    const view = { replicaSets: [replicaSet('web-old', 'web:1'), replicaSet('web-new', 'web:2')], pods: [pod('web-old-a', 'rs-web-old', crashing), pod('web-new-a', 'rs-web-new', pulling)] };
    const look = judge({ applied: d, manifest: d }, d, view, key);
    assert.deepEqual(look.outcome === 'failed' && { status: look.status, message: look.message, problem: look.problem?.pod.metadata.name, reason: look.problem?.reason },
      { status: 'progressDeadline', message: 'ReplicaSet "web-new" has timed out progressing.', problem: 'web-new-a', reason: 'ImagePullBackOff' });
    assert.deepEqual(look.pods?.previous.map((p) => p.metadata.name), ['web-old-a']);
    const unobservedSets = judge({ applied: d, manifest: d }, d, { replicaSets: [], pods: view.pods }, key);
    assert.equal(unobservedSets.outcome === 'failed' && unobservedSets.problem, undefined, 'no new ReplicaSet: no pod of the new revision to blame');

    const job: KObj = {
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'migrate', namespace: 'shop', uid: 'j-1', generation: 1 },
      spec: { template: template('migrate:1') }, status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' }] },
    };
    const failedJob = judge({ applied: job, manifest: job }, job, { pods: [], replicaSets: [] }, 'Job shop/migrate');
    assert.deepEqual(failedJob.outcome === 'failed' && [failedJob.status, failedJob.message, failedJob.problem],
      ['failed', 'the Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit', undefined]);
  });
  it('fails a Deployment paused outside a manifest that says nothing of a pause, or of its spec', () => {
    const d = deploymentAt({ paused: true }, {});
    const look = judge({ applied: d, manifest: { ...d, spec: undefined } }, d, { pods: [], replicaSets: [] }, key);
    assert.deepEqual(look.outcome === 'failed' && [look.status, /spec\.paused was set outside this task/.test(look.message)], ['failed', true]);
  });

  it('waits without pods while the new revision has no ReplicaSet yet, and while a Job runs', () => {
    const d = deploymentAt({}, { updatedReplicas: 0 });
    assert.deepEqual(judge({ applied: d, manifest: d }, d, { pods: [pod('web-old-a', 'rs-web-old', crashing)], replicaSets: [replicaSet('web-old', 'web:1')] }, key),
      { outcome: 'waiting', message: '0 out of 3 new replicas have been updated' });
    const job: KObj = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'migrate', namespace: 'shop', uid: 'j-1', generation: 1 }, spec: { template: template('migrate:1') }, status: { active: 1 } };
    const running = judge({ applied: job, manifest: job }, job, { pods: [pod('migrate-a', 'j-1', readyPod)], replicaSets: [] }, 'Job shop/migrate');
    assert.deepEqual([running.outcome, running.message, running.pods?.current.map((p) => p.metadata.name)], ['waiting', '0 of 1 completions, 1 active, 0 failed', ['migrate-a']]);
  });

  it('fails with the status failed on a pod problem and on a ReplicaSet the controller cannot fill', () => {
    const d = deploymentAt({}, { updatedReplicas: 1 });
    const view = { replicaSets: [replicaSet('web-new', 'web:2')], pods: [pod('web-new-a', 'rs-web-new', crashing)] };
    const crash = judge({ applied: d, manifest: d }, d, view, key);
    assert.deepEqual(crash.outcome === 'failed' && [crash.status, crash.problem?.reason], ['failed', 'CrashLoopBackOff']);
    const full = replicaSet('web-new', 'web:2');
    full.status = { conditions: [{ type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'pods "web-new-b" is forbidden: exceeded quota: compute' }] };
    const refused = judge({ applied: d, manifest: d }, d, { replicaSets: [full], pods: [pod('web-new-a', 'rs-web-new', readyPod)] }, key);
    assert.deepEqual(refused.outcome === 'failed' && [refused.status, refused.message, refused.pods?.current.length],
      ['failed', 'Deployment shop/web failed: FailedCreate: pods "web-new-b" is forbidden: exceeded quota: compute', 1]);
  });

  it('calls an OrderedReady StatefulSet stuck on a broken pod of its previous revision, naming the pod', () => {
    const sts: KObj = {
      apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'shop', uid: 's-1', generation: 2 },
      spec: { replicas: 2, template: template('db:2') }, status: { observedGeneration: 2, readyReplicas: 1, currentRevision: 'db-1', updateRevision: 'db-2' },
    };
    const pods = [pod('db-0', 's-1', readyPod, { 'controller-revision-hash': 'db-1' }), pod('db-1', 's-1', crashing, { 'controller-revision-hash': 'db-1' })];
    const look = judge({ applied: sts, manifest: sts }, sts, { pods, replicaSets: [] }, 'StatefulSet shop/db');
    assert.equal(look.outcome, 'stuck');
    assert.deepEqual(look.outcome === 'stuck' && look.stuck.map((p) => p.metadata.name), ['db-1']);
    assert.match(look.message, /^StatefulSet shop\/db cannot roll forward: the previous revision's pod db-1, container 'web' is in CrashLoopBackOff/);
  });
});
