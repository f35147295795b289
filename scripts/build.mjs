// Builds each task exactly as it ships: build/tasks/<folder>/{task.json, icon.png, index.js, run.js}.
// - index.js is the entry: the task library, input reading and validation. It starts fast, so a run with bad
//   inputs fails at once.
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

/** Marks the entry's dynamic imports of its own modules as separate files, and records them. */
function lazyModules(entry, found) {
  return {
    name: 'lazy-modules',
    setup(b) {
      b.onResolve({ filter: /^\.\/[\w-]+(\.js)?$/ }, (args) => {
        if (args.kind !== 'dynamic-import' || args.importer !== entry) return undefined;
        const name = args.path.replace(/^\.\//, '').replace(/\.js$/, '');
        found.add(name);
        return { path: `./${name}.js`, external: true };
      });
    },
  };
}

function taskLibInputs(metafile) {
  return new Set(Object.keys(metafile.inputs)
    .map((f) => /node_modules\/((?:@[^/]+\/)?azure-pipelines-task-lib)\//.exec(f)?.[0])
    .filter(Boolean));
}

/**
 * esbuild keeps `import("./run.js")` as a real dynamic import, and Node's ESM loader then scans the whole CommonJS
 * bundle with cjs-module-lexer for its export names before running it: measured, 1.5-2 s more than `require` for a
 * 1.7 MB bundle on a busy machine. Our bundles are CommonJS, so the entry requires them (still only when reached).
 */
function requireLazyModules(file, lazy) {
  let text = readFileSync(file, 'utf8');
  for (const name of lazy) text = text.split(`import("./${name}.js")`).join(`Promise.resolve().then(()=>require("./${name}.js"))`);
  writeFileSync(file, text);
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
    const lazy = new Set();
    const main = await build({ ...ESBUILD_OPTIONS, entryPoints: [entry], outfile: path.join(dest, task.execution.Node20_1.target), plugins: [lazyModules(entry, lazy)] });
    if (taskLibInputs(main.metafile).size !== 1) throw new Error(`${folder}: the entry must hold exactly one copy of azure-pipelines-task-lib`);
    requireLazyModules(path.join(dest, task.execution.Node20_1.target), lazy);
    for (const name of lazy) {
      const part = await build({ ...ESBUILD_OPTIONS, entryPoints: [path.join(src, `${name}.ts`)], outfile: path.join(dest, `${name}.js`) });
      if (taskLibInputs(part.metafile).size > 0) throw new Error(`${folder}/${name}.ts must not import azure-pipelines-task-lib (only the entry does)`);
    }

    writeFileSync(path.join(dest, 'task.json'), `${JSON.stringify(task, null, 2)}\n`);
    copyFileSync(path.join(src, 'icon.png'), path.join(dest, 'icon.png'));
    rmSync(final, { recursive: true, force: true });
    renameSync(dest, final);
    if (!quiet) console.log(`built ${path.relative(root, final)} (${task.name} ${pkg.version}; loaded after the inputs: ${[...lazy].map((n) => `${n}.js`).join(', ') || 'nothing'})`);
  }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildTasks();
}
