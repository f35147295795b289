import { errorMessage, isUserError } from './errors';
import { Inputs } from './inputs';
import { readNetworkSettings, useNetworkSettings } from './network/settings';
import { AgentPipeline, type TaskStatus } from './pipeline';

export interface TaskOutcome {
  status: TaskStatus;
  /** One line a person can act on; shown as the task's result message. */
  reason: string;
}

/**
 * Runs a task body as the agent expects: inputs in, one result out. A UserError fails the task with its own
 * message; anything else fails it with the message and leaves the stack for `system.debug`. The process exits
 * when the body is done, so open connections (watches, keep-alive sockets) cannot hold the job.
 */
export function runTask(taskDir: string, body: (pipeline: AgentPipeline, inputs: Inputs) => Promise<TaskOutcome>): void {
  const pipeline = new AgentPipeline(taskDir);
  let failed = true;
  Promise.resolve()
    // The agent's proxy and certificates hold for every request the body makes, through any client.
    .then(() => useNetworkSettings(readNetworkSettings(pipeline, pipeline)))
    .then(() => body(pipeline, new Inputs(pipeline)))
    .then((outcome) => {
      failed = outcome.status === 'Failed';
      pipeline.setResult(outcome.status, outcome.reason);
    })
    .catch((err: unknown) => {
      if (!isUserError(err)) pipeline.debug(err instanceof Error && err.stack ? err.stack : String(err));
      pipeline.setResult('Failed', isUserError(err) ? err.message : pipeline.loc('UnexpectedError', errorMessage(err)));
    })
    .finally(() => {
      pipeline.cleanUp();
      process.exit(failed ? 1 : 0);
    });
}
