import { runTask } from '../common/entry';
import { peakMemoryKB } from '../common/peakMemory';
import { readPromoteOptions } from './options';

runTask(__dirname, async (pipeline, inputs) => {
  const options = readPromoteOptions(inputs);
  // Loaded only now so a run with bad inputs fails fast, before the Azure SDKs are evaluated.
  const { run, summaryMarkdown, TagConflict, refusalMarkdown } = await import('./run.js');
  const result = await run(options, pipeline).catch((err: unknown) => {
    // A refusal is reported on the summary tab too, where a reviewer of the run looks first.
    if (err instanceof TagConflict) pipeline.uploadSummary('Promote image', refusalMarkdown(err));
    throw err;
  });
  pipeline.setOutput('imageDigest', result.digest);
  pipeline.setOutput('promotedImage', result.promotedImage);
  pipeline.setOutput('promotedTags', result.promotedTags.join(','));
  pipeline.uploadSummary('Promote image', summaryMarkdown(result, options.targetRegistry, options.targetRepository));
  const usage = process.resourceUsage();
  pipeline.debug(`peak memory (VmHWM): ${peakMemoryKB()} KB; CPU ${Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000)} ms; promotion took ${result.durationMs} ms`);
  const where = `${result.promotedImage}${result.promotedTags.length ? ` (${result.promotedTags.join(', ')})` : ''}`;
  return {
    status: 'Succeeded',
    reason: result.alreadyPromoted ? `Already promoted: ${where}, nothing changed` : `Promoted ${where}`,
  };
});
