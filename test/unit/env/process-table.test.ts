import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Whether a process id is still running (a zombie counts as ended). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('the kubelet\'s process table', () => {
  it('ends the pods\' processes when the process that started them is killed without stopping them', async function () {
    this.timeout(30_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'process-table-'));
    const module = path.resolve(__dirname, '../../env/kube/kubelet/process');
    const script = [
      `const { spawn } = require('node:child_process');`,
      `const { ProcessTable } = require(${JSON.stringify(module)});`,
      `const table = new ProcessTable(${JSON.stringify(dir)});`,
      `const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });`,
      `table.add(child);`,
      `process.stdout.write(String(child.pid));`,
      `process.kill(process.pid, 'SIGKILL');`,
    ].join('\n');
    let pid = 0;
    try {
      execFileSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { encoding: 'utf8' });
    } catch (err) {
      pid = Number((err as { stdout: string }).stdout);
    }
    assert.ok(pid > 0, 'the child was started');
    const until = Date.now() + 5000;
    while (running(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const alive = running(pid);
    if (alive) process.kill(pid, 'SIGKILL');
    assert.equal(alive, false, `process ${pid} outlived the killed environment`);
  });
});
