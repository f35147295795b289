import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { secretLeaks } from '../helpers/agent';
import { type DeployFixture, describeRun, freshNamespace, useDeployFixture, workload, writeManifest } from './deploy-to-aks-fixture';
import { RUN_VARIABLES, cloneGitOps, gitopsRepository, runGitOps } from './deploy-to-aks-gitops-fixture';

const SERVICE = 'apiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec: { selector: { app: web }, ports: [{ port: 80 }] }';

describe('DeployToAks@1: GitOps delivery through Azure Repos and Flux', function () {
  this.timeout(180_000);
  let f: DeployFixture;
  useDeployFixture((fixture) => { f = fixture; });

  it('delivers to staging by a direct commit, waited through ARM to Compliant; an unchanged re-run commits nothing; a removed object is deleted and pruned', async () => {
    const ns = freshNamespace(f);
    const manifests = writeManifest(f, workload({ image: 'shop/web', replicas: 2 }), SERVICE);
    const run = await runGitOps(f, 'staging', { manifests, namespace: ns, images: `${f.image}:2.0` });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    const sha = run.outputs.gitCommit;
    assert.match(sha, /^[0-9a-f]{40}$/);
    assert.equal(run.outputs.appliedRevision, `main@sha1:${sha}`, 'Flux reports our commit in RFC-0005 form');
    assert.equal(run.outputs.pullRequestId, '');
    assert.deepEqual(secretLeaks(run, [f.env.devops.accessToken, f.env.identities.secret.clientSecret]), []);

    // What git itself sees: one file per object, images pinned by digest, the run in the message.
    const digest = f.env.registries.nonprod.registry.loginServer;
    const clone = await cloneGitOps(f);
    const deployment = fs.readFileSync(path.join(clone.dir, 'clusters/staging', ns, 'deployment-web.yaml'), 'utf8');
    assert.match(deployment, new RegExp(`image: ${digest.replace(/[.:]/g, '\\$&')}/shop/web@sha256:[0-9a-f]{64}`));
    assert.ok(fs.existsSync(path.join(clone.dir, 'clusters/staging', ns, 'service-web.yaml')));
    assert.ok(fs.existsSync(path.join(clone.dir, 'clusters/staging/README.md')), 'files other than manifests are left alone');
    const message = await clone.git('log', '-1', '--format=%B', sha);
    for (const part of [RUN_VARIABLES['Build.BuildNumber'], RUN_VARIABLES['Build.SourceVersion'], 'buildId=4711', '@sha256:', '***NO_CI***']) assert.ok(message.includes(part), `${part} in\n${message}`);

    // What Flux did with it: applied by kustomize-controller, rolled out.
    const live = f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web')!;
    assert.match(live.spec.template.spec.containers[0].image, /@sha256:[0-9a-f]{64}$/);
    assert.equal(live.status.availableReplicas, 2);
    assert.ok(live.metadata.managedFields.some((m: { manager: string }) => m.manager === 'kustomize-controller'));
    const summary = run.summaries[0]?.content ?? '';
    assert.match(summary, new RegExp(`\\[${sha.slice(0, 8)}\\]\\(https://.*/_git/shop-gitops/commit/${sha}\\)`));
    assert.match(summary, /\| Kustomization \| flux-system\/shop-staging-apps \| Compliant \| Ready=True ReconciliationSucceeded/);
    assert.ok(run.logLines.some((l) => /Flux applied main@sha1:/.test(l)), describeRun(run));

    const pushes = gitopsRepository(f).pushes.length;
    const again = await runGitOps(f, 'staging', { manifests, namespace: ns, images: `${f.image}:2.0` });
    assert.equal(again.result?.status, 'Succeeded', describeRun(again));
    assert.match(again.result!.message, /No change/);
    assert.equal(again.outputs.gitCommit, '');
    assert.equal(gitopsRepository(f).pushes.length, pushes, 'no push for an unchanged render');

    const onlyDeployment = writeManifest(f, workload({ image: 'shop/web', replicas: 2 }));
    const removed = await runGitOps(f, 'staging', { manifests: onlyDeployment, namespace: ns, images: `${f.image}:2.0` });
    assert.equal(removed.result?.status, 'Succeeded', describeRun(removed));
    const after = await cloneGitOps(f);
    assert.ok(!fs.existsSync(path.join(after.dir, 'clusters/staging', ns, 'service-web.yaml')), 'the stale file is deleted in the same commit');
    assert.match(await after.git('show', '--stat', '--format=%s', removed.outputs.gitCommit), /service-web\.yaml/);
    assert.equal(f.cluster.kube.get('v1', 'Service', ns, 'web'), undefined, 'Flux pruned the Service');
  });

  it('survives a commit by another client between reading the branch and pushing (409 GitReferenceStaleException)', async () => {
    const ns = freshNamespace(f);
    const repos = f.env.devops.repos;
    let theirs = '';
    repos.beforeNextPush = async (repo) => {
      theirs = await repos.commitAs(repo, 'main', [{ type: 'put', path: 'docs/owners.md', content: Buffer.from(`platform team ${Date.now()}\n`) }], 'Owners', { name: 'Dana', email: 'dana@contoso.example' });
    };
    const run = await runGitOps(f, 'staging', { manifests: writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1 })), namespace: ns });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.ok(theirs, 'the other client committed first');
    assert.ok(run.logLines.some((l) => /updated by another client meanwhile \(TF401028\)/.test(l)), describeRun(run));
    const clone = await cloneGitOps(f);
    assert.equal((await clone.git('rev-parse', `${run.outputs.gitCommit}^`)).trim(), theirs, 'our commit is on top of theirs, nothing of theirs lost');
  });

  it('fails within seconds once Flux reports a crashing workload Non-Compliant, with the object\'s conditions', async () => {
    const ns = freshNamespace(f);
    const crashing = workload({ image: `${f.image}:1.0`, replicas: 1, env: { EXIT_CODE: '3' }, readinessProbe: true, extraSpec: 'progressDeadlineSeconds: 3' });
    const run = await runGitOps(f, 'staging', { manifests: writeManifest(f, crashing), namespace: ns });
    assert.equal(run.result?.status, 'Failed', describeRun(run));
    assert.match(run.result!.message, /HealthCheckFailed: health check failed after .*Deployment\/.*\/web status: 'Failed'/);
    assert.match(run.result!.message, /Deployment .*\/web Non-Compliant: .*ProgressDeadlineExceeded/);
    const failedAt = f.env.flux.reconcilers.staging.history.filter((h) => !h.ready).pop()!.at;
    const exitedAt = Date.now();
    assert.ok(exitedAt - failedAt < 5000, `the task ended ${exitedAt - failedAt} ms after Flux failed`);
    assert.ok(run.durationMs < 40_000, `took ${run.durationMs} ms`);
  });

  it('fails within seconds when Flux cannot fetch its source (its token revoked), with git\'s message; an unchanged re-run fails too until Flux has applied it', async () => {
    const ns = freshNamespace(f);
    const reconciler = f.env.flux.reconcilers.staging;
    const repos = f.env.devops.repos;
    const revoked = reconciler.spec.credential.password;
    repos.revokePersonalAccessToken(revoked);
    try {
      // The fetch fails before the commit as well as after it: Flux only retries, so there is nothing to wait for.
      const deadline = Date.now() + 15_000;
      while (reconciler.resource().properties.statuses.find((x) => x.kind === 'GitRepository')?.statusConditions[0].status !== 'False') {
        assert.ok(Date.now() < deadline, 'the stand-in reports the failed fetch');
        await new Promise((r) => setTimeout(r, 100));
      }
      const inputs = { manifests: writeManifest(f, workload({ image: 'shop/web', replicas: 1 })), namespace: ns, images: `${f.image}:2.0` };
      const run = await runGitOps(f, 'staging', inputs);
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.result!.message, /^Flux cannot fetch its source, GitRepository flux-system\/shop-staging \(GitOperationFailed: failed to checkout and determine revision: unable to clone '[^']+': Authentication failed .*\)\. Check the Flux configuration's repository URL, branch and credentials/);
      assert.match(run.outputs.gitCommit, /^[0-9a-f]{40}$/, 'the commit was made; Flux could not fetch it');
      assert.ok(run.durationMs < 15_000, `took ${run.durationMs} ms`);
      assert.deepEqual(secretLeaks(run, [f.env.devops.accessToken, revoked]), []);

      // The re-run finds nothing to commit, but what it would deliver is not live: it must not pass.
      const rerun = await runGitOps(f, 'staging', inputs);
      assert.equal(rerun.result?.status, 'Failed', describeRun(rerun));
      assert.match(rerun.result!.message, /^Flux cannot fetch its source/);
      assert.equal(rerun.outputs.gitCommit, '', 'nothing committed the second time');
      assert.equal(f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web'), undefined, 'kubectl\'s view: nothing of it is on the cluster');
    } finally {
      reconciler.spec.credential = { username: 'flux', password: repos.issuePersonalAccessToken('Flux shop-staging').token };
    }
    const fixed = await runGitOps(f, 'staging', { manifests: writeManifest(f, workload({ image: 'shop/web', replicas: 1 })), namespace: ns, images: `${f.image}:2.0` });
    assert.equal(fixed.result?.status, 'Succeeded', describeRun(fixed));
    assert.match(fixed.result!.message, /^No change: .* nothing was committed\. Flux applied [0-9a-f]{8} to .*Ready and Compliant/);
    assert.equal(f.cluster.kube.get('apps/v1', 'Deployment', ns, 'web')?.status?.availableReplicas, 1, 'the Deployment Flux applied is available');
  });

  it('delivers to production by a pull request that auto-completes once the required reviewer approves', async () => {
    const repo = gitopsRepository(f);
    const reviewer = { id: 'b5b0f5a2-3c4d-4e5f-8a9b-0c1d2e3f4a5b', displayName: 'Release Approvers' };
    repo.policies.set('main', { requirePullRequest: true, requiredReviewers: [reviewer] });
    const approver = setInterval(() => {
      for (const pr of f.env.devops.repos.pullRequests.values()) {
        if (pr.status === 'active' && pr.autoCompleteSetBy && pr.reviewers.some((r) => r.vote === 0)) void f.env.devops.repos.approve(pr.pullRequestId, reviewer.id);
      }
    }, 1500);
    try {
      const production = f.env.aks.clusters.production;
      const ns = freshNamespace(f, 'p', production.kube);
      const run = await runGitOps(f, 'production', {
        manifests: writeManifest(f, workload({ image: 'shop/web', replicas: 2 }), SERVICE), namespace: ns, images: `${f.image}:2.0`,
        gitChange: 'pullRequest', autoComplete: true, mergeStrategy: 'squash',
      });
      assert.equal(run.result?.status, 'Succeeded', describeRun(run));
      const id = Number(run.outputs.pullRequestId);
      const pr = f.env.devops.repos.pullRequests.get(id)!;
      assert.equal(pr.status, 'completed');
      assert.equal(pr.completionOptions?.mergeStrategy, 'squash');
      assert.equal(run.outputs.gitCommit, pr.lastMergeCommit, 'the squash commit is what Flux was waited for');
      assert.equal(run.outputs.appliedRevision, `main@sha1:${pr.lastMergeCommit}`);
      assert.match(pr.description, /20260301\.7/);
      assert.ok(run.logLines.some((l) => /waiting for the approval of Release Approvers/.test(l)) || run.durationMs < 20_000, describeRun(run));
      const clone = await cloneGitOps(f);
      assert.match(fs.readFileSync(path.join(clone.dir, 'clusters/production', ns, 'deployment-web.yaml'), 'utf8'), /@sha256:[0-9a-f]{64}/);
      assert.equal((await clone.git('branch', '-r')).includes('deploy/'), false, 'the source branch was deleted');
      assert.equal(production.kube.get('apps/v1', 'Deployment', ns, 'web')?.status.availableReplicas, 2);
      assert.match(run.summaries[0]?.content ?? '', new RegExp(`Pull request: \\[!${id}\\]\\(.*/pullrequest/${id}\\) \\(completed\\)`));
    } finally {
      clearInterval(approver);
      repo.policies.delete('main');
    }
  });
});
