import * as fs from 'node:fs';
import * as path from 'node:path';

const GLOB_CHARS = /[*?{]/;
const SKIPPED_DIRECTORIES = new Set(['.git', 'node_modules']);

/**
 * Files matching `pattern` (relative to `cwd`, or absolute): `*` and `?` within a path segment, `**` across
 * segments, `{a,b}` alternatives. A pattern without glob characters matches itself when it is a file. Absolute
 * paths, sorted; .git and node_modules are not searched.
 */
export function findFiles(pattern: string, cwd: string): string[] {
  const absolute = path.resolve(cwd, pattern).split(path.sep).join('/');
  const parts = absolute.split('/');
  const firstGlob = parts.findIndex((p) => GLOB_CHARS.test(p));
  if (firstGlob < 0) return isFile(absolute) ? [absolute] : [];
  const base = parts.slice(0, firstGlob).join('/') || '/';
  const re = globToRegExp(parts.slice(firstGlob).join('/'));
  return walk(base).filter((file) => re.test(file.split(path.sep).join('/').slice(base.length).replace(/^\//, ''))).sort();
}

/** Every file below `dir`, absolute. */
export function walk(dir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRECTORIES.has(entry.name)) out.push(...walk(full));
    } else if (entry.isFile()) out.push(full);
  }
  return out;
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function globToRegExp(glob: string): RegExp {
  const escape = (s: string) => s.replace(/[.+^$()|[\]\\]/g, '\\$&');
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '{' && glob.indexOf('}', i) > i) {
      const end = glob.indexOf('}', i);
      re += `(?:${glob.slice(i + 1, end).split(',').map(escape).join('|')})`;
      i = end;
    } else re += escape(ch);
  }
  return new RegExp(`^${re}$`);
}
