import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EntraClientCredential, type ClientProof } from '../../../tasks/common/entraClientCredential';
import { HttpError } from '../../../tasks/common/http';

interface Seen { path: string; form: URLSearchParams }

/** A token endpoint on loopback that answers with `answers` in turn (the last one repeats), recording each request. */
async function tokenEndpoint(answers: { status: number; body: unknown }[]): Promise<{ url: string; seen: Seen[]; close(): void }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      seen.push({ path: req.url ?? '', form: new URLSearchParams(body) });
      const answer = answers[Math.min(seen.length - 1, answers.length - 1)];
      res.writeHead(answer.status, { 'content-type': 'application/json', 'retry-after': '0' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen, close: () => server.close() };
}

const credential = (authorityHost: string, proof: ClientProof = { clientSecret: 'the-secret' }) =>
  new EntraClientCredential({ authorityHost, tenantId: 'tenant-1', clientId: 'app-1', proof });

describe('the client-credentials token request', () => {
  it('posts the secret to the tenant\'s v2.0 token endpoint, and shares one token among callers until near its expiry', async () => {
    const entra = await tokenEndpoint([{ status: 200, body: { token_type: 'Bearer', expires_in: 3600, access_token: 'token-a' } }]);
    try {
      const c = credential(entra.url);
      const [a, b] = await Promise.all([c.getToken('https://management.example/.default'), c.getToken(['https://management.example/.default'])]);
      assert.equal(a.token, 'token-a');
      assert.equal(b, a);
      assert.ok(Math.abs(a.expiresOnTimestamp - (Date.now() + 3600_000)) < 5000, 'expiry from expires_in');
      await c.getToken('https://management.example/.default');
      assert.equal(entra.seen.length, 1, 'one request for three callers');
      assert.equal(entra.seen[0].path, '/tenant-1/oauth2/v2.0/token');
      assert.deepEqual(Object.fromEntries(entra.seen[0].form), { grant_type: 'client_credentials', client_id: 'app-1', scope: 'https://management.example/.default', client_secret: 'the-secret' });
      await c.getToken('api://other/.default');
      assert.equal(entra.seen.length, 2, 'another audience is another token');
    } finally {
      entra.close();
    }
  });

  it('asks again once a short-lived token is at half its life', async () => {
    const entra = await tokenEndpoint([{ status: 200, body: { expires_in: 1, access_token: 'short' } }]);
    try {
      const c = credential(entra.url);
      await c.getToken('s/.default');
      await c.getToken('s/.default');
      assert.equal(entra.seen.length, 1);
      await new Promise((r) => setTimeout(r, 600));
      await c.getToken('s/.default');
      assert.equal(entra.seen.length, 2);
    } finally {
      entra.close();
    }
  });

  it('sends a federated token as a client assertion, asking for it on each request', async () => {
    const entra = await tokenEndpoint([{ status: 200, body: { expires_in: 3600, access_token: 't' } }]);
    let asked = 0;
    try {
      const c = credential(entra.url, { assertion: async () => `assertion-${++asked}` });
      await c.getToken('a/.default');
      await c.getToken('b/.default');
      assert.deepEqual(entra.seen.map((s) => s.form.get('client_assertion')), ['assertion-1', 'assertion-2']);
      assert.equal(entra.seen[0].form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      assert.equal(entra.seen[0].form.get('client_secret'), null);
    } finally {
      entra.close();
    }
  });

  it('retries 503, and fails at once with Entra\'s own description on a refusal, keeping no failed answer', async () => {
    const refusal = { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.', error_codes: [7000215] };
    const entra = await tokenEndpoint([{ status: 503, body: {} }, { status: 401, body: refusal }, { status: 200, body: { expires_in: 3600, access_token: 'late' } }]);
    try {
      const c = credential(entra.url);
      await assert.rejects(c.getToken('x/.default'), (err: unknown) => err instanceof HttpError && err.status === 401 && err.message === refusal.error_description);
      assert.equal(entra.seen.length, 2, 'the 503 was retried, the 401 was not');
      assert.equal((await c.getToken('x/.default')).token, 'late', 'a failure is not cached');
    } finally {
      entra.close();
    }
  });
});
