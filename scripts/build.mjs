// Builds each task exactly as it ships: build/tasks/<folder>/{task.json, icon.png, index.js, main.js, run.js}.
// - index.js, the file the agent runs, turns on V8's code cache for the folder (tasks/common/compileCache.ts) and
//   loads main.js.
// - main.js is the task's entry (tasks/<task>/index.ts): the task library, input reading and validation. It starts
//   fast, so a run with bad inputs fails at once.
// - Each module the entry imports dynamically (`await import('./run.js')`, the SDKs and the task's work) becomes a
//   bundle of its own, required only after the inputs are valid. It must not contain the task library: one copy
//   per process holds the inputs and secrets.
// task.json gets the extension's version (agents cache tasks by version) and the messages shared by all tasks.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TASK_FOLDERS } from './tasks.mjs';

const root = path.resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const commonMessages = JSON.parse(readFileSync(path.join(root, 'tasks/common/messages.json'), 'utf8'));
const [major, minor, patch] = pkg.version.split('.').map(Number);

const ESBUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  keepNames: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  // Optional native speed-ups of ws and node-fetch; both packages work without them.
  external: ['bufferutil', 'utf-8-validate', 'encoding'],
  // whatwg-url (under client-node's fetch) requires `punycode`; Node's built-in one is deprecated (DEP0040) and
  // warns in every job log on Node 22+, so the npm package of the same code is bundled instead.
  alias: { punycode: 'punycode/' },
  // `await import('./run.js')` in the entry becomes a require: Node's import() of a CommonJS file first scans all of
  // it with cjs-module-lexer for its export names (about 0.2 s for a 0.6 MB bundle, more for deploy-to-aks's
  // 1.8 MB) before running it. The module is still loaded only when the entry reaches that line.
  supported: { 'dynamic-import': false },
};

/**
 * Marks every dynamic import of a bundle as a file of its own, at any depth: `await import('./run.js')` in the entry,
 * `await import('../common/azureCredential.js')` or `await import('@azure/arm-resourcegraph')` deeper down. So a
 * module (an SDK above all) is read and compiled only when a run reaches the line that needs it, not when the bundle
 * that holds the line is loaded. `found` maps each file's name to the module it is built from. Modules imported by
 * more than one bundle are copied into each: classes that cross bundles are recognised by name (`isUserError`).
 */
function lazyModules(src, found) {
  return {
    name: 'lazy-modules',
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        // Only our own modules' imports: an SDK's optional imports stay as the SDK wrote them.
        if (args.kind !== 'dynamic-import' || args.importer.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const resolved = await b.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir });
        if (resolved.errors.length) return { errors: resolved.errors };
        if (resolved.external) return undefined;
        const name = chunkName(src, args.path, resolved.path);
        const known = found.get(name);
        if (known && known !== resolved.path) return { errors: [{ text: `two lazy modules would both be ${name}.js: ${known} and ${resolved.path}` }] };
        found.set(name, resolved.path);
        return { path: `./${name}.js`, external: true };
      });
    },
  };
}

/** `run` for tasks/<task>/run.ts, `common-azureCredential` for tasks/common/azureCredential.ts, `azure-arm-resourcegraph` for a package. */
function chunkName(src, specifier, file) {
  if (!specifier.startsWith('.')) return specifier.replace(/^@/, '').replace(/[/]/g, '-');
  const rel = path.relative(src, file).replace(/\.[cm]?[jt]s$/, '');
  return rel.split(path.sep).filter((p) => p !== '..').join('-');
}

/**
 * The `yaml` package as ES modules (the build it ships for browsers, the same code), not its CommonJS build: esbuild
 * hoists ES modules into one scope, which Node evaluates in about half the CPU time (measured, 6 ms against 11 ms for
 * what the tasks import). It is loaded before the first request of acceptance-gate and deploy-to-aks. The one
 * difference: its rare warnings go to console.warn instead of process.emitWarning, both on stderr.
 */
const yamlAsEsm = {
  name: 'yaml-as-esm',
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, () => ({ path: path.join(root, 'node_modules/yaml/browser/index.js') }));
  },
};

function taskLibInputs(metafile) {
  return new Set(Object.keys(metafile.inputs)
    .map((f) => /node_modules\/((?:@[^/]+\/)?azure-pipelines-task-lib)\//.exec(f)?.[0])
    .filter(Boolean));
}

export async function buildTasks({ quiet = false } = {}) {
  const out = path.join(root, 'build/tasks');
  await Promise.all(TASK_FOLDERS.map(async (folder) => {
    const src = path.join(root, 'tasks', folder);
    // Built beside the old folder and swapped in at the end, so a task that is running keeps a whole bundle.
    const final = path.join(out, folder);
    const dest = `${final}.partial-${process.pid}`;
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    const task = JSON.parse(readFileSync(path.join(src, 'task.json'), 'utf8'));
    if (task.version.Major !== major) {
      throw new Error(`${folder}/task.json has Major ${task.version.Major}, the extension is ${pkg.version}: they must agree`);
    }
    task.version = { Major: major, Minor: minor, Patch: patch };
    task.messages = { ...commonMessages, ...task.messages };

    const entry = path.join(src, 'index.ts');
    const lazy = new Map();
    const main = await build({ ...ESBUILD_OPTIONS, entryPoints: [entry], outfile: path.join(dest, 'main.js'), plugins: [lazyModules(src, lazy), yamlAsEsm] });
    if (taskLibInputs(main.metafile).size !== 1) throw new Error(`${folder}: the entry must hold exactly one copy of azure-pipelines-task-lib`);
    // Each lazy module may import others lazily in turn: built until no new one is found.
    for (const built = new Set(); built.size < lazy.size;) {
      for (const [name, file] of [...lazy]) {
        if (built.has(name)) continue;
        built.add(name);
        const part = await build({ ...ESBUILD_OPTIONS, entryPoints: [file], outfile: path.join(dest, `${name}.js`), plugins: [lazyModules(src, lazy), yamlAsEsm] });
        if (taskLibInputs(part.metafile).size > 0) throw new Error(`${folder}: ${path.relative(root, file)} must not import azure-pipelines-task-lib (only the entry does)`);
      }
    }

    await build({ ...ESBUILD_OPTIONS, entryPoints: [path.join(root, 'tasks/common/taskLoader.ts')], outfile: path.join(dest, task.execution.Node20_1.target), external: [...ESBUILD_OPTIONS.external, './main.js'] });
    writeFileSync(path.join(dest, 'task.json'), `${JSON.stringify(task, null, 2)}\n`);
    copyFileSync(path.join(src, 'icon.png'), path.join(dest, 'icon.png'));
    rmSync(final, { recursive: true, force: true });
    renameSync(dest, final);
    if (!quiet) console.log(`built ${path.relative(root, final)} (${task.name} ${pkg.version}; loaded on demand: ${[...lazy.keys()].sort().map((n) => `${n}.js`).join(', ') || 'nothing'})`);
  }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildTasks();
}
