import * as fs from 'node:fs';

/**
 * This process's own peak resident memory in KB. On Linux, getrusage's maxrss (`process.resourceUsage().maxRSS`)
 * also keeps the high-water mark of the memory image the process had before exec, which fork copied from the
 * parent, so a task started by a large agent or test process would report the parent's size; /proc's VmHWM is the
 * task's own. Elsewhere maxRSS is all there is.
 */
export function peakMemoryKB(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // Not Linux: fall back below.
  }
  return process.resourceUsage().maxRSS;
}
