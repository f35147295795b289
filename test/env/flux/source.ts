import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { BareRepository } from '../repos/bareRepository';

/** A GitRepository's secret for HTTPS: for Azure Repos any username and a personal access token as password. */
export interface GitCredential {
  username: string;
  password: string;
}

/** A fetch that failed, with git's own words (the credential taken out). */
export class GitFetchError extends Error {}

/**
 * source-controller's side of a GitRepository: its own bare copy of the remote, brought up to date by Debian's
 * `git fetch` of the one branch over HTTPS, trusting the environment's CA only, with the credential never on a
 * command line. Trees and files are then read from this copy, never from the server's repository.
 */
export class GitSource {
  /** One kept-alive connection for the ref checks of every sync. */
  private readonly agent: https.Agent;
  /** The tip the last fetch brought: what the copy holds, known without asking git at every sync. */
  private fetched?: string;

  private constructor(
    readonly repository: BareRepository,
    readonly url: string,
    private readonly caFile: string,
    private readonly caPath: string,
  ) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fs.readFileSync(caFile) });
  }

  /** `dir` holds the copy; `url` must be a loopback HTTPS URL (the environment contacts nothing else). */
  static async create(dir: string, url: string, caFile: string): Promise<GitSource> {
    const { protocol, hostname } = new URL(url);
    if (protocol !== 'https:' || !/^127(\.\d{1,3}){3}$/.test(hostname)) throw new Error(`refusing to fetch from ${url}: only loopback HTTPS URLs are contacted`);
    // An empty CA directory, so that GnuTLS does not read the system's few hundred certificates at every fetch
    // (about 100 ms each time) and only the environment's CA is trusted.
    const caPath = path.join(dir, 'ca');
    fs.mkdirSync(caPath, { recursive: true });
    return new GitSource(await BareRepository.init(path.join(dir, 'repository.git')), url, caFile, caPath);
  }

  /**
   * Fetches `branch` and returns its tip. With nothing new this is one GET of the ref advertisement.
   * Throws GitFetchError with git's message when the server refuses the credential, lacks the repository or the
   * branch, or cannot be reached.
   */
  async fetch(branch: string, credential: GitCredential, options: { signal: AbortSignal; timeoutMs: number }): Promise<string> {
    const ref = `refs/heads/${branch}`;
    const local = `refs/remotes/origin/${branch}`;
    const basic = Buffer.from(`${credential.username}:${credential.password}`).toString('base64');
    // source-controller first lists the remote's refs and skips the clone when the tip is the artifact it has
    // (go-git's Remote.List). Here that check is one request on a kept-alive connection, with no git process on
    // this side; anything but a clean answer is left to git fetch, whose words the failure then carries.
    if (this.fetched && (await this.advertisedTip(ref, basic, options.signal)) === this.fetched) return this.fetched;
    const config: [string, string][] = [
      // go-git, which source-controller fetches with, speaks protocol v0; with nothing new that is one ref
      // advertisement and no POST, half the requests (and git processes on the server) of v2's ls-refs.
      ['protocol.version', '0'],
      // Sent with the first request, as go-git sends basic auth, which saves a 401 round trip at every sync.
      ['http.extraheader', `Authorization: Basic ${basic}`],
      // Asked only after a 401: it gives the same credential again, so that a refused one ends in git's
      // "Authentication failed" rather than in a prompt that cannot be answered.
      ['credential.helper', '!f() { echo "username=$FLUX_GIT_USERNAME"; echo "password=$FLUX_GIT_PASSWORD"; }; f'],
    ];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH, HOME: path.dirname(this.repository.dir), GIT_DIR: this.repository.dir,
      GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0',
      GIT_SSL_CAINFO: this.caFile, GIT_SSL_CAPATH: this.caPath,
      FLUX_GIT_USERNAME: credential.username, FLUX_GIT_PASSWORD: credential.password,
      GIT_CONFIG_COUNT: String(config.length),
      ...Object.fromEntries(config.flatMap(([key, value], i) => [[`GIT_CONFIG_KEY_${i}`, key], [`GIT_CONFIG_VALUE_${i}`, value]])),
    };
    await new Promise<void>((resolve, reject) => {
      execFile('git', ['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', this.url, `+${ref}:${local}`], {
        env, signal: options.signal, timeout: options.timeoutMs, killSignal: 'SIGKILL',
      }, (err, _stdout, stderr) => {
        if (!err) return resolve();
        const killed = (err as { killed?: boolean }).killed || err.name === 'AbortError';
        reject(new GitFetchError(redact(killed ? `git fetch did not finish within ${options.timeoutMs / 1000}s` : gitMessage(stderr) || err.message, credential.password)));
      });
    });
    const sha = await this.repository.resolve(local);
    if (!sha) throw new GitFetchError(`couldn't find remote ref ${ref}`);
    this.fetched = sha;
    return sha;
  }

  /** Closes the kept-alive connection. */
  close(): void {
    this.agent.destroy();
  }

  /** The sha the server advertises for `ref` (smart HTTP, protocol v0), or undefined when it did not answer cleanly. */
  private advertisedTip(ref: string, basic: string, signal: AbortSignal): Promise<string | undefined> {
    return new Promise((resolve) => {
      const req = https.get(`${this.url}/info/refs?service=git-upload-pack`, { agent: this.agent, signal, headers: { authorization: `Basic ${basic}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('error', () => resolve(undefined)).on('end', () => {
          if (res.statusCode !== 200) return resolve(undefined);
          resolve(advertisedRefs(Buffer.concat(chunks).toString('latin1')).get(ref));
        });
      });
      req.on('error', () => resolve(undefined));
    });
  }
}

/**
 * The refs of a smart-HTTP ref advertisement: pkt-lines, each four hex digits giving its length (the digits
 * included; `0000` is a flush), holding `<sha> <ref>`, the first one followed by \0 and the capabilities.
 */
function advertisedRefs(body: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (let at = 0; at + 4 <= body.length;) {
    const length = parseInt(body.slice(at, at + 4), 16);
    if (Number.isNaN(length)) break;
    if (length < 4) {
      at += 4;
      continue;
    }
    const [sha, name] = body.slice(at + 4, at + length).replace(/\n$/, '').split('\0')[0].split(' ');
    if (/^[0-9a-f]{40}$/.test(sha) && name) refs.set(name, sha);
    at += length;
  }
  return refs;
}

/** git's complaint: the fatal line without its prefix, followed by what the server said (`remote:` lines). */
function gitMessage(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const fatal = lines.filter((l) => !l.startsWith('remote:')).map((l) => l.replace(/^(fatal|error): /, '')).join('; ');
  const remote = lines.filter((l) => l.startsWith('remote:')).map((l) => l.replace(/^remote:\s*/, '')).join(' ');
  return remote ? `${fatal} (${remote})` : fatal;
}

function redact(message: string, secret: string): string {
  return secret ? message.split(secret).join('***') : message;
}
