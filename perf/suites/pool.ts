/**
 * CPU worker-pool latencies: what a parallel job costs beyond its work. Round trip = post a
 * job, a worker claims and runs a trivial share, the caller sees it done (the caller does not
 * run shares here, so the worker must). Measured with the worker still spinning after the
 * previous job, after idle gaps around the spin time, and after it went to sleep (wake cost).
 */

import * as ft from '../../index.js';
import { ENGINE } from '../../lib/engine.js';
import type { CpuBackend } from '../../backends/cpu/backend.js';
import { waitForQuiet, type PerfSuite, type ResultRow } from '../harness.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Busy-waits `us` microseconds (a sleep would let the OS deschedule this thread too). */
function idle(us: number): void {
  const end = performance.now() + us / 1e3;
  while (performance.now() < end);
}

export const suite: PerfSuite = {
  name: 'pool',
  description: 'worker pool dispatch and wake-up latency',
  backends: ['cpu'],
  async run(ctx) {
    await ft.setBackend('cpu');
    const cpu = ENGINE.backendSync('cpu') as CpuBackend;
    const rt = cpu.wasm();
    if (!rt?.pool) throw new Error('pool suite: the CPU backend has no worker pool here (no SharedArrayBuffer or no WebAssembly)');
    const pool = rt.pool;
    ft.setNumThreads(Math.max(2, ft.getNumThreads()));
    const p = cpu.allocScratch(64);
    const job = (callerJoins: boolean, shares: number) => pool.run('poolMark', shares, [p, 1], 0b10, callerJoins);
    rt.run('poolMark', 2, [p, 1], 0b10); // starts the workers and waits for them
    const rows: ResultRow[] = [];
    const measure = (name: string, n: number, gapUs: number, fn: () => void, note?: string) => {
      waitForQuiet(ctx.quietSeconds, ctx.progress);
      ctx.progress(`${name} …`);
      for (let i = 0; i < 20; i++) fn();
      const t: number[] = [];
      for (let i = 0; i < n; i++) {
        if (gapUs) idle(gapUs);
        const t0 = performance.now();
        fn();
        t.push(performance.now() - t0);
      }
      rows.push({ name, value: median(t) * 1e3, unit: 'µs', note: note ?? `median of ${n}` });
    };
    measure('call on the calling thread only (1 share)', 5000, 0, () => rt.run('poolMark', 1, [p, 1], 0b10));
    measure('round trip to a spinning worker', 5000, 0, () => job(false, 1));
    measure('2-share job, caller joins, worker spinning', 5000, 0, () => job(true, 2));
    const spin = pool.spinMicros;
    for (const frac of [0.25, 0.5, 0.9]) {
      const gap = Math.round(spin * frac);
      measure(`round trip after ${gap} µs idle (spin ${spin} µs)`, 300, gap, () => job(false, 1));
    }
    measure(`round trip after 2 ms idle (worker asleep): wake cost`, 300, 2000, () => job(false, 1));
    cpu.freeScratch(p, 64);
    return {
      rows,
      meta: { spinMicros: spin, threads: pool.threads, note: 'the caller spins while waiting, so these are latencies, not CPU time' },
    };
  },
};
