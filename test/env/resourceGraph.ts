import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArmError, type ArmCaller, type ArmEmulator } from './arm';
import type { Exchange } from './http';

/**
 * Azure Resource Graph's query endpoint (`POST /providers/Microsoft.ResourceGraph/resources`), serving Defender for
 * Containers' records from fixture files keyed by image digest: `<findingsDir>/sha256-<hex>.json`, holding an array of
 * records (or `{ "records": [...] }`) in either data model. A file added while the emulator runs is served from then
 * on, which is how a scan that arrives late is staged.
 *
 * It follows the documented contract (reference/defender-scan-check.md §2): QueryRequest validation, `$top` ≤ 1000,
 * `$skipToken` valid only with the identical query and scopes, `objectArray` and `table` result formats, the per-user
 * quota with `x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after` on every answer and 429 + Retry-After when
 * it is used up, 403 without read access to the subscription. It understands only the KQL shapes Defender gates send
 * (recognised below); any other query is refused with Resource Graph's 400 rather than answered by a guess.
 */

const API_VERSIONS = ['2019-04-01', '2021-03-01', '2022-10-01', '2024-04-01'];
const MAX_TOP = 1000;
const DEFAULT_TOP = 1000;

/** The KQL shapes this emulator answers: the digest-scoped findings queries of both Defender data models. */
const SHAPES: { name: 'assessments' | 'subAssessments'; pattern: RegExp }[] = [
  {
    name: 'assessments',
    pattern: new RegExp([
      '^securityresources',
      "\\| where type =~ 'microsoft\\.security/assessments'",
      "\\| where tostring\\(properties\\.metadata\\.recommendationCategory\\) =~ 'SoftwareUpdate'",
      "\\| where coalesce\\(tostring\\(properties\\.resourceDetails\\.ResourceType\\), tostring\\(properties\\.resourceDetails\\.resourceType\\)\\) =~ '\\.containerimage'",
      "\\| where coalesce\\(tostring\\(properties\\.resourceDetails\\.Id\\), tostring\\(properties\\.resourceDetails\\.id\\)\\) has '(?<hex1>[0-9a-f]{64})'",
      '\\| extend image = parse_json\\(tostring\\(properties\\.resourceAdditionalData\\)\\)',
      "\\| where coalesce\\(tostring\\(image\\.Digest\\), tostring\\(image\\.digest\\)\\) =~ 'sha256:(?<hex>[0-9a-f]{64})'",
      '\\| project id, type, properties',
      '\\| order by id asc$',
    ].join(' ')),
  },
  {
    name: 'subAssessments',
    pattern: new RegExp([
      '^securityresources',
      "\\| where type =~ 'microsoft\\.security/assessments/subassessments'",
      "\\| where id contains '/assessments/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5/'",
      "\\| where tostring\\(properties\\.additionalData\\.artifactDetails\\.digest\\) =~ 'sha256:(?<hex>[0-9a-f]{64})'",
      '\\| project id, type, properties',
      '\\| order by id asc$',
    ].join(' ')),
  },
];

interface QueryRequestBody {
  query?: unknown;
  subscriptions?: unknown;
  managementGroups?: unknown;
  options?: { $top?: unknown; $skip?: unknown; $skipToken?: unknown; resultFormat?: unknown; allowPartialScopes?: unknown; authorizationScopeFilter?: unknown };
  facets?: unknown;
}

type Row = Record<string, unknown>;

/** An error in Resource Graph's envelope, which adds `details` to ARM's. */
class GraphError extends ArmError {
  constructor(status: number, code: string, message: string, readonly details: { code: string; message: string }[]) {
    super(status, code, message);
  }
}

export interface ResourceGraphStats {
  /** Queries answered (pages), throttled (429) and refused (4xx other than 429). */
  answered: number;
  throttled: number;
  refused: number;
  /** Time spent producing answers (reading fixtures, filtering, serialising), in milliseconds. */
  answerMs: number;
  /** The query shapes recognised, by name. */
  shapes: Record<string, number>;
}

export class ResourceGraphEmulator {
  /** Per-user quota: `limit` queries per `windowMs` (documented example: 15 per 5 s). */
  quota = { limit: 15, windowMs: 5000 };
  readonly stats: ResourceGraphStats = { answered: 0, throttled: 0, refused: 0, answerMs: 0, shapes: {} };
  private readonly windows = new Map<string, { start: number; used: number }>();
  private readonly cache = new Map<string, { stamp: string; rows: Row[] }>();

  constructor(private readonly arm: ArmEmulator, readonly findingsDir: string) {
    fs.mkdirSync(findingsDir, { recursive: true });
    arm.route('POST', '/providers/Microsoft.ResourceGraph/resources', API_VERSIONS, (x, caller) => this.resources(x, caller));
  }

  /** Back to the documented defaults, with fresh quota windows and counters (between tests). */
  reset(): void {
    this.quota = { limit: 15, windowMs: 5000 };
    this.windows.clear();
    Object.assign(this.stats, { answered: 0, throttled: 0, refused: 0, answerMs: 0, shapes: {} });
  }

  /** The fixture file of a digest. */
  fileFor(digest: string): string {
    return path.join(this.findingsDir, `${digest.replace(':', '-')}.json`);
  }

  private async resources(x: Exchange, caller: ArmCaller): Promise<void> {
    const started = process.hrtime.bigint();
    let quotaHeaders: Record<string, string> = {};
    try {
      quotaHeaders = this.spendQuota(caller);
      const body = await this.readBody(x);
      const query = body.query as string;
      const subscriptions = body.subscriptions as string[] | undefined;
      for (const sub of subscriptions ?? []) {
        if (sub.toLowerCase() !== this.arm.subscriptionId) {
          throw badRequest('NoValidSubscriptionsInQueryRequest', `There are no valid subscriptions in the query request. The subscription '${sub}' could not be found.`);
        }
      }
      this.arm.authorize(caller, this.arm.subscriptionScope, 'Microsoft.Security/assessments/read');
      const shape = recognise(query);
      this.stats.shapes[shape.name] = (this.stats.shapes[shape.name] ?? 0) + 1;
      const rows = this.rowsFor(shape.name, shape.hex);

      const options = body.options ?? {};
      const scopeKey = hash(`${query}\n${JSON.stringify(subscriptions ?? [])}\n${JSON.stringify(body.managementGroups ?? [])}`);
      let offset = typeof options.$skip === 'number' ? options.$skip : 0;
      const top = typeof options.$top === 'number' ? options.$top : DEFAULT_TOP;
      if (options.$skipToken !== undefined) {
        const token = decodeSkipToken(options.$skipToken);
        if (!token || token.scope !== scopeKey) {
          throw badRequest('InvalidSkipToken', 'The skip token is invalid: it must be sent with the identical query and scopes of the request that returned it.');
        }
        offset = token.offset;
      }
      const page = rows.slice(offset, offset + top);
      const next = offset + page.length < rows.length ? encodeSkipToken({ scope: scopeKey, offset: offset + page.length }) : undefined;
      const format = options.resultFormat ?? 'objectArray';
      const data = format === 'table' ? asTable(page) : page;
      const answer: Record<string, unknown> = { totalRecords: rows.length, count: page.length, resultTruncated: 'false', data, facets: [] };
      if (next) answer.$skipToken = next;
      this.stats.answered++;
      x.sendJson(200, answer, quotaHeaders);
    } catch (err) {
      if (!(err instanceof ArmError)) throw err;
      if (err.status === 429) this.stats.throttled++;
      else this.stats.refused++;
      // Resource Graph's envelope carries `details`, which the ARM framework's does not: answer it here.
      x.sendJson(err.status, { error: { code: err.code, message: err.message, ...(err instanceof GraphError ? { details: err.details } : {}) } }, {
        'x-ms-correlation-request-id': randomUUID(),
        ...(err.status === 403 ? { 'x-ms-failure-cause': 'gateway' } : {}),
        ...quotaHeaders,
        ...err.headers,
      });
    } finally {
      this.stats.answerMs += Number(process.hrtime.bigint() - started) / 1e6;
    }
  }

  /** Counts the query against the caller's quota window; throws 429 when it is used up. */
  private spendQuota(caller: ArmCaller): Record<string, string> {
    return this.spend(caller.identity.clientId);
  }

  private spend(clientId: string): Record<string, string> {
    const now = Date.now();
    let window = this.windows.get(clientId);
    if (!window || now - window.start >= this.quota.windowMs) {
      window = { start: now, used: 0 };
      this.windows.set(clientId, window);
    }
    const resetsMs = Math.max(0, window.start + this.quota.windowMs - now);
    if (window.used >= this.quota.limit) {
      throw new ArmError(429, 'RateLimiting', 'Please provide below info when asking for support: timestamp = ' + new Date().toISOString() + ', correlationId = ' + randomUUID() + '. Too many requests. Please retry.', {
        'retry-after': String(Math.ceil(resetsMs / 1000)),
        'x-ms-user-quota-remaining': '0',
        'x-ms-user-quota-resets-after': hms(resetsMs),
      });
    }
    window.used++;
    return { 'x-ms-user-quota-remaining': String(this.quota.limit - window.used), 'x-ms-user-quota-resets-after': hms(resetsMs) };
  }

  private async readBody(x: Exchange): Promise<QueryRequestBody> {
    if (!/^application\/json/i.test(x.header('content-type') ?? '')) {
      throw new ArmError(415, 'UnsupportedMediaType', "The content media type '" + (x.header('content-type') ?? '') + "' is not supported. Only 'application/json' is supported.");
    }
    let body: QueryRequestBody;
    try {
      body = (await x.json<QueryRequestBody>()) ?? {};
    } catch {
      throw badRequest('InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
    }
    if (typeof body.query !== 'string' || !body.query.trim()) throw badRequest('InvalidQuery', "The request must contain a 'query'.");
    const isStringList = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((s) => typeof s === 'string'));
    if (!isStringList(body.subscriptions) || !isStringList(body.managementGroups)) {
      throw badRequest('InvalidRequestContent', "'subscriptions' and 'managementGroups' must be lists of strings.");
    }
    const o = body.options ?? {};
    const known = new Set(['$top', '$skip', '$skipToken', 'resultFormat', 'allowPartialScopes', 'authorizationScopeFilter']);
    const unknown = Object.keys(o).filter((k) => !known.has(k));
    if (unknown.length) throw badRequest('InvalidRequestContent', `Could not find member '${unknown[0]}' on object of type 'QueryRequestOptions'.`);
    if (o.$top !== undefined && !(Number.isInteger(o.$top) && (o.$top as number) >= 1 && (o.$top as number) <= MAX_TOP)) {
      throw badRequest('InvalidTopValue', `The value of $top must be between 1 and ${MAX_TOP}.`);
    }
    if (o.$skip !== undefined && !(Number.isInteger(o.$skip) && (o.$skip as number) >= 0)) throw badRequest('InvalidSkipValue', 'The value of $skip must be 0 or more.');
    if (o.resultFormat !== undefined && o.resultFormat !== 'objectArray' && o.resultFormat !== 'table') {
      throw badRequest('InvalidRequestContent', `Error converting value "${String(o.resultFormat)}" to type 'ResultFormat'.`);
    }
    return body;
  }

  /** The rows a recognised query selects from the digest's fixture file, as the query's filters would. */
  private rowsFor(shape: 'assessments' | 'subAssessments', hex: string): Row[] {
    const file = path.join(this.findingsDir, `sha256-${hex}.json`);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      return [];
    }
    const key = `${shape}:${file}`;
    const stamp = `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    const cached = this.cache.get(key);
    if (cached?.stamp === stamp) return cached.rows;
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    const records = (Array.isArray(parsed) ? parsed : (parsed as { records?: unknown[] }).records ?? []) as Row[];
    const selected = records.filter((r) => (shape === 'assessments' ? isAssessmentOf(r, hex) : isSubAssessmentOf(r, hex)))
      .map((r) => ({ id: r.id, type: r.type, properties: r.properties }))
      .sort((a, b) => String(a.id).localeCompare(String(b.id)));
    this.cache.set(key, { stamp, rows: selected });
    return selected;
  }
}

function recognise(query: string): { name: 'assessments' | 'subAssessments'; hex: string } {
  const normalised = query.replace(/\/\/[^\n]*/g, ' ').replace(/\s+/g, ' ').trim();
  for (const shape of SHAPES) {
    const m = shape.pattern.exec(normalised);
    if (m && (!m.groups!.hex1 || m.groups!.hex1 === m.groups!.hex)) return { name: shape.name, hex: m.groups!.hex };
  }
  throw new GraphError(400, 'BadRequest', `Please provide below info when asking for support: timestamp = ${new Date().toISOString()}, correlationId = ${randomUUID()}.`, [
      { code: 'InvalidQuery', message: 'Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.' },
      { code: 'UnsupportedQuery', message: 'This emulator answers only the Defender findings queries of the tasks; the query was not one of them.' },
  ]);
}

/** KQL's `tostring(...)` and `coalesce` on two spellings, and `=~` (case-insensitive equality). */
function field(value: unknown, ...names: string[]): unknown {
  if (!value || typeof value !== 'object') return undefined;
  for (const n of names) {
    const v = (value as Row)[n];
    if (v !== undefined && v !== null && v !== '') return v;
  }
  return undefined;
}
function str(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
function parsed(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

function isAssessmentOf(r: Row, hex: string): boolean {
  const p = r.properties as Row | undefined;
  if (str(r.type).toLowerCase() !== 'microsoft.security/assessments' || !p) return false;
  if (str((p.metadata as Row | undefined)?.recommendationCategory).toLowerCase() !== 'softwareupdate') return false;
  const rd = p.resourceDetails;
  if (str(field(rd, 'ResourceType', 'resourceType')).toLowerCase() !== '.containerimage') return false;
  // `has` matches whole terms; the digest's hex is one term of the id.
  if (!new RegExp(`(^|[^0-9a-z])${hex}([^0-9a-z]|$)`, 'i').test(str(field(rd, 'Id', 'id')))) return false;
  const image = parsed(str(p.resourceAdditionalData));
  return str(field(image, 'Digest', 'digest')).toLowerCase() === `sha256:${hex}`;
}

function isSubAssessmentOf(r: Row, hex: string): boolean {
  const p = r.properties as Row | undefined;
  if (str(r.type).toLowerCase() !== 'microsoft.security/assessments/subassessments' || !p) return false;
  if (!str(r.id).includes('/assessments/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5/')) return false;
  const artifact = ((p.additionalData as Row | undefined)?.artifactDetails) as Row | undefined;
  return str(artifact?.digest).toLowerCase() === `sha256:${hex}`;
}

function asTable(rows: Row[]): { columns: { name: string; type: string }[]; rows: unknown[][] } {
  const columns = [{ name: 'id', type: 'string' }, { name: 'type', type: 'string' }, { name: 'properties', type: 'object' }];
  return { columns, rows: rows.map((r) => columns.map((c) => r[c.name])) };
}

function badRequest(code: string, message: string): ArmError {
  return new GraphError(400, 'BadRequest', message, [{ code, message }]);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function encodeSkipToken(t: { scope: string; offset: number }): string {
  return Buffer.from(JSON.stringify({ $s: t.scope, $o: t.offset, $n: randomUUID().slice(0, 8) })).toString('base64');
}

function decodeSkipToken(value: unknown): { scope: string; offset: number } | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const t = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as { $s?: unknown; $o?: unknown };
    return typeof t.$s === 'string' && Number.isInteger(t.$o) ? { scope: t.$s, offset: t.$o as number } : undefined;
  } catch {
    return undefined;
  }
}

function hms(ms: number): string {
  const s = Math.ceil(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}
