import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMPILE_CACHE_FOLDER, SAVE_AFTER_MS, compileCacheDir } from '../../tasks/common/compileCache';
import { BUILD_TASKS, agentEnvironment, runTask } from '../helpers/agent';
import { NODE24_VERSION, node24Binary } from '../helpers/node24';

/** The cache files of a task folder, each with its inode, which changes when the file is written again. */
function cacheFiles(taskDir: string): Map<string, bigint> {
  const dir = compileCacheDir(taskDir);
  if (!fs.existsSync(dir)) return new Map();
  return new Map(fs.readdirSync(dir).map((f) => [f, fs.statSync(path.join(dir, f), { bigint: true }).ino]));
}

/** The bundles a task folder holds a cache of (a cache file is named <bundle>.<source hash>.v8). */
function cachedBundles(taskDir: string): string[] {
  return [...cacheFiles(taskDir).keys()].map((f) => f.replace(/\.[0-9a-f]{16}\.v8$/, '')).sort();
}

describe('the code cache of a task folder', function () {
  this.timeout(60_000);
  let taskDir: string;
  const noInputs = /Input 'gate' or 'gateFile' is required/;

  beforeEach(() => {
    // A copy of the folder as the agent unpacks it, with no cache yet.
    taskDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compile-cache-')), 'acceptance-gate');
    fs.cpSync(path.join(BUILD_TASKS, 'acceptance-gate'), taskDir, { recursive: true });
    fs.rmSync(path.join(taskDir, COMPILE_CACHE_FOLDER), { recursive: true, force: true });
  });
  afterEach(() => fs.rmSync(path.dirname(taskDir), { recursive: true, force: true }));

  it('is written by the first run and read, not written again, by the next', async () => {
    const first = await runTask(taskDir, { timeoutMs: 10_000 });
    assert.match(first.result!.message, noInputs);
    const written = cacheFiles(taskDir);
    assert.deepEqual(cachedBundles(taskDir), ['main.js'], 'the bundles the run loaded (index.js is the loader itself)');

    const second = await runTask(taskDir, { timeoutMs: 10_000 });
    assert.equal(second.result!.message, first.result!.message);
    assert.equal(second.stderr, '');
    // A cache V8 rejected would be written again, as a new file.
    assert.deepEqual(cacheFiles(taskDir), written);
  });

  it('is replaced when it is corrupt, and the run goes on as without it', async () => {
    await runTask(taskDir, { timeoutMs: 10_000 });
    const [name, ino] = [...cacheFiles(taskDir)][0];
    const file = path.join(compileCacheDir(taskDir), name);
    const size = fs.statSync(file).size;
    fs.writeFileSync(file, Buffer.alloc(size, 0x5a));

    const run = await runTask(taskDir, { timeoutMs: 10_000 });
    assert.match(run.result!.message, noInputs);
    assert.equal(run.stderr, '');
    assert.notEqual(cacheFiles(taskDir).get(name), ino, 'written again');
    assert.notDeepEqual(fs.readFileSync(file), Buffer.alloc(size, 0x5a));
  });

  it('is not used for a bundle that changed in place, even with the same length', async () => {
    await runTask(taskDir, { timeoutMs: 10_000 });
    const main = path.join(taskDir, 'main.js');
    const source = fs.readFileSync(main, 'utf8');
    // The same number of characters, in the message that the run prints: the run must print the new text.
    const edited = source.replace('give the gate as inline YAML', 'give the gate as inline yaml');
    assert.notEqual(edited, source);
    fs.writeFileSync(main, edited);
    const run = await runTask(taskDir, { timeoutMs: 10_000 });
    assert.match(run.result!.message, /give the gate as inline yaml/);
    assert.equal(cacheFiles(taskDir).size, 2, 'a cache of its own for the new source');
  });

  it('is left out when the folder cannot hold it, and the run is the same', async () => {
    fs.writeFileSync(path.join(taskDir, COMPILE_CACHE_FOLDER), 'not a folder');
    const run = await runTask(taskDir, { timeoutMs: 10_000 });
    assert.match(run.result!.message, noInputs);
    assert.equal(run.stderr, '');
    assert.equal(fs.readFileSync(path.join(taskDir, COMPILE_CACHE_FOLDER), 'utf8'), 'not a folder');
  });

  it(`is written ${SAVE_AFTER_MS} ms into a run that is then killed, with run.js, which the run loaded for its work`, async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'compile-cache-run-'));
    try {
      const gate = `interval: 5s\nrequiredSuccesses: 100\nchecks:\n  - name: health\n    http: { url: "http://127.0.0.1:${(server.address() as AddressInfo).port}/" }\n`;
      const child = spawn(process.execPath, [path.join(taskDir, 'index.js')], { cwd: work, env: agentEnvironment({ inputs: { gate } }, work), stdio: 'ignore' });
      await new Promise((resolve) => setTimeout(resolve, SAVE_AFTER_MS + 700));
      assert.equal(child.exitCode, null, 'still running');
      child.kill('SIGKILL');
      assert.deepEqual(cachedBundles(taskDir), ['main.js', 'run.js']);
    } finally {
      server.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('is Node\'s own under the Node24 handler', async () => {
    const run = await runTask(taskDir, { node: node24Binary(), timeoutMs: 10_000 });
    assert.match(run.result!.message, noInputs);
    assert.equal(run.stderr, '');
    const dir = path.join(taskDir, COMPILE_CACHE_FOLDER, `v${NODE24_VERSION}-${process.arch}`);
    assert.ok(fs.existsSync(dir) && fs.readdirSync(dir).length > 0, `${dir} holds Node's cache`);
  });
});
