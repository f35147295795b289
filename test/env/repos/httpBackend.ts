import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { Exchange } from '../http';

/**
 * Serves a bare repository for cloning and fetching through `git http-backend`, the CGI program that ships with
 * git (git-http-backend(1)): the request becomes CGI variables (PATH_INFO, QUERY_STRING, CONTENT_TYPE, every
 * header as HTTP_*, GIT_PROTOCOL from Git-Protocol so protocol v2 works), the body goes to its stdin, and its
 * output's `Status:` and headers become the HTTP response. Only reads are served: pushes go through the REST API,
 * as pipelines push to Azure Repos.
 */
export async function serveGit(x: Exchange, repositoryDir: string, rest: string, user: string): Promise<void> {
  const service = x.query('service');
  if (rest === 'git-receive-pack' || service === 'git-receive-pack') {
    return x.send(403, 'TF401027: Pushes over HTTP are not enabled in this emulator; use the REST API.\n', { 'content-type': 'text/plain' });
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    GIT_PROJECT_ROOT: path.dirname(repositoryDir),
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    PATH_INFO: `/${path.basename(repositoryDir)}/${rest}`,
    REQUEST_METHOD: x.method,
    QUERY_STRING: x.url.search.replace(/^\?/, ''),
    CONTENT_TYPE: x.header('content-type') ?? '',
    REMOTE_USER: user,
    REMOTE_ADDR: '127.0.0.1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
  };
  for (const [name, value] of Object.entries(x.req.headers)) {
    if (name === 'authorization' || value === undefined) continue;
    env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = Array.isArray(value) ? value.join(', ') : value;
  }
  const protocol = x.header('git-protocol');
  if (protocol) env.GIT_PROTOCOL = protocol;
  const body = await x.body();
  if (body.length) env.CONTENT_LENGTH = String(body.length);

  const output = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 || chunks.length ? resolve(Buffer.concat(chunks)) : reject(new Error(`git http-backend exited ${code}: ${stderr}`))));
    // A backend that answers without reading its input (a ref advertisement, a refusal) has closed its stdin by
    // the time the body is written: that EPIPE says nothing its output and exit code do not.
    child.stdin.once('error', () => undefined);
    child.stdin.end(body);
  });
  const split = output.indexOf('\r\n\r\n') >= 0 ? output.indexOf('\r\n\r\n') : output.indexOf('\n\n');
  const separator = output.indexOf('\r\n\r\n') >= 0 ? 4 : 2;
  const head = output.subarray(0, split).toString('latin1');
  const content = output.subarray(split + separator);
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    const value = line.slice(i + 1).trim();
    if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
    else headers[name] = value;
  }
  x.send(status, content, headers);
}
