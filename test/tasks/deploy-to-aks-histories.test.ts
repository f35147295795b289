import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireCommand } from '../env/processes';
import type { TaskRun } from '../helpers/agent';
import { type DeployFixture, describeRun, freshNamespace, runDeploy, useDeployFixture, workload, writeManifest } from './deploy-to-aks-fixture';

const exec = promisify(execFile);

/**
 * Sequences of deployments to the same workloads, as a team lives them: each step runs the built task, then asks
 * kubectl (`rollout status`, `get`) about the cluster, and the task's result must agree with kubectl's answer.
 */
describe('DeployToAks@1: histories of deployments to the same workloads', function () {
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });
  before(() => requireCommand('kubectl', 'kubectl'));

  const kubectl = async (...args: string[]) => {
    try {
      const { stdout } = await exec('kubectl', ['--kubeconfig', f.adminKubeconfigPath, ...args], { timeout: 30_000 });
      return { code: 0, out: stdout };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  };
  /** kubectl's verdict on a workload: rolled out (0) or not (its message), waiting at most `seconds`. */
  const rolloutStatus = (ns: string, what: string, seconds = 5) => kubectl('rollout', 'status', '-n', ns, what, `--timeout=${seconds}s`);
  const images = async (ns: string, what: string) => (await kubectl('get', '-n', ns, what, '-o', 'jsonpath={.spec.template.spec.containers[*].image}')).out;
  const deploy = (ns: string, ...docs: string[]) => runDeploy(f, { manifests: writeManifest(f, ...docs), namespace: ns });
  const status = (run: TaskRun) => run.result?.status;

  it('fails on a missing image, then succeeds when fixed forward, as kubectl rollout status says', async () => {
    const ns = freshNamespace(f);
    const broken = await deploy(ns, workload({ image: `${f.image}:9.9-missing` }));
    assert.equal(status(broken), 'Failed', describeRun(broken));
    assert.match(broken.result!.message, /container 'web' is in (ErrImagePull|ImagePullBackOff)/);
    assert.notEqual((await rolloutStatus(ns, 'deployment/web', 2)).code, 0, 'kubectl agrees it did not roll out');

    const fixed = await deploy(ns, workload({ image: `${f.image}:1.0` }));
    assert.equal(status(fixed), 'Succeeded', describeRun(fixed));
    const kube = await rolloutStatus(ns, 'deployment/web');
    assert.equal(kube.code, 0, kube.out);
    assert.match(kube.out, /successfully rolled out/);
    assert.equal(await images(ns, 'deployment/web'), `${f.image}:1.0`);
  });

  it('fails then fails differently: the second run reports its own crash, not the first run\'s pull error', async () => {
    const ns = freshNamespace(f);
    const first = await deploy(ns, workload({ image: `${f.image}:9.9-missing` }));
    assert.match(first.result!.message, /ImagePullBackOff|ErrImagePull/);
    const second = await deploy(ns, workload({ image: `${f.image}:1.0`, env: { EMULATOR_EXIT_CODE: '3' } }));
    assert.equal(status(second), 'Failed', describeRun(second));
    assert.match(second.result!.message, /container 'web' is in CrashLoopBackOff.*last exit code 3/);
    assert.doesNotMatch(second.result!.message, /ImagePullBackOff|ErrImagePull|9\.9-missing/, 'the old revision is not the verdict');
    assert.ok(second.logLines.some((l) => /the previous revision's pod web-\w+-\w+ is still in (ImagePullBackOff|ErrImagePull); it goes away as the rollout proceeds/.test(l)),
      'the old pods are named as context');
    assert.notEqual((await rolloutStatus(ns, 'deployment/web', 2)).code, 0);
  });

  it('fixes forward after a crash loop', async () => {
    const ns = freshNamespace(f);
    const crash = await deploy(ns, workload({ image: `${f.image}:1.0`, env: { EMULATOR_EXIT_CODE: '1' } }));
    assert.equal(status(crash), 'Failed', describeRun(crash));
    const fixed = await deploy(ns, workload({ image: `${f.image}:2.0` }));
    assert.equal(status(fixed), 'Succeeded', describeRun(fixed));
    assert.equal((await rolloutStatus(ns, 'deployment/web')).code, 0);
    const pods = (await kubectl('get', 'pods', '-n', ns, '-o', 'jsonpath={range .items[*]}{.spec.containers[0].image}{"\\n"}{end}')).out.trim().split('\n');
    assert.deepEqual([...new Set(pods)], [`${f.image}:2.0`], 'only the fixed revision runs');
  });

  it('judges the same manifest twice on the workload as it is: ready at once, or failing with its pods\' reason', async () => {
    const ns = freshNamespace(f);
    const good = workload({ image: `${f.image}:1.0` });
    assert.equal(status(await deploy(ns, good)), 'Succeeded');
    const again = await deploy(ns, good);
    assert.equal(status(again), 'Succeeded', describeRun(again));
    assert.match(again.summaries[0]?.content ?? '', /\| Deployment\/web \| .* \| unchanged \|/);
    assert.equal((await rolloutStatus(ns, 'deployment/web')).code, 0);

    const crashing = workload({ name: 'api', image: `${f.image}:1.0`, env: { EMULATOR_EXIT_CODE: '2' } });
    assert.equal(status(await deploy(ns, crashing)), 'Failed');
    const twice = await deploy(ns, crashing);
    assert.equal(status(twice), 'Failed', describeRun(twice));
    assert.match(twice.result!.message, /Deployment .*\/api failed: pod api-\w+-\w+, container 'api' is in CrashLoopBackOff/);
    assert.ok(twice.durationMs < 15_000, `${twice.durationMs} ms`);
  });

  it('names the broken old pod of an OrderedReady StatefulSet that keeps it from rolling forward, and with recreateStuckPods deletes it', async () => {
    const ns = freshNamespace(f);
    const db = (image: string, env?: Record<string, string>) => workload({ kind: 'StatefulSet', name: 'db', image, replicas: 2, env });
    assert.equal(status(await deploy(ns, db(`${f.image}:1.0`, { EMULATOR_EXIT_CODE: '1' }))), 'Failed');

    const stuck = await deploy(ns, db(`${f.image}:2.0`));
    assert.equal(status(stuck), 'Failed', describeRun(stuck));
    assert.match(stuck.result!.message, /StatefulSet .*\/db cannot roll forward: the previous revision's pod db-0, container 'db' is in CrashLoopBackOff.*OrderedReady.*kubectl delete pod -n \S+ db-0.*recreateStuckPods/);
    assert.ok(stuck.durationMs < 15_000, `recognised after ${stuck.durationMs} ms`);
    assert.notEqual((await rolloutStatus(ns, 'statefulset/db', 3)).code, 0, 'kubectl agrees: stuck');

    const recreated = await runDeploy(f, { manifests: writeManifest(f, db(`${f.image}:2.0`)), namespace: ns, recreateStuckPods: true });
    assert.equal(status(recreated), 'Succeeded', describeRun(recreated));
    assert.ok([...recreated.logLines, ...recreated.issues.map((i) => i.message)].some((l) => /deleted pod db-0 \(revision db-\w+\) of the previous revision.*recreateStuckPods/.test(l)), 'the log names the pod it deleted');
    const kube = await rolloutStatus(ns, 'statefulset/db');
    assert.equal(kube.code, 0, kube.out);
    assert.match(kube.out, /partitioned roll out complete: 2 new pods have been updated/, 'kubectl words an API-defaulted rollingUpdate (partition 0) so');
  });

  it('rolls a DaemonSet forward after a broken revision', async () => {
    const ns = freshNamespace(f);
    const agent = (image: string) => workload({ kind: 'DaemonSet', name: 'agent', image });
    const broken = await deploy(ns, agent(`${f.image}:9.9-missing`));
    assert.equal(status(broken), 'Failed', describeRun(broken));
    const fixed = await deploy(ns, agent(`${f.image}:1.0`));
    assert.equal(status(fixed), 'Succeeded', describeRun(fixed));
    const kube = await rolloutStatus(ns, 'daemonset/agent');
    assert.equal(kube.code, 0, kube.out);
    assert.match(kube.out, /daemon set "agent" successfully rolled out/);
  });

  it('says at once that a Deployment is paused and by whom, and succeeds when the manifest itself pauses it', async () => {
    const ns = freshNamespace(f);
    assert.equal(status(await deploy(ns, workload({ image: `${f.image}:1.0` }))), 'Succeeded');
    assert.equal((await kubectl('rollout', 'pause', '-n', ns, 'deployment/web')).code, 0);
    const paused = await deploy(ns, workload({ image: `${f.image}:2.0` }));
    assert.equal(status(paused), 'Failed', describeRun(paused));
    assert.match(paused.result!.message, /Deployment .*\/web is paused \(spec\.paused is set by field manager 'kubectl[^']*'\).*kubectl rollout resume deployment\/web/);
    assert.ok(paused.durationMs < 10_000, `${paused.durationMs} ms`);
    assert.equal(await images(ns, 'deployment/web'), `${f.image}:2.0`, 'the template is applied, waiting for the resume');

    const ns2 = freshNamespace(f);
    const asked = await deploy(ns2, workload({ image: `${f.image}:1.0`, extraSpec: 'paused: true' }));
    assert.equal(status(asked), 'Succeeded', describeRun(asked));
    assert.match(asked.logLines.join('\n'), /is paused, as its manifest asks \(spec\.paused: true\)/);
    assert.equal((await kubectl('get', '-n', ns2, 'deployment/web', '-o', 'jsonpath={.spec.paused}')).out, 'true');
  });

  it('keeps the replicas another writer set when the manifest leaves replicas out (the HPA hand-over)', async () => {
    const ns = freshNamespace(f);
    const noReplicas = (image: string) => workload({ image }).replace(/^ {2}replicas: \d+\n/m, '');
    assert.equal(status(await deploy(ns, noReplicas(`${f.image}:1.0`))), 'Succeeded');
    assert.equal((await kubectl('patch', '-n', ns, 'deployment/web', '--type=merge', '-p', '{"spec":{"replicas":3}}', '--field-manager=horizontal-pod-autoscaler')).code, 0);
    const next = await deploy(ns, noReplicas(`${f.image}:2.0`));
    assert.equal(status(next), 'Succeeded', describeRun(next));
    assert.equal((await kubectl('get', '-n', ns, 'deployment/web', '-o', 'jsonpath={.spec.replicas} {.status.readyReplicas}')).out, '3 3');
    assert.equal((await rolloutStatus(ns, 'deployment/web')).code, 0);
  });

  it('two deployments racing on one Deployment: never both Succeeded, and the one that succeeds is what runs', async () => {
    const ns = freshNamespace(f);
    assert.equal(status(await deploy(ns, workload({ image: `${f.image}:1.0` }))), 'Succeeded');
    const slow = (image: string) => workload({ image, env: { EMULATOR_READY_AFTER: '2' } });
    const [a, b] = await Promise.all([deploy(ns, slow(`${f.image}:2.0`)), deploy(ns, slow(`${f.image}:1.0`))]);
    const runs = [{ run: a, image: `${f.image}:2.0` }, { run: b, image: `${f.image}:1.0` }];
    const live = await images(ns, 'deployment/web');
    for (const { run, image } of runs) {
      if (status(run) === 'Succeeded') assert.equal(live, image, `a run reported Succeeded for ${image} while ${live} runs`);
    }
    const lost = runs.filter(({ image }) => image !== live);
    assert.equal(lost.length, 1);
    assert.equal(status(lost[0].run), 'Failed', describeRun(lost[0].run));
    assert.match(lost[0].run.result!.message, /was replaced by another run of this task \(field manager '[^']+'\).*live now: container 'web' runs /);
    assert.equal((await rolloutStatus(ns, 'deployment/web', 10)).code, 0);

    const warned = await Promise.all([
      runDeploy(f, { manifests: writeManifest(f, slow(`${f.image}:2.0`)), namespace: ns, onSuperseded: 'warn' }),
      (async () => { await new Promise((r) => setTimeout(r, 1500)); return deploy(ns, slow(`${f.image}:1.0`)); })(),
    ]);
    if ((await images(ns, 'deployment/web')) === `${f.image}:1.0`) assert.equal(status(warned[0]), 'SucceededWithIssues', describeRun(warned[0]));
  });

  it('several deployments at once into one cluster: each run, and each workload of a run, gets its own result', async () => {
    const [ns1, ns2, ns3] = [freshNamespace(f), freshNamespace(f), freshNamespace(f)];
    const [good, broken, mixed] = await Promise.all([
      deploy(ns1, workload({ image: `${f.image}:1.0` })),
      deploy(ns2, workload({ image: `${f.image}:9.9-missing` })),
      deploy(ns3, workload({ name: 'web', image: `${f.image}:1.0` }), workload({ name: 'api', image: `${f.image}:1.0`, env: { EMULATOR_EXIT_CODE: '4' } })),
    ]);
    assert.equal(status(good), 'Succeeded', describeRun(good));
    assert.equal(status(broken), 'Failed', describeRun(broken));
    assert.equal(status(mixed), 'Failed', describeRun(mixed));
    assert.match(mixed.result!.message, /\/api failed: pod api-\w+-\w+, container 'api' is in CrashLoopBackOff/);
    assert.doesNotMatch(mixed.result!.message, /\/web failed/);
    const summary = mixed.summaries[0]?.content ?? '';
    assert.match(summary, /\| Deployment\/\S+\/api \| failed \|/);
    assert.match(summary, /\| Deployment\/\S+\/web \| (ready|not finished) \|/);
    assert.equal((await rolloutStatus(ns1, 'deployment/web')).code, 0);
    assert.notEqual((await rolloutStatus(ns2, 'deployment/web', 2)).code, 0);
    assert.notEqual((await rolloutStatus(ns3, 'deployment/api', 2)).code, 0);
  });
});
