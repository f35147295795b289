import { runTask } from '../common/entry';
import { readDeployOptions } from './options';

runTask(__dirname, async (pipeline, inputs) => {
  const options = readDeployOptions(inputs);
  const cwd = inputs.variable('System.DefaultWorkingDirectory') ?? process.cwd();
  // Loaded only now: the client libraries are heavy, and a run with bad inputs should fail at once. While they
  // load, deprecation warnings are held back: client-node's fetch polyfill requires Node's `punycode`, which
  // Node 22+ reports on stderr (DEP0040) in every job log, though nothing here uses it.
  const noDeprecation = process.noDeprecation;
  process.noDeprecation = true;
  const { run } = await import('./run.js');
  const { summaryMarkdown } = await import('./summary.js');
  process.noDeprecation = noDeprecation;
  const result = await run(options, pipeline, cwd);
  pipeline.setOutput('appliedObjects', JSON.stringify(result.objects
    .filter((o) => o.action !== 'pruned' && o.action !== 'denied' && o.action !== 'skipped')
    .map((o) => ({ kind: o.kind, namespace: o.namespace, name: o.name }))));
  pipeline.setOutput('deployedImages', result.images.join('\n'));
  pipeline.uploadSummary('Deploy to AKS', summaryMarkdown(result));
  return { status: result.ok ? 'Succeeded' : 'Failed', reason: result.reason };
});
