import { strict as assert } from 'node:assert';
import { DESIRED_REPLICAS_ANNOTATION } from '../env/kube/controllers/horizontalPodAutoscaler';
import type { KObj } from '../env/kube/types';
import { fidelity, type FidelityContext } from './harness';
import { apply, deploymentManifest, getJson, until } from './controllers-workloads';

const HPA = 'kubernetes pkg/controller/podautoscaler/horizontal.go; docs tasks/run-application/horizontal-pod-autoscale';
const SSA = 'docs reference/using-api/server-side-apply#transferring-ownership';

function autoscaler(target: string, min: number, max: number, desired?: number): KObj {
  return {
    apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler',
    metadata: { name: target, ...(desired !== undefined ? { annotations: { [DESIRED_REPLICAS_ANNOTATION]: String(desired) } } : {}) },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target }, minReplicas: min, maxReplicas: max },
  };
}

const replicas = async (c: FidelityContext, ns: string) => Number(await c.kubectl('get', '-n', ns, 'deployment/web', '-o', 'jsonpath={.spec.replicas}'));
const condition = (hpa: KObj, type: string) => (hpa.status?.conditions ?? []).find((x: { type: string }) => x.type === type);

describe('Kubernetes emulator fidelity: the HorizontalPodAutoscaler controller', () => {
  fidelity('scales a Deployment up to minReplicas when its metric asks for fewer, through the scale subresource, and says the count was limited', HPA, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, deploymentManifest('web', { replicas: 1 }, { image: `${c.f.image}:1.0` }), autoscaler('web', 3, 5, 1));
    await until('the autoscaler to scale web to 3', async () => (await replicas(c, ns)) === 3);
    const deployment = await getJson(c, ns, 'deployment/web', '--show-managed-fields');
    const entry = (deployment.metadata.managedFields as { manager: string; subresource?: string; fieldsV1?: { 'f:spec'?: Record<string, unknown> } }[]).find((e) => e.manager === 'horizontal-pod-autoscaler');
    assert.equal(entry?.subresource, 'scale');
    assert.ok(entry?.fieldsV1?.['f:spec']?.['f:replicas'], 'the autoscaler owns spec.replicas');
    const hpa = await getJson(c, ns, 'hpa/web');
    assert.equal(hpa.status.desiredReplicas, 3);
    assert.equal(condition(hpa, 'ScalingLimited')?.reason, 'TooFewReplicas');
    assert.equal(condition(hpa, 'AbleToScale')?.status, 'True');
    const events = await c.kubectl('get', 'events', '-n', ns, '--field-selector', 'involvedObject.kind=Deployment,reason=SuccessfulRescale', '-o', 'jsonpath={.items[*].message}');
    assert.match(events, /New size: 3/);
  });

  fidelity('holds what it asks for within maxReplicas', HPA, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, deploymentManifest('web', { replicas: 2 }, { image: `${c.f.image}:1.0` }), autoscaler('web', 1, 4, 9));
    await until('the autoscaler to scale web to 4', async () => (await replicas(c, ns)) === 4);
    const hpa = await getJson(c, ns, 'hpa/web');
    assert.equal(hpa.status.desiredReplicas, 4);
    assert.equal(condition(hpa, 'ScalingLimited')?.reason, 'TooManyReplicas');
  });

  fidelity('keeps the autoscaler\'s replicas when the manifest that once set them leaves them out: the scale update took the field over', SSA, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, deploymentManifest('web', { replicas: 1 }, { image: `${c.f.image}:1.0` }), autoscaler('web', 3, 5));
    await until('the autoscaler to scale web to 3', async () => (await replicas(c, ns)) === 3);
    const manifest = deploymentManifest('web', {}, { image: `${c.f.image}:1.0` });
    delete manifest.spec.replicas;
    await apply(c, ns, manifest);
    const deployment = await getJson(c, ns, 'deployment/web', '--show-managed-fields');
    assert.equal(deployment.spec.replicas, 3, 'the apply did not remove a field it no longer owned');
    const applier = (deployment.metadata.managedFields as { manager: string; operation: string; fieldsV1?: { 'f:spec'?: Record<string, unknown> } }[]).find((e) => e.operation === 'Apply');
    assert.equal(applier?.fieldsV1?.['f:spec']?.['f:replicas'], undefined, 'the applier no longer owns spec.replicas');
  });

  fidelity('reports a target it cannot find as AbleToScale False (FailedGetScale)', HPA, async (c) => {
    const ns = c.namespace();
    await apply(c, ns, autoscaler('missing', 1, 3));
    await until('the autoscaler to report', async () => condition(await getJson(c, ns, 'hpa/missing'), 'AbleToScale') !== undefined);
    const able = condition(await getJson(c, ns, 'hpa/missing'), 'AbleToScale');
    assert.equal(able.status, 'False');
    assert.equal(able.reason, 'FailedGetScale');
    assert.match(able.message, /deployments "missing" not found/);
  });
});
