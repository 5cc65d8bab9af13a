/**
 * How much CPU other processes used while this one was timing something: the whole machine's
 * busy time (Linux /proc/stat) minus this process's own CPU time (all its threads), per second
 * of wall time, in cores. On a machine shared with other work, a timing taken while this is
 * well above 0 is disturbed and worth repeating.
 */

import { readFileSync } from 'node:fs';

/** Machine busy jiffies (1/100 s) from /proc/stat, or null off Linux. */
function busyJiffies(): number | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return f.reduce((a, b) => a + b, 0) - f[3] - f[4];
  } catch {
    return null;
  }
}

/** Starts watching; the returned function gives other processes' average load (cores) since, or null off Linux. */
export function watchOtherLoad(): () => number | null {
  const j0 = busyJiffies();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const j1 = busyJiffies();
    if (j0 === null || j1 === null) return null;
    const c = process.cpuUsage(c0);
    const wallMs = performance.now() - t0;
    const ownMs = (c.user + c.system) / 1e3;
    return Math.max(0, ((j1 - j0) * 10 - ownMs) / wallMs);
  };
}
