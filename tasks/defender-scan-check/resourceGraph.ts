import { ResourceGraphClient, RestError } from '@azure/arm-resourcegraph';
import type { TokenCredential } from '@azure/identity';
import { armClientOptions } from '../common/azureCredential';
import { requireSubscription, type AzureConnection } from '../common/connections';
import { UserError, errorMessage, isUserError } from '../common/errors';
import { HttpError, httpRetryVerdict } from '../common/http';
import type { TaskLog } from '../common/log';
import { isDroppedConnection, isTransientStatus, parseRetryAfter, retry, sleep } from '../common/retry';
import type { DataModel } from './findings';

/** The assessment key of the grouped MDVM recommendation for registry images, parent of the retired sub-assessments. */
export const REGISTRY_VA_ASSESSMENT_KEY = 'c0b7cfc6-3172-465a-b378-53c7ff2cc0d5';

const PAGE_SIZE = 1000;

/**
 * The KQL for one digest's records in one data model. Only the rows' raw JSON is asked for; expanding the CVE lists
 * is done here, not with mv-expand (whose row limit would silently cut large images short). Key fields are read in
 * both spellings because Defender's casing varies.
 */
export function findingsQuery(model: DataModel, digest: string): string {
  const hex = digestHex(digest);
  if (model === 'assessments') {
    return [
      'securityresources',
      "| where type =~ 'microsoft.security/assessments'",
      "| where tostring(properties.metadata.recommendationCategory) =~ 'SoftwareUpdate'",
      "| where coalesce(tostring(properties.resourceDetails.ResourceType), tostring(properties.resourceDetails.resourceType)) =~ '.containerimage'",
      `| where coalesce(tostring(properties.resourceDetails.Id), tostring(properties.resourceDetails.id)) has '${hex}'`,
      '| extend image = parse_json(tostring(properties.resourceAdditionalData))',
      `| where coalesce(tostring(image.Digest), tostring(image.digest)) =~ 'sha256:${hex}'`,
      '| project id, type, properties',
      '| order by id asc',
    ].join('\n');
  }
  return [
    'securityresources',
    "| where type =~ 'microsoft.security/assessments/subassessments'",
    `| where id contains '/assessments/${REGISTRY_VA_ASSESSMENT_KEY}/'`,
    `| where tostring(properties.additionalData.artifactDetails.digest) =~ 'sha256:${hex}'`,
    '| project id, type, properties',
    '| order by id asc',
  ].join('\n');
}

function digestHex(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new Error(`not a sha256 digest: ${digest}`);
  return m[1];
}

export interface QueryStats {
  requests: number;
  pages: number;
  throttledWaits: number;
}

/**
 * Runs Resource Graph queries for one subscription: every page through `$skipToken`, the per-user quota honoured
 * (when `x-ms-user-quota-remaining` reaches 0 the next call waits for `x-ms-user-quota-resets-after`), 429 and 5xx
 * retried after Retry-After or with backoff, and ARM's refusals turned into messages that say what to change.
 */
export class FindingsSource {
  private readonly client: ResourceGraphClient;
  private quotaResetAt = 0;
  readonly stats: QueryStats = { requests: 0, pages: 0, throttledWaits: 0 };

  constructor(private readonly connection: AzureConnection, credential: TokenCredential, private readonly log: TaskLog) {
    // Retries are ours: the quota headers and ARM's error bodies are read on every answer.
    this.client = new ResourceGraphClient(credential, { ...armClientOptions(connection), retryOptions: { maxRetries: 0 } });
    // Closest to the HTTP client, after authentication and logging: every other policy sees the answer as usual.
    this.client.pipeline.addPolicy(textBodyPolicy(), { afterPhase: 'Sign', afterPolicies: ['logPolicy'] });
  }

  private get subscription(): string {
    return requireSubscription(this.connection, 'the registry');
  }

  /**
   * Every row of a query, handed over one by one as the pages arrive so that a digest with tens of thousands of
   * findings is never held as raw rows all at once. Each row is let go of as soon as it is handed over: a page
   * parsed whole is a few megabytes of objects, and rows already read need not outlive the rest of their page.
   */
  async query(query: string, onRow: (row: unknown) => void): Promise<void> {
    let skipToken: string | undefined;
    do {
      const page = await this.page(query, skipToken);
      const rows = page.data;
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        rows[i] = undefined;
        onRow(row);
      }
      skipToken = page.skipToken;
      this.stats.pages++;
    } while (skipToken);
  }

  private async page(query: string, skipToken: string | undefined): Promise<{ data: unknown[]; skipToken?: string }> {
    return retry(async () => {
      const wait = this.quotaResetAt - Date.now();
      if (wait > 0) {
        this.stats.throttledWaits++;
        this.log.debug(`Resource Graph quota used up; waiting ${wait} ms for it to reset`);
        await sleep(wait);
      }
      this.stats.requests++;
      let status = 0;
      let headers: { get(name: string): string | undefined } | undefined;
      try {
        const result = await this.client.resources(
          { query, subscriptions: [this.subscription], options: { top: PAGE_SIZE, skipToken, resultFormat: 'objectArray' } },
          { onResponse: (raw) => { status = raw.status; headers = raw.headers; } },
        );
        this.noteQuota(headers);
        const data = Array.isArray(result.data) ? (result.data as unknown[]) : [];
        return { data, skipToken: result.skipToken || undefined };
      } catch (err) {
        this.noteQuota(headers);
        throw this.explain(err, status, headers);
      }
    }, (err) => ({ ...httpRetryVerdict(err), reason: err instanceof HttpError ? `Resource Graph answered ${err.status}` : 'the connection to Resource Graph dropped' }), {
      attempts: 6,
      onRetry: ({ delayMs, reason }) => this.log.info(`${reason}; trying again in ${Math.round(delayMs / 100) / 10} s`),
    }).catch((err: unknown) => {
      if (err instanceof HttpError) {
        throw new UserError(`Resource Graph kept answering ${err.status} (${err.body || `HTTP ${err.status}`}); try again later.`);
      }
      throw err;
    });
  }

  private noteQuota(headers: { get(name: string): string | undefined } | undefined): void {
    const remaining = Number(headers?.get('x-ms-user-quota-remaining'));
    const resets = parseHms(headers?.get('x-ms-user-quota-resets-after'));
    if (Number.isFinite(remaining) && remaining <= 0 && resets !== undefined) this.quotaResetAt = Date.now() + resets;
  }

  private explain(err: unknown, status: number, headers: { get(name: string): string | undefined } | undefined): Error {
    if (isUserError(err)) return err;
    const e = err as { statusCode?: number; code?: string; details?: unknown; message?: string };
    const code = typeof e.statusCode === 'number' ? e.statusCode : status;
    if (!code) return isDroppedConnection(err) ? (err as Error) : new UserError(`Cannot reach Resource Graph at ${this.connection.armUrl} (${errorMessage(err)}). Check the service connection's ARM URL and that the agent can reach it.`, { cause: err });
    const details = JSON.stringify((err as { details?: unknown }).details ?? '') + (e.message ?? '');
    const who = `the service connection '${this.connection.id}'`;
    if (isTransientStatus(code)) {
      const retryAfterMs = parseRetryAfter(headers?.get('retry-after')) ?? parseHms(headers?.get('x-ms-user-quota-resets-after'));
      return new HttpError(code, 'Resource Graph', { retryAfterMs, body: e.message });
    }
    if (code === 401) return new UserError(`Input '${this.connection.input}': Resource Graph did not accept the token of ${who} (${e.message}). Check the service connection's tenant and credentials.`);
    if (code === 403) {
      return new UserError(`Input '${this.connection.input}': ${who} may not read Defender's findings in subscription ${this.subscription}. Give its identity the Security Reader role (or Reader) on the subscription that holds the registry.`);
    }
    if (/NoValidSubscriptionsInQueryRequest|SubscriptionNotFound|InvalidSubscription/i.test(details)) {
      return new UserError(`Input '${this.connection.input}': the subscription ${this.subscription} of ${who} does not exist or is not visible to its identity. Check the subscription id of the service connection.`);
    }
    return new Error(`Resource Graph refused the query (${code}${e.code ? ` ${e.code}` : ''}): ${e.message ?? ''}`);
  }
}

type PipelinePolicy = Parameters<ResourceGraphClient['pipeline']['addPolicy']>[0];

/**
 * Decodes the body of a successful answer as text while it arrives. Left to itself, the HTTP client keeps each chunk
 * of a page (a few megabytes for 1000 records) as a Buffer until the last one, joins them into one more Buffer, and
 * only then decodes the text: three copies of every page, the chunks often kept until a full collection. Decoded as
 * it comes, the page is held once, as the text the SDK parses. Other answers (errors, throttling) are read by the
 * HTTP client as before, and a request that asked for a stream itself gets one.
 */
export function textBodyPolicy(): PipelinePolicy {
  const streamed = new WeakSet<object>();
  return {
    name: 'defenderScanCheckTextBody',
    async sendRequest(request, next) {
      if (request.streamResponseStatusCodes && !streamed.has(request)) return next(request);
      request.streamResponseStatusCodes = new Set([200]);
      streamed.add(request);
      const response = await next(request);
      const stream = response.readableStreamBody;
      if (!stream) return response;
      delete response.readableStreamBody;
      response.bodyAsText = await readText(stream);
      return response;
    },
  };
}

/** The stream as text, failing the way the HTTP client's own reading of a body fails. */
async function readText(stream: NodeJS.ReadableStream): Promise<string> {
  stream.setEncoding('utf8');
  let text = '';
  try {
    for await (const chunk of stream) text += chunk as string;
  } catch (err) {
    if ((err as { name?: string } | undefined)?.name === 'AbortError') throw err;
    throw new RestError(`Error reading response as text: ${errorMessage(err)}`, { code: RestError.PARSE_ERROR });
  }
  return text;
}

/** `hh:mm:ss` as milliseconds. */
export function parseHms(value: string | undefined | null): number | undefined {
  const m = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value?.trim() ?? '');
  if (!m) return undefined;
  return Math.round(((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000);
}
