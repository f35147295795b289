import { strict as assert } from 'node:assert';
import { secretLeaks } from '../helpers/agent';
import { type DeployFixture, describeRun, freshNamespace, get, runDeploy, useDeployFixture, workload, writeManifest } from './deploy-to-aks-fixture';

describe('DeployToAks@1: rollouts', function () {
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });

  it('rolls out a Deployment, a StatefulSet and a DaemonSet, with outputs, summary and pipeline metadata', async () => {
    const ns = freshNamespace(f);
    const file = writeManifest(f,
      workload({ kind: 'Deployment', name: 'web', image: 'shop/web' }),
      workload({ kind: 'StatefulSet', name: 'db', image: `${f.image}:1.0`, replicas: 2 }),
      workload({ kind: 'DaemonSet', name: 'agent', image: `${f.image}:1.0` }),
      'apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { selector: { app: web }, ports: [{ port: 80 }] }',
    );
    const run = await runDeploy(f, { manifests: file, namespace: ns, images: `${f.image}:2.0`, imagePullSecrets: 'acr-pull' }, {
      variables: { 'System.CollectionUri': 'https://dev.azure.com/contoso/', 'System.TeamProject': 'shop', 'Build.BuildId': '42', 'Build.DefinitionName': 'shop-cd', 'Build.BuildNumber': '20260101.1', 'Build.SourceVersion': 'abc123' },
    });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    const deployment = get(f, 'apps/v1', 'Deployment', ns, 'web')!;
    assert.equal(deployment.spec.template.spec.containers[0].image, `${f.image}:2.0`, 'the repository-only template image was substituted');
    assert.equal(deployment.status.availableReplicas, 2);
    assert.deepEqual(deployment.spec.template.spec.imagePullSecrets, [{ name: 'acr-pull' }]);
    assert.equal(deployment.metadata.annotations?.['aks-secure-delivery.dev/run-url'], 'https://dev.azure.com/contoso/shop/_build/results?buildId=42');
    assert.equal(deployment.metadata.annotations?.['aks-secure-delivery.dev/commit'], 'abc123');
    assert.equal(deployment.metadata.labels?.['aks-secure-delivery.dev/app'], 'shop-cd');
    assert.equal(get(f, 'apps/v1', 'StatefulSet', ns, 'db')!.status.readyReplicas, 2);
    assert.equal(get(f, 'apps/v1', 'DaemonSet', ns, 'agent')!.status.numberAvailable, 2);
    const applied = JSON.parse(run.outputs.appliedObjects) as { kind: string; namespace: string; name: string }[];
    assert.deepEqual(applied.map((o) => `${o.kind}/${o.name}`).sort(), ['DaemonSet/agent', 'Deployment/web', 'Service/web', 'StatefulSet/db']);
    assert.ok(applied.every((o) => o.namespace === ns));
    assert.deepEqual(run.outputs.deployedImages.split('\n'), [`${f.image}:2.0`], 'every container of shop/web now runs 2.0');
    assert.ok(run.logLines.some((l) => l.includes(`container 'web': shop/web -> ${f.image}:2.0`)), 'each substitution is logged');
    const summary = run.summaries[0]?.content ?? '';
    assert.match(summary, /\| Deployment\/web \| .* \| created \|/);
    assert.match(summary, /\| StatefulSet\/.*\/db \| ready \| (\d+ ms|\d+\.\d s|\d+ min \d+ s) \|/, 'rollout times read as the other tasks\' durations do');

    const again = await runDeploy(f, { manifests: file, namespace: ns, images: `${f.image}:2.0`, imagePullSecrets: 'acr-pull' }, {
      variables: { 'System.CollectionUri': 'https://dev.azure.com/contoso/', 'System.TeamProject': 'shop', 'Build.BuildId': '42', 'Build.DefinitionName': 'shop-cd', 'Build.BuildNumber': '20260101.1', 'Build.SourceVersion': 'abc123' },
    });
    assert.equal(again.result?.status, 'Succeeded', describeRun(again));
    assert.match(again.summaries[0]?.content ?? '', /\| Deployment\/web \| .* \| unchanged \|/);
  });

  const fastFailures: [string, (f: DeployFixture) => string, RegExp][] = [
    ['ImagePullBackOff for a missing image', (fx) => workload({ image: `${fx.image}:9.9-missing` }), /container 'web' is in (ImagePullBackOff|ErrImagePull).*not found/],
    ['CrashLoopBackOff with the last exit code', (fx) => workload({ image: `${fx.image}:1.0`, env: { EXIT_CODE: '3' }, readinessProbe: true }), /container 'web' is in CrashLoopBackOff.*last exit code 3/],
    ['CreateContainerConfigError for a missing secret', (fx) => workload({ image: `${fx.image}:1.0`, extraContainer: 'env:\n- name: PASSWORD\n  valueFrom: { secretKeyRef: { name: db-credentials, key: password } }' }), /CreateContainerConfigError: secret "db-credentials" not found/],
    ['InvalidImageName', () => workload({ image: 'Shop/Web:1.0' }), /container 'web' is in InvalidImageName/],
    ['an unschedulable pod', (fx) => workload({ image: `${fx.image}:1.0`, extraContainer: 'resources: { requests: { cpu: "64" } }' }), /cannot be scheduled: 0\/2 nodes are available: 2 Insufficient cpu/],
    ['a crashing StatefulSet (which kubectl waits on forever)', (fx) => workload({ kind: 'StatefulSet', name: 'db', image: `${fx.image}:1.0`, env: { EXIT_CODE: '1' }, readinessProbe: true }), /StatefulSet .*\/db failed: pod db-0, container 'db' is in CrashLoopBackOff/],
  ];
  for (const [title, manifest, expected] of fastFailures) {
    it(`fails within seconds on ${title}, naming the container and the reason`, async () => {
      const ns = freshNamespace(f);
      const run = await runDeploy(f, { manifests: writeManifest(f, manifest(f)), namespace: ns });
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.result!.message, expected);
      assert.ok(run.durationMs < 15_000, `failed after ${run.durationMs} ms`);
    });
  }

  it('adds imagePullSecrets, which the kubelet uses where the cluster has no pull access of its own', async () => {
    const registries = f.cluster.kubelet.registries;
    const own = registries.splice(0, registries.length);
    f.cluster.kubelet.forgetPulls();
    try {
      const nonprod = f.env.registries.nonprod;
      const ns = freshNamespace(f);
      const denied = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1 })), namespace: ns });
      assert.equal(denied.result?.status, 'Failed', describeRun(denied));
      assert.match(denied.result!.message, /container 'web' is in (ErrImagePull|ImagePullBackOff)/);
      const dockerconfig = Buffer.from(JSON.stringify({ auths: { [nonprod.registry.loginServer]: { username: nonprod.pull.username, password: nonprod.pull.password } } })).toString('base64');
      const secret = `apiVersion: v1\nkind: Secret\nmetadata: { name: registry-pull }\ntype: kubernetes.io/dockerconfigjson\ndata: { .dockerconfigjson: ${dockerconfig} }`;
      const ns2 = freshNamespace(f);
      const run = await runDeploy(f, { manifests: writeManifest(f, secret, workload({ image: `${f.image}:1.0`, replicas: 1 })), namespace: ns2, imagePullSecrets: 'registry-pull' });
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      assert.deepEqual(secretLeaks(run, [nonprod.pull.password]), []);
    } finally {
      registries.push(...own);
      f.cluster.kubelet.forgetPulls();
    }
  });

  it('reports recent Warning events with a pull failure', async () => {
    const ns = freshNamespace(f);
    const run = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:0.0-missing` })), namespace: ns });
    assert.equal(run.result?.status, 'Failed');
    assert.ok(run.logLines.some((l) => /event on Pod web-.*: Failed: Failed to pull image/.test(l)), describeRun(run));
    assert.match(run.summaries[0]?.content ?? '', /Details of Deployment/);
  });

  it('tells the progress deadline apart from rolloutTimeout', async () => {
    const ns = freshNamespace(f);
    const slow = workload({ image: `${f.image}:1.0`, env: { STARTUP_DELAY_SECONDS: '60' }, readinessProbe: true, extraSpec: 'progressDeadlineSeconds: 1' });
    const deadline = await runDeploy(f, { manifests: writeManifest(f, slow), namespace: ns, rolloutTimeout: 30 });
    assert.equal(deadline.result?.status, 'Failed', describeRun(deadline));
    assert.match(deadline.result!.message, /exceeded its progress deadline \(spec\.progressDeadlineSeconds: 1 s/);
    assert.ok(deadline.durationMs < 15_000);

    const ns2 = freshNamespace(f);
    const timeout = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, env: { STARTUP_DELAY_SECONDS: '60' }, readinessProbe: true })), namespace: ns2, rolloutTimeout: 2 });
    assert.equal(timeout.result?.status, 'Failed', describeRun(timeout));
    assert.match(timeout.result!.message, /did not finish its rollout within the task's rolloutTimeout \(2 s\): 0 of 2 updated replicas are available/);
    assert.ok(timeout.logLines.some((l) => /container 'web' .*running, not ready/.test(l)), 'the pod states are shown');
  });

  it('waits for a Job to complete, and fails when it exceeds its backoff limit', async () => {
    const ns = freshNamespace(f);
    const job = (name: string, exit: string) => [
      'apiVersion: batch/v1', 'kind: Job', `metadata: { name: ${name} }`, 'spec:', '  backoffLimit: 1', '  template:', '    spec:', '      restartPolicy: Never',
      '      containers:', `      - { name: migrate, image: "${f.image}:1.0", env: [{ name: EXIT_CODE, value: "${exit}" }] }`,
    ].join('\n');
    const ok = await runDeploy(f, { manifests: writeManifest(f, job('migrate', '0')), namespace: ns });
    assert.equal(ok.result?.status, 'Succeeded', describeRun(ok));
    assert.ok(ok.logLines.some((l) => /Job .*\/migrate: completed/.test(l)));
    const bad = await runDeploy(f, { manifests: writeManifest(f, job('migrate-bad', '2')), namespace: ns });
    assert.equal(bad.result?.status, 'Failed', describeRun(bad));
    assert.match(bad.result!.message, /BackoffLimitExceeded/);
  });

  it('honours StatefulSet partitions and OnDelete', async () => {
    const ns = freshNamespace(f);
    const first = await runDeploy(f, { manifests: writeManifest(f, workload({ kind: 'StatefulSet', name: 'db', image: `${f.image}:1.0`, replicas: 3 })), namespace: ns });
    assert.equal(first.result?.status, 'Succeeded', describeRun(first));
    const partitioned = workload({ kind: 'StatefulSet', name: 'db', image: `${f.image}:2.0`, replicas: 3, extraSpec: 'updateStrategy: { type: RollingUpdate, rollingUpdate: { partition: 2 } }' });
    const second = await runDeploy(f, { manifests: writeManifest(f, partitioned), namespace: ns });
    assert.equal(second.result?.status, 'Succeeded', describeRun(second));
    assert.ok(second.logLines.some((l) => /partitioned roll out complete: 1 new pods/.test(l)), describeRun(second));
    assert.equal(get(f, 'v1', 'Pod', ns, 'db-0')!.spec.containers[0].image, `${f.image}:1.0`, 'pods below the partition keep the old revision');
    const onDelete = workload({ kind: 'StatefulSet', name: 'db', image: `${f.image}:1.0`, replicas: 3, extraSpec: 'updateStrategy: { type: OnDelete }' });
    const third = await runDeploy(f, { manifests: writeManifest(f, onDelete), namespace: ns });
    assert.equal(third.result?.status, 'Succeeded', describeRun(third));
    assert.ok(third.logLines.some((l) => /updateStrategy OnDelete/.test(l)));
  });

  it('survives 429 and 5xx on discovery and apply, and dropped watches, 410 Gone, 429 and 5xx while waiting', async () => {
    const ns = freshNamespace(f);
    const kube = f.cluster.kube;
    kube.faults.failNext('429', 2, { match: /^GET \/api\/v1\/namespaces\/[^/]+\/pods\?/, retryAfterSeconds: 0 });
    kube.faults.failNext('500', 2, { match: /^GET \/apis\/apps\/v1\/namespaces\/[^/]+\/deployments\?/ });
    kube.faults.failNext('503', 1, { match: /^GET \/apis\/apps\/v1$/, retryAfterSeconds: 0 });
    kube.faults.failNext('429', 1, { match: /^PATCH /, retryAfterSeconds: 1 });
    const timers = [
      setTimeout(() => kube.dropWatches(), 1200),
      setTimeout(() => { kube.compact(); kube.dropWatches(); }, 2200),
    ];
    try {
      const run = await runDeploy(f, { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, env: { STARTUP_DELAY_SECONDS: '3.5' }, readinessProbe: true })), namespace: ns }, { variables: { 'System.Debug': 'true' } });
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      assert.equal(kube.faults.served['429'], 3, 'on list, watch and apply requests');
      assert.equal(kube.faults.served['500'], 2);
      assert.equal(kube.faults.served['503'], 1, 'on discovery');
      assert.ok(run.stdout.includes('too old (410 Gone); listing again'), 'the watch re-listed after 410 Gone');
    } finally {
      for (const t of timers) clearTimeout(t);
    }
  });
});
