import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ZERO_SHA = '0000000000000000000000000000000000000000';

export interface TreeEntry {
  mode: string;
  sha: string;
  /** Repository path without a leading slash. */
  path: string;
}

export type FileChange = { type: 'put'; path: string; content: Buffer } | { type: 'delete'; path: string };

export interface Signature {
  name: string;
  email: string;
  date?: Date;
}

export interface CommitInfo {
  sha: string;
  tree: string;
  parents: string[];
  author: Signature & { date: Date };
  committer: Signature & { date: Date };
  message: string;
}

/**
 * A real bare Git repository driven by Debian's git through plumbing commands, so that every SHA the Azure Repos
 * emulator reports is genuine and a `git clone` sees exactly what the REST API wrote. Commits are built on a
 * temporary index (`read-tree`, `update-index`, `write-tree`, `commit-tree`) and published with a compare-and-swap
 * `update-ref`, which fails when the ref moved: that is how a stale push is detected.
 */
export class BareRepository {
  private constructor(readonly dir: string) {}

  /** Creates a bare repository whose `defaultBranch` holds one commit with a README. */
  static async create(dir: string, defaultBranch: string, readme: string): Promise<BareRepository> {
    fs.mkdirSync(dir, { recursive: true });
    const repo = new BareRepository(dir);
    await repo.git(['init', '--quiet', '--bare', `--initial-branch=${defaultBranch}`]);
    // http-backend refuses to serve a repository unless it is exported or GIT_HTTP_EXPORT_ALL is set; we set both.
    fs.writeFileSync(path.join(dir, 'git-daemon-export-ok'), '');
    const sha = await repo.commit(undefined, [{ type: 'put', path: 'README.md', content: Buffer.from(readme) }], 'Initial commit',
      { name: 'Project Administrator', email: 'admin@contoso.example' });
    await repo.updateRef(`refs/heads/${defaultBranch}`, sha, ZERO_SHA);
    return repo;
  }

  /** An empty bare repository: a client's own copy that fetches into it (Flux's source-controller keeps one). */
  static async init(dir: string): Promise<BareRepository> {
    fs.mkdirSync(dir, { recursive: true });
    const repo = new BareRepository(dir);
    await repo.git(['init', '--quiet', '--bare']);
    return repo;
  }

  /** The SHA a ref points at, or undefined. */
  async resolve(ref: string): Promise<string | undefined> {
    const out = await this.git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => undefined);
    return out?.trim() || undefined;
  }

  /** Every branch and its tip. */
  async refs(): Promise<{ name: string; sha: string }[]> {
    const out = await this.git(['for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads/']);
    return out.split('\n').filter(Boolean).map((l) => {
      const [name, sha] = l.split(' ');
      return { name, sha };
    });
  }

  async commitExists(sha: string): Promise<boolean> {
    return /^[0-9a-f]{40}$/.test(sha) && (await this.git(['cat-file', '-t', sha]).catch(() => '')).trim() === 'commit';
  }

  /** The blobs under `folder` (repository-relative, '' for all) at a commit. */
  async tree(commit: string, folder = ''): Promise<TreeEntry[]> {
    const args = ['ls-tree', '-r', '-z', '--full-tree', commit];
    if (folder) args.push('--', folder.replace(/\/+$/, ''));
    const out = await this.git(args);
    return out.split('\0').filter(Boolean).map((line) => {
      const [meta, p] = line.split('\t');
      const [mode, , sha] = meta.split(' ');
      return { mode, sha, path: p };
    });
  }

  /** A file's content at a commit, or undefined when the commit has no such file. */
  async read(commit: string, file: string): Promise<Buffer | undefined> {
    const entry = (await this.tree(commit, file)).find((e) => e.path === file);
    if (!entry) return undefined;
    return this.gitBuffer(['cat-file', 'blob', entry.sha]);
  }

  async info(sha: string): Promise<CommitInfo> {
    const out = await this.git(['show', '-s', '--format=%H%n%T%n%P%n%an%n%ae%n%aI%n%cn%n%ce%n%cI%n%B', sha]);
    const [h, tree, parents, an, ae, ad, cn, ce, cd, ...message] = out.split('\n');
    return {
      sha: h, tree, parents: parents ? parents.split(' ') : [],
      author: { name: an, email: ae, date: new Date(ad) }, committer: { name: cn, email: ce, date: new Date(cd) },
      message: message.join('\n').replace(/\n+$/, '\n'),
    };
  }

  /** Builds a commit from `parent` (none for a root commit) with `changes`; the ref is not moved. */
  async commit(parent: string | undefined, changes: FileChange[], message: string, author: Signature, extraParents: string[] = []): Promise<string> {
    const index = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'repo-index-')), 'index');
    const env = { GIT_INDEX_FILE: index };
    try {
      if (parent) await this.git(['read-tree', parent], { env });
      // --index-info takes "<mode> <sha>\t<path>" lines; mode 0 removes the entry. Unlike --force-remove it
      // needs no work tree, which a bare repository has not.
      const lines: string[] = [];
      for (const change of changes) {
        if (change.type === 'delete') {
          lines.push(`0 ${ZERO_SHA}\t${change.path}`);
        } else {
          const blob = (await this.git(['hash-object', '-w', '--stdin'], { input: change.content })).trim();
          lines.push(`100644 ${blob}\t${change.path}`);
        }
      }
      if (lines.length) await this.git(['update-index', '--index-info'], { env, input: Buffer.from(`${lines.join('\n')}\n`) });
      const tree = (await this.git(['write-tree'], { env })).trim();
      return await this.commitTree(tree, [...(parent ? [parent] : []), ...extraParents], message, author);
    } finally {
      fs.rmSync(path.dirname(index), { recursive: true, force: true });
    }
  }

  async commitTree(tree: string, parents: string[], message: string, author: Signature): Promise<string> {
    const date = (author.date ?? new Date()).toISOString();
    const env = { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_AUTHOR_DATE: date, GIT_COMMITTER_NAME: author.name, GIT_COMMITTER_EMAIL: author.email, GIT_COMMITTER_DATE: date };
    return (await this.git(['commit-tree', tree, ...parents.flatMap((p) => ['-p', p])], { env, input: Buffer.from(message) })).trim();
  }

  /** Moves `ref` from `expected` (ZERO_SHA: it must not exist) to `next` (ZERO_SHA: delete); false when the ref had moved. */
  async updateRef(ref: string, next: string, expected: string): Promise<boolean> {
    const args = next === ZERO_SHA ? ['update-ref', '-d', ref, expected] : ['update-ref', ref, next, expected];
    return this.git(args).then(() => true, () => false);
  }

  /** Whether `ancestor` is `descendant` or one of its ancestors. */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    return this.git(['merge-base', '--is-ancestor', ancestor, descendant]).then(() => true, () => false);
  }

  async mergeBase(a: string, b: string): Promise<string | undefined> {
    return (await this.git(['merge-base', a, b]).catch(() => '')).trim() || undefined;
  }

  /** The tree of merging `source` into `target` (git merge-tree, 2.38+), or undefined on conflicts. */
  async mergeTree(target: string, source: string): Promise<string | undefined> {
    const out = await this.git(['merge-tree', '--write-tree', target, source]).catch(() => undefined);
    return out?.split('\n')[0].trim() || undefined;
  }

  git(args: string[], options: { env?: Record<string, string>; input?: Buffer } = {}): Promise<string> {
    return this.gitBuffer(args, options).then((b) => b.toString('utf8'));
  }

  private gitBuffer(args: string[], options: { env?: Record<string, string>; input?: Buffer } = {}): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const child = execFile('git', args, {
        cwd: this.dir, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, GIT_DIR: this.dir, GIT_CONFIG_NOSYSTEM: '1', ...options.env },
      }, (err, stdout, stderr) => {
        if (err) reject(new Error(`git ${args.join(' ')}: ${stderr.toString().trim() || err.message}`));
        else resolve(stdout);
      });
      child.stdin?.end(options.input);
    });
  }
}
