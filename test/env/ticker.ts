/**
 * Runs `work` again and again, `everyMs()` after the end of the previous pass (read each time, so a test may change
 * a loop's pace while it runs): the emulators' controllers, kubelet and proxies follow the cluster this way, as
 * their real counterparts follow watches. Passes never overlap; one that throws still schedules the next.
 */
export function startTicking(work: () => void, everyMs: () => number): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    try {
      work();
    } finally {
      timer = setTimeout(loop, everyMs());
    }
  };
  timer = setTimeout(loop, everyMs());
  return { stop: () => clearTimeout(timer) };
}
