// Packages the built tasks into one .vsix under build/ with tfx-cli.
//   npm run package            the released extension
//   npm run package -- --dev   a private "dev" copy with its own extension id, task ids and task names, so a team
//                              can try a build beside the released extension; it replaces the released .vsix in build/.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildTasks } from './build.mjs';
import { TASK_FOLDERS } from './tasks.mjs';

const root = path.resolve(import.meta.dirname, '..');

/** A stable GUID derived from a task's id for the dev channel (name-based, like a UUID v5). */
export function devTaskId(id) {
  const h = createHash('sha1').update(`${id.toLowerCase()}:dev`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export async function packageExtension({ dev = false, quiet = false } = {}) {
  await buildTasks({ quiet });
  const stage = path.join(root, 'build/package');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(root, 'vss-extension.json'), 'utf8'));
  const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  manifest.version = version;
  for (const folder of TASK_FOLDERS) {
    const dest = path.join(stage, 'tasks', folder);
    cpSync(path.join(root, 'build/tasks', folder), dest, { recursive: true });
    if (dev) {
      const taskFile = path.join(dest, 'task.json');
      const task = JSON.parse(readFileSync(taskFile, 'utf8'));
      task.id = devTaskId(task.id);
      task.name = `${task.name}Dev`;
      task.friendlyName = `${task.friendlyName} (dev)`.slice(0, 40);
      writeFileSync(taskFile, `${JSON.stringify(task, null, 2)}\n`);
    }
  }
  // The images are addressable so that the marketplace page (overview.md) can show the pictures.
  manifest.files = [...TASK_FOLDERS.map((folder) => ({ path: `tasks/${folder}` })), { path: 'images', addressable: true }];
  cpSync(path.join(root, 'images'), path.join(stage, 'images'), { recursive: true });
  cpSync(path.join(root, 'overview.md'), path.join(stage, 'overview.md'));
  if (dev) {
    manifest.id = `${manifest.id}-dev`;
    manifest.name = `${manifest.name} (dev)`;
    manifest.public = false;
  }
  writeFileSync(path.join(stage, 'vss-extension.json'), JSON.stringify(manifest, null, 2));

  for (const f of readdirSync(path.join(root, 'build'))) {
    if (f.endsWith('.vsix')) rmSync(path.join(root, 'build', f));
  }
  const tfx = path.join(root, 'node_modules/.bin/tfx');
  const output = execFileSync(tfx, ['extension', 'create', '--root', stage, '--manifest-globs', 'vss-extension.json',
    '--output-path', path.join(root, 'build'), '--no-prompt', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const warnings = output.split('\n').filter((l) => /warn/i.test(l));
  if (warnings.length) throw new Error(`tfx warned; fix these before packaging:\n${warnings.join('\n')}`);
  const result = JSON.parse(output.slice(output.indexOf('{')));
  if (!quiet) console.log(`packaged ${path.relative(root, result.path)} (${manifest.id} ${version})`);
  return result.path;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await packageExtension({ dev: process.argv.includes('--dev') });
}
