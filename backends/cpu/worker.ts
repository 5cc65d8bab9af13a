/**
 * A CPU pool worker (Node worker_threads or a browser module Worker). It instantiates the
 * kernel module on the shared memory, then loops: wait for a new job generation (spinning
 * briefly first, since a sleeping thread costs tens of microseconds to wake), claim and run
 * shares, and go back to waiting. Errors are caught per share and reported through the
 * control block, so the calling thread throws instead of hanging.
 */

import {
  ACTIVE_WORKERS, CONTROL_INTS, FN_INDEX, GEN, READY, READY_FLAGS, SPIN_US, WAKES, kernelNames, readArgs, runShares,
  type WorkerInit,
} from './pool_protocol.js';

function start(init: WorkerInit): void {
  const { memory, module, controlOffset, threadIndex } = init;
  const ctl = new Int32Array(memory.buffer, controlOffset, CONTROL_INTS);
  const f32 = new Float32Array(memory.buffer, controlOffset, CONTROL_INTS);
  let fns: ((...args: number[]) => unknown)[];
  try {
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    fns = kernelNames(module).map((n) => instance.exports[n] as (...args: number[]) => unknown);
  } catch (e) {
    // Cannot run kernels: mark this worker failed (the others, and the caller, claim its
    // shares) and rethrow, so the pool's 'error' handler logs why.
    Atomics.store(ctl, READY_FLAGS + threadIndex, -1);
    Atomics.add(ctl, READY, 1);
    Atomics.notify(ctl, READY);
    throw e;
  }
  Atomics.store(ctl, READY_FLAGS + threadIndex, 1);
  Atomics.add(ctl, READY, 1);
  Atomics.notify(ctl, READY);

  let seen = init.generation;
  for (;;) {
    let gen = Atomics.load(ctl, GEN);
    if (gen === seen) {
      // Spin, re-checking the clock every 128 polls (performance.now costs ~30 ns).
      const until = performance.now() + Atomics.load(ctl, SPIN_US) / 1000;
      for (let i = 1; (gen = Atomics.load(ctl, GEN)) === seen; i++) {
        if ((i & 127) === 0 && performance.now() > until) {
          const r = Atomics.wait(ctl, GEN, seen);
          gen = Atomics.load(ctl, GEN);
          if (gen !== seen) {
            if (r === 'ok') Atomics.add(ctl, WAKES, 1); // slept, and a job woke it
            break;
          }
        }
      }
    }
    seen = gen;
    if (threadIndex > Atomics.load(ctl, ACTIVE_WORKERS)) return; // pool shrank: exit
    const args = readArgs(ctl, f32);
    const fn = fns[ctl[FN_INDEX]];
    runShares(ctl, gen, fn, args, threadIndex);
  }
}

// Node: the init arrives as workerData; browsers: as the first message.
declare const self: { onmessage: ((e: { data: WorkerInit }) => void) | null } | undefined;
const wtName = 'node:worker_threads';
const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
if (isNode) {
  const wt = (await import(wtName)) as typeof import('node:worker_threads');
  start(wt.workerData as WorkerInit);
  // The loop only returns when the pool shrinks or instantiation failed: let the thread end.
  wt.parentPort?.close();
} else if (typeof self !== 'undefined') {
  self.onmessage = (e) => {
    self.onmessage = null;
    start(e.data);
  };
}
