import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Environment } from '../env';
import { runTask, secretLeaks } from '../helpers/agent';
import { sharedEnvironment } from '../helpers/environment';

interface BasicAuthFront {
  /** `http://127.0.0.1:<port>`, to be given with credentials in front of a path. */
  origin: string;
  accepted: number;
  refused: number;
  close(): Promise<void>;
}

/**
 * A front that answers 401 with a Basic challenge (RFC 7617) to every request without `Authorization: Basic` for
 * the given user, and forwards the others, without the header, to `target`: a server that requires the header.
 */
async function basicAuthFront(target: string, username: string, password: string): Promise<BasicAuthFront> {
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const upstream = new URL(target);
  const front: Omit<BasicAuthFront, 'origin' | 'close'> = { accepted: 0, refused: 0 };
  const server = http.createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      front.refused++;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="gate", charset="UTF-8"', 'content-length': 0 }).end();
      return;
    }
    front.accepted++;
    const headers = { ...req.headers, host: upstream.host };
    delete headers.authorization;
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.once('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(front, {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  });
}

describe('AcceptanceGate@1 and the credentials in a check URL', function () {
  this.timeout(60_000);
  let env: Environment;
  let tmp: string;
  before(async () => {
    env = await sharedEnvironment();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gate-basic-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const gateFile = (app: string, prometheus: string) => {
    // From a file: the agent's debug echo of an inline gate input would show the password before the task runs.
    const file = path.join(tmp, `gate-${Math.random().toString(36).slice(2)}.yml`);
    fs.writeFileSync(file, [
      'interval: 0.1', 'requiredSuccesses: 1', 'consecutiveErrorLimit: 0', 'checks:',
      '  - name: health', `    http: { url: '${app}/healthz' }`,
      '  - name: scraped', `    prometheus: { url: '${prometheus}', query: 'count(up{job="sample-app"})' }`, '    successCondition: result == 1', '',
    ].join('\n'));
    return file;
  };

  it('sends them as Basic authorization to an app and a Prometheus that require it, and a wrong password fails', async () => {
    const password = 'pw-5ac3e9d1f0';
    const app = await basicAuthFront(env.info.app, 'gate', password);
    const prometheus = await basicAuthFront(env.info.prometheus, 'gate', password);
    try {
      const withCredentials = (origin: string, pw: string) => origin.replace('://', `://gate:${pw}@`);
      const run = await runTask('acceptance-gate', { inputs: { gateFile: gateFile(withCredentials(app.origin, password), withCredentials(prometheus.origin, password)) } });
      assert.equal(run.result?.status, 'Succeeded', `${run.result?.message}\n${run.stdout}`);
      assert.ok(app.accepted >= 1 && prometheus.accepted >= 1, 'both servers let the checks in');
      assert.deepEqual([app.refused, prometheus.refused], [0, 0], 'the header came with the first request');
      assert.deepEqual(secretLeaks(run, [password]), []);

      const wrong = await runTask('acceptance-gate', { inputs: { gateFile: gateFile(withCredentials(app.origin, 'not-it'), withCredentials(prometheus.origin, 'not-it')) } });
      assert.equal(wrong.result?.status, 'Failed', wrong.result?.message);
      assert.ok(app.refused >= 1 && prometheus.refused >= 1, 'the servers refused the wrong password');
    } finally {
      await app.close();
      await prometheus.close();
    }
  });
});
