/**
 * V8's code cache for the task's own bundles, kept beside them: Node 20 compiles every bundle from source on every
 * run (Node 22's module.enableCompileCache, used where it exists, is not there), and an agent runs the same task
 * version many times from its _tasks folder. With the cache a run skips parsing the bundles and compiling the
 * functions that the previous run compiled.
 *
 * Node's loader is used as it is; only the compilation of files in the task's folder changes, from Node's own
 * vm.compileFunction to a vm.Script given the cached data. Anything unexpected (no cache yet, a cache from another
 * Node, a corrupt or unwritable file) falls back to compiling from source, which is what a run does without it.
 * The cache is written a second into the run, when the task is waiting on the network, or at its exit if that comes
 * first, so it never delays a start; a folder the agent's user cannot write to is simply left without one.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import path from 'node:path';
import { Script, constants } from 'node:vm';

interface CompilingModule {
  exports: unknown;
  _compile(content: string, filename: string): unknown;
}

/** The folder of a task's folder that holds its cache; it is never shipped. */
export const COMPILE_CACHE_FOLDER = '.compile-cache';

/** Where the cache of `taskDir` lives: one folder per Node version and architecture, whose caches differ. */
export function compileCacheDir(taskDir: string): string {
  return path.join(taskDir, COMPILE_CACHE_FOLDER, `${process.version}-${process.arch}`);
}

export function useCompileCache(taskDir: string): void {
  const dir = compileCacheDir(taskDir);
  // Node 22 and later (the Node24 handler) have the same as a public API.
  const builtIn = (Module as { enableCompileCache?: (directory: string) => unknown }).enableCompileCache;
  if (builtIn) {
    builtIn(dir);
    return;
  }
  const proto = Module.prototype as unknown as CompilingModule;
  const compile = proto._compile;
  // Scripts compiled without a usable cache: their cache is written later, with the functions the run has compiled.
  const stale = new Map<string, Script>();

  proto._compile = function compileWithCache(this: CompilingModule, content: string, filename: string) {
    if (path.dirname(filename) !== taskDir) return compile.call(this, content, filename);
    // V8 checks a cache's V8 version and flags but knows the source only by its length: the name holds its hash.
    const cacheFile = path.join(dir, `${path.basename(filename)}.${createHash('sha256').update(content).digest('hex').slice(0, 16)}.v8`);
    const cachedData = readCache(cacheFile);
    const script = new Script(Module.wrap(content), {
      filename,
      cachedData,
      importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    if (!cachedData || script.cachedDataRejected) stale.set(cacheFile, script);
    const wrapper = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown;
    return wrapper.call(this.exports, this.exports, createRequire(filename), this, filename, taskDir);
  };

  const save = () => {
    for (const [file, script] of stale) writeCache(file, script.createCachedData());
    stale.clear();
  };
  // Once the run is under way its start-up code has been compiled, and a cancelled run (killed, no exit) keeps it.
  setTimeout(save, SAVE_AFTER_MS).unref();
  process.once('exit', save);
}

/** Long enough for a task to have reached its first request, short against a task's run. */
export const SAVE_AFTER_MS = 1000;

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Written whole or not at all: another job of the same agent machine may be reading it. */
function writeCache(file: string, data: Buffer): void {
  const partial = `${file}.${process.pid}`;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(partial, data);
    renameSync(partial, file);
  } catch {
    // A read-only task folder: the next run compiles from source, as this one did.
  }
}
