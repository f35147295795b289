import { TaskApi } from 'azure-devops-node-api/TaskApi';
import type { AzureConnection } from './connections';
import { devopsClient, devopsFailure } from './devopsConnection';
import { UserError } from './errors';
import { HttpError, httpRetryVerdict } from './http';
import type { TaskLog } from './log';
import { retry } from './retry';

/**
 * The federated token of workload identity federation, requested as Microsoft's own tasks do (AzureCLIV2,
 * azure-arm-rest): azure-devops-node-api's TaskApi `createOidcToken` with the job's access token, for the plan and
 * job that System.OidcRequestUri names. Kept for a few minutes, for the tokens of other audiences and retried token
 * requests; the endpoint's tokens live ~10. Throttling, server errors and dropped connections are retried.
 */
export class PipelineOidcToken {
  private cached?: { token: string; until: number };

  constructor(private readonly connection: AzureConnection, private readonly log: TaskLog) {}

  async get(): Promise<string> {
    if (this.cached && Date.now() < this.cached.until) return this.cached.token;
    const { oidcRequestUri, systemAccessToken, id, input } = this.connection;
    if (!oidcRequestUri) {
      throw new UserError(`Input '${input}': the service connection uses workload identity federation, but this job has no OIDC request endpoint (System.OidcRequestUri). Run the task in Azure DevOps Services, or use a service principal connection.`);
    }
    if (!systemAccessToken) {
      throw new UserError(`Input '${input}': workload identity federation needs the job's access token (System.AccessToken), which this job does not have. Allow scripts to access the OAuth token for this job.`);
    }
    const job = oidcJob(oidcRequestUri, input);
    const token = await retry(async () => {
      // A client per attempt: VsoClient keeps the promise of its location lookup, a failed one included.
      const tasks = devopsClient(TaskApi, job.collectionUri, systemAccessToken);
      let answer: { oidcToken?: string } | null;
      try {
        answer = await tasks.createOidcToken({}, job.projectId, job.hub, job.planId, job.jobId, id);
      } catch (err) {
        const failure = devopsFailure(err);
        if (!failure?.statusCode) throw err;
        const headers = (err as { responseHeaders?: Record<string, string | string[] | undefined> }).responseHeaders ?? {};
        const retryAfter = headers['retry-after'];
        throw new HttpError(failure.statusCode, "the agent's OIDC endpoint", { retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, body: failure.result?.message ?? failure.message });
      }
      if (typeof answer?.oidcToken !== 'string' || !answer.oidcToken) {
        throw new UserError(`Input '${input}': the agent's OIDC endpoint answered without a token. Check that the service connection '${id}' uses workload identity federation.`);
      }
      return answer.oidcToken;
    }, httpRetryVerdict, { onRetry: ({ delayMs, reason }) => this.log.debug(`OIDC token request: ${reason}; retrying in ${delayMs} ms`) });
    this.log.secret(token);
    this.cached = { token, until: Date.now() + 4 * 60_000 };
    return token;
  }
}

/**
 * The collection, project, hub, plan and job of System.OidcRequestUri
 * (`{collection}{projectId}/_apis/distributedtask/hubs/{hub}/plans/{planId}/jobs/{jobId}/oidctoken`): the agent
 * builds it for the job it runs, which is right in classic releases too, where hand-built URLs went wrong.
 */
function oidcJob(uri: string, input: string): { collectionUri: string; projectId: string; hub: string; planId: string; jobId: string } {
  const url = new URL(uri);
  const m = /^(.*\/)([^/]+)\/_apis\/distributedtask\/hubs\/([^/]+)\/plans\/([^/]+)\/jobs\/([^/]+)\/oidctoken\/?$/i.exec(url.pathname);
  if (!m) throw new UserError(`Input '${input}': the job's OIDC request endpoint (System.OidcRequestUri) is not in the form the agent writes: ${url.origin}${url.pathname}.`);
  const [, base, projectId, hub, planId, jobId] = m.map(decodeURIComponent);
  return { collectionUri: `${url.origin}${base}`, projectId, hub, planId, jobId };
}
