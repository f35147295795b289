import { isScalar, isSeq, type Node as YamlNode } from 'yaml';
import { send } from '../../common/http';
import type { CheckBase, Reader } from '../config';
import type { Value } from '../expression';
import { formatValue } from '../judge';
import { elapsed, type CheckContext, type CheckFields, type CheckKind, type Reading } from './kind';
import { describeRequestFailure, signalFor } from './request';

export interface HttpExpectations {
  status?: number[];
  bodyContains?: string;
  json?: { path: string; equals?: Value };
  maxLatencyMs?: number;
}

export interface HttpCheck extends CheckBase {
  kind: 'http';
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutSeconds: number;
  expect: HttpExpectations;
}

export const HTTP_KEYS = ['url', 'method', 'headers', 'body', 'timeout'] as const;
const EXPECT_KEYS = ['status', 'bodyContains', 'json', 'maxLatencyMs'];
const JSON_KEYS = ['path', 'equals'];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const DEFAULT_TIMEOUT_SECONDS = 10;

function plainValue(node: YamlNode | null): Value {
  if (node === null) return null;
  return (node as { toJSON(): Value }).toJSON();
}

export function parseHttp(r: Reader, base: CheckBase, body: YamlNode | null, fields: CheckFields): HttpCheck {
  const what = `check '${base.name}'`;
  const h = r.map(body, `${what}: http`, HTTP_KEYS);
  if (!h.has('url')) r.fail(body, `${what}: http needs a 'url'.`);
  const url = r.url(h.get('url')!.node, `${what}: http url`);
  const method = h.has('method') ? r.string(h.get('method')!.node, `${what}: http method`).toUpperCase() : 'GET';
  if (!METHODS.includes(method)) r.fail(h.get('method')!.node, `${what}: http method must be one of ${METHODS.join(', ')}, not '${method}'.`);
  let requestBody: string | undefined;
  if (h.has('body')) {
    const b = h.get('body')!.node;
    requestBody = isScalar(b) ? r.resolve(String(b.value), b) : JSON.stringify(plainValue(b));
    if (method === 'GET' || method === 'HEAD') r.fail(b, `${what}: a ${method} request cannot have a body: use POST or PUT, or remove 'body'.`);
  }
  const expect: HttpExpectations = {};
  if (fields.has('expect')) {
    const e = r.map(fields.get('expect')!.node, `${what}: expect`, EXPECT_KEYS);
    if (e.has('status')) {
      const s = e.get('status')!.node;
      const items = isSeq(s) ? (s.items as (YamlNode | null)[]) : [s];
      expect.status = items.map((i) => r.number(i, `${what}: expect.status`, 100, { integer: true, max: 599 }));
    }
    if (e.has('bodyContains')) expect.bodyContains = r.string(e.get('bodyContains')!.node, `${what}: expect.bodyContains`);
    if (e.has('maxLatencyMs')) expect.maxLatencyMs = r.number(e.get('maxLatencyMs')!.node, `${what}: expect.maxLatencyMs`, 0);
    if (e.has('json')) {
      const j = r.map(e.get('json')!.node, `${what}: expect.json`, JSON_KEYS);
      if (!j.has('path')) r.fail(e.get('json')!.node, `${what}: expect.json needs a 'path' such as $.status.`);
      const path = r.string(j.get('path')!.node, `${what}: expect.json.path`);
      if (!/^\$(\.[A-Za-z_][\w-]*|\[\d+\]|\['[^']*'\]|\["[^"]*"\])*$/.test(path)) {
        r.fail(j.get('path')!.node, `${what}: expect.json.path '${path}' is not a JSON path this task reads: write $ followed by .name, [index] or ['name'], e.g. $.status or $.items[0].state.`);
      }
      expect.json = { path, equals: j.has('equals') ? plainValue(j.get('equals')!.node) : undefined };
    }
  }
  const headers = h.has('headers') ? r.stringMap(h.get('headers')!.node, `${what}: http headers`) : {};
  if (h.has('body') && !isScalar(h.get('body')!.node) && !Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  return {
    ...base, kind: 'http', method, body: requestBody, expect, ...r.credentialsAsHeader(url, headers),
    timeoutSeconds: h.has('timeout') ? r.seconds(h.get('timeout')!.node, `${what}: http timeout`, 0.001) : DEFAULT_TIMEOUT_SECONDS,
  };
}

/** Reads a JSON path of the forms `$`, `.name`, `[index]`, `['name']`. */
export function readJsonPath(value: unknown, jsonPath: string): { found: boolean; value?: Value } {
  let current: unknown = value;
  for (const m of jsonPath.slice(1).matchAll(/\.([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/g)) {
    const key = m[1] ?? m[3] ?? m[4];
    if (key !== undefined) {
      if (current === null || typeof current !== 'object' || Array.isArray(current) || !(key in current)) return { found: false };
      current = (current as Record<string, unknown>)[key];
    } else {
      const index = Number(m[2]);
      if (!Array.isArray(current) || index >= current.length) return { found: false };
      current = current[index];
    }
  }
  return { found: true, value: current as Value };
}

/**
 * Sends the request and reads what came back: the status (or the JSON value at `expect.json.path`) as the result,
 * and the expectations the answer does not meet.
 */
export async function measureHttp(check: HttpCheck, ctx: CheckContext): Promise<Reading> {
  const started = process.hrtime.bigint();
  let status: number;
  let text: string;
  try {
    // Redirects are not followed: a check judges the answer of the URL it names.
    const res = await send(check.url, { method: check.method, headers: check.headers, body: check.body, signal: signalFor(check.timeoutSeconds, ctx.signal) });
    status = res.status;
    text = check.method === 'HEAD' ? '' : await res.text();
    if (check.method === 'HEAD') await res.discard();
  } catch (err) {
    return { kind: 'error', message: describeRequestFailure(err, check.url, check.timeoutSeconds, ctx.signal), durationMs: elapsed(started) };
  }
  const latencyMs = elapsed(started);
  const e = check.expect;
  const problems: string[] = [];
  const statusOk = e.status ? e.status.includes(status) : status >= 200 && status < 300;
  if (!statusOk) problems.push(`status ${status}, expected ${e.status ? e.status.join(' or ') : '2xx'}`);
  if (e.bodyContains !== undefined && !text.includes(e.bodyContains)) problems.push(`the body does not contain '${e.bodyContains}'`);
  if (e.maxLatencyMs !== undefined && latencyMs > e.maxLatencyMs) problems.push(`latency ${Math.round(latencyMs)} ms > ${e.maxLatencyMs} ms`);
  let result: Value = status;
  if (e.json) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
      problems.push(`the body is not JSON, so ${e.json.path} cannot be read`);
    }
    if (body !== undefined) {
      const found = readJsonPath(body, e.json.path);
      if (!found.found) problems.push(`the body has no ${e.json.path}`);
      else {
        result = found.value ?? null;
        if (e.json.equals !== undefined && JSON.stringify(found.value) !== JSON.stringify(e.json.equals)) {
          problems.push(`${e.json.path} is ${formatValue(found.value ?? null)}, expected ${formatValue(e.json.equals)}`);
        }
      }
    }
  }
  return {
    kind: 'value', value: result, shown: `${status} in ${Math.round(latencyMs)} ms`, unmet: problems.length ? problems.join('; ') : undefined,
    note: `status ${status}`, durationMs: latencyMs,
  };
}

export const httpCheck: CheckKind<HttpCheck> = { keys: HTTP_KEYS, checkKeys: ['expect'], parse: parseHttp, measure: measureHttp };
