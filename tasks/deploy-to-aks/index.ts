import { runTask } from '../common/entry';
import { readDeployOptions } from './options';
import { summaryMarkdown } from './summary';

runTask(__dirname, async (pipeline, inputs) => {
  const options = readDeployOptions(inputs);
  const cwd = inputs.variable('System.DefaultWorkingDirectory') ?? process.cwd();
  if (options.gitops) {
    const { deliverByGitOps, gitOpsSummaryMarkdown } = await import('./gitopsDelivery.js');
    // The Kubernetes client only when there is a cluster connection to watch the rollouts through.
    const watcher = options.connection.type === 'azureResourceManager' ? undefined : (await import('./gitopsRollouts.js')).watchRollouts;
    const result = await deliverByGitOps(options, pipeline, cwd, watcher);
    pipeline.setOutput('gitCommit', result.commit?.sha ?? '');
    pipeline.setOutput('pullRequestId', result.pullRequest ? String(result.pullRequest.id) : '');
    pipeline.setOutput('appliedRevision', result.appliedRevision ?? '');
    pipeline.setOutput('deployedImages', result.images.join('\n'));
    pipeline.uploadSummary('Deploy to AKS', gitOpsSummaryMarkdown(result));
    return { status: result.ok ? 'Succeeded' : 'Failed', reason: result.reason };
  }
  // The ARM token request goes out first: its round trips overlap the loading of run.js and the reading of the manifests.
  const { prefetchArmToken } = await import('./armCredential.js');
  await prefetchArmToken(options.connection, pipeline);
  // Loaded only now: the client libraries are heavy, and a run with bad inputs should fail at once.
  const { run } = await import('./run.js');
  const result = await run(options, pipeline, cwd);
  pipeline.setOutput('appliedObjects', JSON.stringify(result.objects
    .filter((o) => o.action !== 'pruned' && o.action !== 'denied' && o.action !== 'skipped')
    .map((o) => ({ kind: o.kind, namespace: o.namespace, name: o.name }))));
  pipeline.setOutput('deployedImages', result.images.join('\n'));
  if (result.strategy?.canaryWorkloads) pipeline.setOutput('canaryWorkloads', JSON.stringify(result.strategy.canaryWorkloads));
  if (result.strategy?.baselineWorkloads) pipeline.setOutput('baselineWorkloads', JSON.stringify(result.strategy.baselineWorkloads));
  if (result.strategy?.activeColour !== undefined) pipeline.setOutput('activeColour', result.strategy.activeColour);
  pipeline.uploadSummary('Deploy to AKS', summaryMarkdown(result));
  return { status: result.ok ? (result.withIssues ? 'SucceededWithIssues' : 'Succeeded') : 'Failed', reason: result.reason };
});
