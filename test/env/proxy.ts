import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManagedProcess, freePort, isListening, requireCommand } from './processes';

/** One line of squid's access log (the native `squid` format, reference/agent-networking.md §4.2). */
export interface ProxyLogLine {
  /** e.g. `TCP_TUNNEL/200`, `TCP_DENIED/407`, `TCP_MISS/200`. */
  result: string;
  method: string;
  /** `host:port` for CONNECT, the absolute URL otherwise. */
  target: string;
  /** The authenticated proxy user, `-` for none. */
  user: string;
}

/**
 * Debian's squid as the agent's corporate proxy: on loopback, basic authentication (basic_ncsa_auth with a password
 * file made by openssl), and an access log. It may reach loopback only: requests for any other destination are
 * denied, and its DNS resolver is pointed at loopback, so nothing it does can leave the machine.
 */
export class SquidProxy {
  private constructor(
    readonly url: string,
    readonly username: string,
    readonly password: string,
    readonly accessLog: string,
    private readonly process: ManagedProcess,
    private readonly dir: string,
  ) {}

  /**
   * Runs in a folder of its own under the system's temp directory: run as root, squid is started as `nobody`, which
   * can neither enter the environment's private folder nor write there.
   */
  static async start(): Promise<SquidProxy> {
    requireCommand('squid', 'squid');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-proxy-'));
    fs.chmodSync(dir, 0o777);
    const port = await freePort();
    const username = 'agent-proxy';
    // '@' and ':' catch credentials put into a URL without percent-encoding.
    const password = `pr0xy@:${randomBytes(6).toString('hex')}`;
    const hash = execFileSync('openssl', ['passwd', '-apr1', password], { encoding: 'utf8' }).trim();
    const passwd = path.join(dir, 'passwd');
    fs.writeFileSync(passwd, `${username}:${hash}\n`, { mode: 0o644 });
    const accessLog = path.join(dir, 'access.log');
    fs.writeFileSync(accessLog, '');
    fs.chmodSync(accessLog, 0o666);
    const conf = path.join(dir, 'squid.conf');
    fs.writeFileSync(conf, [
      `http_port 127.0.0.1:${port}`,
      `pid_filename ${path.join(dir, 'squid.pid')}`,
      `cache_log ${path.join(dir, 'cache.log')}`,
      `access_log stdio:${accessLog} squid`,
      'netdb_filename none',
      'cache deny all',
      `coredump_dir ${dir}`,
      'shutdown_lifetime 1 seconds',
      'pinger_enable off',
      // Names resolve from /etc/hosts only: a DNS query would go to loopback, where nothing answers.
      'dns_nameservers 127.0.0.1',
      `auth_param basic program /usr/lib/squid/basic_ncsa_auth ${passwd}`,
      'auth_param basic realm agent-proxy',
      'acl authed proxy_auth REQUIRED',
      'acl loopback_dst dst 127.0.0.0/8',
      'http_access deny !loopback_dst',
      'http_access allow localhost authed',
      'http_access deny all',
      '',
    ].join('\n'));
    const asNobody = process.getuid?.() === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
    const [command, ...args] = [...asNobody, 'squid', '-N', '-f', conf];
    const proc = ManagedProcess.start('squid', command, args, path.join(dir, 'squid.out'));
    await proc.waitUntil(() => isListening(port), 20_000);
    return new SquidProxy(`http://127.0.0.1:${port}`, username, password, accessLog, proc, dir);
  }

  /** Where the log stands now: give it to `lines` to read only what came after. */
  mark(): number {
    return fs.statSync(this.accessLog).size;
  }

  /** The access log's lines after `since` (a tunnel's line is written when the tunnel closes). */
  lines(since = 0): ProxyLogLine[] {
    return fs.readFileSync(this.accessLog).subarray(since).toString('utf8').split('\n').filter((l) => l.trim()).map((line) => {
      const f = line.trim().split(/\s+/);
      return { result: f[3], method: f[5], target: f[6], user: f[7] };
    });
  }

  async stop(): Promise<void> {
    await this.process.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
