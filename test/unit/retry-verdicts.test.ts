import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import { backoffDelay, isDroppedConnection, parseRetryAfter, retry, sleep } from '../../tasks/common/retry';

const withCode = (code: string) => Object.assign(new Error('request failed'), { code });

describe('retry verdicts, one by one', () => {
  it('takes every dropped-connection code of Node and undici as transient, and refused or unknown hosts as not', () => {
    const dropped = ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'];
    for (const code of dropped) assert.ok(isDroppedConnection(withCode(code)), code);
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'CERT_HAS_EXPIRED', '']) assert.ok(!isDroppedConnection(withCode(code)), code || 'empty code');
    assert.ok(!isDroppedConnection(Object.assign(new Error('x'), { code: 104 })), 'a numeric code is no Node error code');
  });

  it('recognises a dropped connection by its message, and follows causes four levels down but not five', () => {
    for (const message of ['socket hang up', 'other side closed', 'terminated']) assert.ok(isDroppedConnection(new Error(message)), message);
    assert.ok(!isDroppedConnection(new Error('certificate has expired')));
    assert.ok(!isDroppedConnection({ message: 42 }));
    const nested = (depth: number) => {
      let e: Error = withCode('ECONNRESET');
      for (let i = 0; i < depth; i++) e = new TypeError('fetch failed', { cause: e });
      return e;
    };
    assert.ok(isDroppedConnection(nested(4)), 'the fifth error of a chain is read');
    assert.ok(!isDroppedConnection(nested(5)), 'the sixth is not');
    assert.ok(!isDroppedConnection(undefined));
  });

  it('reads Retry-After dates relative to now: a future date as the time until then, a past one as 0, capped at 60 s', () => {
    const now = Date.parse('2026-03-01T10:00:00Z');
    assert.equal(parseRetryAfter('Sun, 01 Mar 2026 10:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('Sun, 01 Mar 2026 09:59:00 GMT', now), 0);
    assert.equal(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('1.5', now), 1500);
    assert.equal(parseRetryAfter('-3', now), 0, 'negative seconds are no delay (read as a date in the past)');
    assert.equal(parseRetryAfter('Infinity', now), undefined);
  });

  it('jitters the back-off between half and all of the exponential delay', () => {
    const random = Math.random;
    try {
      Math.random = () => 1;
      assert.equal(backoffDelay(3, 200, 15_000), 800);
      Math.random = () => 0;
      assert.equal(backoffDelay(3, 200, 15_000), 400);
      assert.equal(backoffDelay(10, 200, 15_000), 7500, 'half of the maximum');
    } finally {
      Math.random = random;
    }
  });

  it('gives onRetry the verdict\'s reason, or "transient failure"', async () => {
    const reasons: string[] = [];
    let calls = 0;
    await retry(async () => {
      if (++calls < 3) throw new Error('busy');
      return 'ok';
    }, () => ({ transient: true, retryAfterMs: 0, reason: calls === 1 ? '429 from the registry' : undefined }), { onRetry: ({ reason }) => reasons.push(reason) });
    assert.deepEqual(reasons, ['429 from the registry', 'transient failure']);
  });

  it('stops waiting when the signal aborts, and does not wait at all on an aborted signal', async () => {
    const aborted = AbortSignal.abort();
    let started = Date.now();
    await sleep(5000, aborted);
    assert.ok(Date.now() - started < 1000, 'an aborted signal ends the wait at once');
    const controller = new AbortController();
    started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await sleep(5000, controller.signal);
    assert.ok(Date.now() - started < 1000, 'aborting ends the wait');
    const kept = new AbortController();
    await sleep(5, kept.signal);
    assert.equal(getEventListeners(kept.signal, 'abort').length, 0, 'a finished wait leaves no listener on the job\'s signal');
    let calls = 0;
    await assert.rejects(retry(async () => { calls++; throw new Error('busy'); }, () => ({ transient: true, retryAfterMs: 0 }), { signal: aborted }), /busy/);
    assert.equal(calls, 1, 'no retry once the job is cancelled');
  });
});
