import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { Environment } from '../../env';
import type { FluxReconciler } from '../../env/flux/reconciler';
import { sharedEnvironment } from '../../helpers/environment';

const AUTHOR = { name: 'Dana', email: 'dana@contoso.example' };

async function until<T>(what: string, read: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The GitRepository's entry of the fluxConfigurations resource as ARM serves it. */
function gitRepositoryStatus(r: FluxReconciler) {
  const properties = r.resource().properties;
  const status = properties.statuses.find((s) => s.kind === 'GitRepository')!;
  return { complianceState: properties.complianceState, status, ready: status.statusConditions[0] };
}

describe('the Flux stand-in\'s source: git fetch over HTTPS from Azure Repos with the configuration\'s credential', function () {
  this.timeout(60_000);
  let env: Environment;
  let staging: FluxReconciler;
  before(async function () {
    this.timeout(120_000);
    env = await sharedEnvironment();
    staging = env.flux.reconcilers.staging;
  });

  it('fetches the branch into its own copy with its personal access token, and applies what it fetched', async () => {
    const repos = env.devops.repos;
    const pat = repos.personalAccessTokens.get(staging.spec.credential.password);
    assert.ok(pat && !pat.revoked, 'the configuration holds a live token the emulator minted');
    const reads = repos.uploadPacks.get(pat.identity.uniqueName) ?? 0;
    const name = `flux-source-${randomBytes(3).toString('hex')}`;
    const file = `clusters/staging/${name}/configmap.yaml`;
    const sha = await repos.commitAs(env.flux.repository, 'main', [{ type: 'put', path: file, content: Buffer.from(`apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name}, namespace: default }\ndata: { a: b }\n`) }], 'A ConfigMap', AUTHOR);
    try {
      await until('the ConfigMap applied', () => env.aks.clusters.staging.kube.get('v1', 'ConfigMap', 'default', name));
      assert.equal(staging.sourceSyncedCommitId, `main@sha1:${sha}`);
      assert.ok((repos.uploadPacks.get(pat.identity.uniqueName) ?? 0) > reads, 'Azure Repos served git-upload-pack to the token\'s user');
      const copy = path.join(env.dir, 'flux', 'shop-staging', 'repository.git');
      assert.equal(execFileSync('git', ['--git-dir', copy, 'rev-parse', 'refs/remotes/origin/main'], { encoding: 'utf8' }).trim(), sha, 'the commit is in Flux\'s own copy');
      assert.notEqual(copy, env.flux.repository.git.dir);
    } finally {
      await repos.commitAs(env.flux.repository, 'main', [{ type: 'delete', path: file }], 'Without the ConfigMap', AUTHOR);
      await until('the ConfigMap pruned', () => !env.aks.clusters.staging.kube.get('v1', 'ConfigMap', 'default', name));
    }
  });

  it('reports a revoked token as Flux does: GitRepository Ready=False with git\'s message, Non-Compliant, the token nowhere; a new token recovers', async () => {
    const repos = env.devops.repos;
    const revoked = staging.spec.credential.password;
    const applied = staging.sourceSyncedCommitId;
    repos.revokePersonalAccessToken(revoked);
    try {
      const failed = await until('the source failure', () => { const s = gitRepositoryStatus(staging); return s.ready.status === 'False' && s; });
      assert.equal(failed.ready.reason, 'GitOperationFailed');
      assert.match(failed.ready.message, /^failed to checkout and determine revision: unable to clone 'https:\/\/127\.0\.0\.1:\d+\/contoso\/shop\/_git\/shop-gitops': Authentication failed for '[^']+' \(TF400813: The user is not authorized to access this resource\.\)$/);
      assert.equal(failed.status.complianceState, 'Non-Compliant');
      assert.equal(failed.complianceState, 'Non-Compliant');
      const resource = staging.resource();
      assert.equal(resource.properties.sourceSyncedCommitId, applied, 'the last artifact stays');
      assert.equal(resource.properties.statuses.find((s) => s.kind === 'Kustomization')!.statusConditions[0].status, 'True', 'the Kustomization keeps what it applied');
      assert.ok(!JSON.stringify(resource).includes(revoked), 'the token is not in the status');
      assert.equal(gitRepositoryStatus(env.flux.reconcilers.production).ready.status, 'True', 'production has its own token');
    } finally {
      staging.spec.credential = { username: 'flux', password: repos.issuePersonalAccessToken('Flux shop-staging').token };
    }
    const recovered = await until('the source recovered', () => { const s = gitRepositoryStatus(staging); return s.complianceState === 'Compliant' && s; });
    assert.equal(recovered.ready.message, `stored artifact for revision '${applied}'`);
  });

  it('reports a repository that is gone with git\'s "not found", and fetches again once it is back', async () => {
    const repos = env.devops.repos;
    const key = env.flux.repository.name.toLowerCase();
    repos.repositories.delete(key);
    try {
      const failed = await until('the source failure', () => { const s = gitRepositoryStatus(staging); return s.ready.status === 'False' && s; });
      assert.match(failed.ready.message, /unable to clone '[^']+': repository '[^']+\/_git\/shop-gitops\/' not found$/);
    } finally {
      repos.repositories.set(key, env.flux.repository);
    }
    await until('the source recovered', () => gitRepositoryStatus(staging).ready.status === 'True');
  });
});
