// Builds each task exactly as it ships: build/tasks/<folder>/{task.json, icon.png, index.js}.
// task.json gets the extension's version (agents cache tasks by version) and the messages shared by all tasks.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TASK_FOLDERS } from './tasks.mjs';

const root = path.resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const commonMessages = JSON.parse(readFileSync(path.join(root, 'tasks/common/messages.json'), 'utf8'));
const [major, minor, patch] = pkg.version.split('.').map(Number);

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
    const target = task.execution.Node20_1.target;
    const result = await build({
      entryPoints: [path.join(src, 'index.ts')],
      outfile: path.join(dest, target),
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
    });
    const taskLibCopies = new Set(Object.keys(result.metafile.inputs)
      .map((f) => /node_modules\/((?:@[^/]+\/)?azure-pipelines-task-lib)\//.exec(f)?.[0])
      .filter(Boolean));
    if (taskLibCopies.size > 1) throw new Error(`${folder}: more than one copy of azure-pipelines-task-lib in the bundle`);
    writeFileSync(path.join(dest, 'task.json'), `${JSON.stringify(task, null, 2)}\n`);
    copyFileSync(path.join(src, 'icon.png'), path.join(dest, 'icon.png'));
    rmSync(final, { recursive: true, force: true });
    renameSync(dest, final);
    if (!quiet) console.log(`built ${path.relative(root, final)} (${task.name} ${pkg.version})`);
  }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildTasks();
}
