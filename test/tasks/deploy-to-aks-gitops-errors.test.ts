import { strict as assert } from 'node:assert';
import { secretLeaks } from '../helpers/agent';
import { type DeployFixture, describeRun, freshNamespace, useDeployFixture, workload, writeManifest } from './deploy-to-aks-fixture';
import { gitopsRepository, runGitOps } from './deploy-to-aks-gitops-fixture';

describe('DeployToAks@1: GitOps refusals and bad input, each said before anything is committed', function () {
  this.timeout(120_000);
  let f: DeployFixture;
  let manifests: string;
  useDeployFixture((fixture) => {
    f = fixture;
    manifests = writeManifest(f, workload({ image: `${f.image}:1.0`, replicas: 1 }));
  });

  const refusals: [string, Record<string, string>, RegExp][] = [
    ['an unknown repository', { gitRepository: 'no-such-repo' }, /Input 'gitRepository': the project 'shop' has no repository 'no-such-repo'/],
    ['an unknown branch', { gitBranch: 'release/nope' }, /Input 'gitBranch': the repository 'shop-gitops' has no branch 'release\/nope'/],
    ['a gitPath that climbs out of the repository', { gitPath: 'clusters/../../etc' }, /Input 'gitPath': 'clusters\/\.\.\/\.\.\/etc' points outside the repository/],
    ['an absolute gitPath', { gitPath: '/clusters/staging' }, /Input 'gitPath': '\/clusters\/staging' is an absolute path/],
    ['a Flux configuration the cluster lacks', { fluxConfiguration: 'shop-nope' }, /Input 'fluxConfiguration': the AKS cluster delivery-staging\/aks-staging has no Flux configuration 'shop-nope'; it has 'shop-staging'/],
    ['a Flux configuration that reconciles another folder', { gitPath: 'clusters/production' }, /No Flux configuration on delivery-staging\/aks-staging reconciles .*'shop-staging' has no Kustomization for 'clusters\/production' \(its paths: \.\/clusters\/staging\)/],
  ];
  for (const [title, inputs, expected] of refusals) {
    it(`refuses ${title}, naming the input and the fix`, async () => {
      const pushes = gitopsRepository(f).pushes.length;
      const run = await runGitOps(f, 'staging', { manifests, namespace: freshNamespace(f), ...inputs });
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.result!.message, expected);
      assert.equal(gitopsRepository(f).pushes.length, pushes, 'nothing was committed');
    });
  }

  it('refuses manifests that do not render, with the file and line', async () => {
    const pushes = gitopsRepository(f).pushes.length;
    const run = await runGitOps(f, 'staging', { manifests: writeManifest(f, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { labels: { a: b } }'), namespace: freshNamespace(f) });
    assert.equal(run.result?.status, 'Failed', describeRun(run));
    assert.match(run.result!.message, /Input 'manifests': \S*m-[0-9a-f]+\.yaml:1: the ConfigMap has no metadata\.name/);
    assert.equal(gitopsRepository(f).pushes.length, pushes, 'nothing was committed');
  });

  it('names the TF402455 branch policy and what to change when the branch takes only pull requests', async () => {
    const repo = gitopsRepository(f);
    repo.policies.set('main', { requirePullRequest: true, requiredReviewers: [] });
    try {
      const run = await runGitOps(f, 'staging', { manifests, namespace: freshNamespace(f) });
      assert.equal(run.result?.status, 'Failed', describeRun(run));
      assert.match(run.result!.message, /a branch policy on 'main' of 'shop-gitops' requires changes to come through a pull request \(TF402455\)\. Set gitChange to pullRequest, or let 'Project Collection Build Service \(contoso\)' bypass policies/);
    } finally {
      repo.policies.delete('main');
    }
  });

  for (const [permission, shown, inputs] of [['GenericContribute', 'Contribute', {}], ['CreateBranch', 'Create branch', { gitChange: 'pullRequest' }]] as const) {
    it(`names the missing '${shown}' permission and the build identity to grant it to`, async () => {
      const repo = gitopsRepository(f);
      repo.denied.add(permission);
      try {
        const run = await runGitOps(f, 'staging', { manifests, namespace: freshNamespace(f), ...inputs });
        assert.equal(run.result?.status, 'Failed', describeRun(run));
        assert.match(run.result!.message, new RegExp(`'Project Collection Build Service \\(contoso\\)' lacks the '${shown}' permission on the repository 'shop-gitops'\\. In Project settings > Repositories > shop-gitops > Security, set '${shown}' to Allow`));
        assert.deepEqual(secretLeaks(run, [f.env.devops.accessToken]), []);
      } finally {
        repo.denied.delete(permission);
      }
    });
  }

  it('refuses a job token Azure DevOps does not accept, without printing it', async () => {
    const run = await runGitOps(f, 'staging', { manifests, namespace: freshNamespace(f) }, { systemAccessToken: 'job-not-a-valid-token' });
    assert.equal(run.result?.status, 'Failed', describeRun(run));
    assert.match(run.result!.message, /did not accept the job's access token \(401\)/);
    assert.deepEqual(secretLeaks(run, ['job-not-a-valid-token']), []);
  });

  it('reads Flux through workload identity federation, the OIDC token coming from TaskApi createOidcToken', async () => {
    const before = f.env.devops.oidcRequests;
    const run = await runGitOps(f, 'staging', { manifests: writeManifest(f, workload({ image: `${f.image}:2.0`, replicas: 1 })), namespace: freshNamespace(f) }, { credential: 'federated' });
    assert.equal(run.result?.status, 'Succeeded', describeRun(run));
    assert.ok(f.env.devops.oidcRequests > before, 'the job asked the Azure DevOps emulator for a federated token');
    assert.match(run.outputs.appliedRevision, /^main@sha1:[0-9a-f]{40}$/);
    assert.deepEqual(secretLeaks(run, [f.env.devops.accessToken]), []);
  });
});
