import { strict as assert } from 'node:assert';
import { parseChallenge } from '../../tasks/common/registry/challenge';
import { backoffDelay, isDroppedConnection, isTransientStatus, parseRetryAfter, retry } from '../../tasks/common/retry';

describe('retry', () => {
  it('retries transient failures, honouring Retry-After, and stops at success', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await retry(async () => {
      calls++;
      if (calls < 3) throw Object.assign(new Error('busy'), { retryAfterMs: 5 });
      return 'done';
    }, (err) => ({ transient: true, retryAfterMs: (err as { retryAfterMs: number }).retryAfterMs }), { onRetry: ({ delayMs }) => delays.push(delayMs) });
    assert.equal(result, 'done');
    assert.equal(calls, 3);
    assert.deepEqual(delays, [5, 5]);
  });

  it('does not retry what is not transient, and gives up after its attempts', async () => {
    let calls = 0;
    await assert.rejects(retry(async () => { calls++; throw new Error('bad request'); }, () => ({ transient: false })), /bad request/);
    assert.equal(calls, 1);
    calls = 0;
    await assert.rejects(retry(async () => { calls++; throw new Error('still busy'); }, () => ({ transient: true, retryAfterMs: 1 }), { attempts: 3 }), /still busy/);
    assert.equal(calls, 3);
  });

  it('classifies statuses and dropped connections', () => {
    for (const s of [429, 408, 500, 502, 503, 504]) assert.ok(isTransientStatus(s), String(s));
    for (const s of [400, 401, 403, 404, 409, 501, 505]) assert.ok(!isTransientStatus(s), String(s));
    assert.ok(isDroppedConnection(Object.assign(new Error('x'), { code: 'ECONNRESET' })));
    assert.ok(isDroppedConnection(new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) })));
    assert.ok(!isDroppedConnection(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })));
  });

  it('reads Retry-After as seconds or a date, capped', () => {
    assert.equal(parseRetryAfter('2'), 2000);
    assert.equal(parseRetryAfter('0'), 0);
    assert.equal(parseRetryAfter(new Date(Date.now() + 3000).toUTCString(), Date.now()) !== undefined, true);
    assert.equal(parseRetryAfter('3600'), 60_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
  });

  it('backs off exponentially with jitter, within the maximum', () => {
    for (let attempt = 1; attempt < 10; attempt++) {
      const d = backoffDelay(attempt, 200, 15_000);
      const cap = Math.min(15_000, 200 * 2 ** (attempt - 1));
      assert.ok(d >= cap / 2 && d <= cap, `${attempt}: ${d}`);
    }
  });
});

describe('registry challenges', () => {
  it('parses a bearer challenge with several scopes', () => {
    const c = parseChallenge('Bearer realm="https://r.example/oauth2/token",service="r.example",scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope"');
    assert.deepEqual(c, { scheme: 'bearer', realm: 'https://r.example/oauth2/token', service: 'r.example', scopes: ['repository:a/b:pull,push', 'repository:c:pull'], error: 'insufficient_scope' });
  });
  it('parses a basic challenge and refuses others', () => {
    assert.equal(parseChallenge('Basic realm="registry"')?.scheme, 'basic');
    assert.equal(parseChallenge('Negotiate'), undefined);
    assert.equal(parseChallenge(undefined), undefined);
  });
});
