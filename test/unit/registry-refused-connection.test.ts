import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { freePort } from '../env/processes';
import { silentLog } from '../../tasks/common/log';
import { RegistryClient } from '../../tasks/common/registry/client';

/**
 * Counts the TCP connections this process opens to `port` while `work` runs (every HTTP stack of Node, fetch and
 * undici included, connects through net.Socket#connect).
 */
async function countConnections(port: number, work: () => Promise<unknown>): Promise<number> {
  const original = net.Socket.prototype.connect;
  let count = 0;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const options = args[0] as { port?: number | string } | number | string;
    const target = typeof options === 'object' && options !== null ? options.port : options;
    if (Number(target) === port) count++;
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;
  try {
    await work().catch(() => undefined);
  } finally {
    net.Socket.prototype.connect = original;
  }
  return count;
}

describe('the registry client and a refused connection', () => {
  it('tries a registry that refuses connections once, with no retry: one scheme probe and one request', async () => {
    const port = await freePort();
    const client = new RegistryClient(`127.0.0.1:${port}`, { kind: 'anonymous' }, silentLog);
    let error: unknown;
    const connections = await countConnections(port, () => client.manifest('app', '1').catch((err: unknown) => { error = err; }));
    // A loopback registry is first asked whether it speaks HTTPS, then the request is sent: two connections, where
    // five attempts would open six.
    assert.ok(connections >= 1 && connections <= 2, `${connections} connections to the refusing port`);
    assert.match(String((error as Error)?.message), new RegExp(`Cannot reach the registry 127\\.0\\.0\\.1:${port} \\(.*connection refused`));
  });
});
