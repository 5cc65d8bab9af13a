/**
 * A persistent pool of worker threads that run WebAssembly kernel exports on the CPU heap's
 * shared memory. A job is (export name, number of shares, up to MAX_ARGS int32/float32
 * arguments); every export is called as f(share, nshares, ...args) and must pick its slice of
 * the work from (share, nshares) alone. The calling thread runs shares too (it is thread 0), so
 * a job always completes, even before any worker has started. Protocol: pool_protocol.ts.
 */

import { BackendError } from '../../lib/errors.js';
import { canBlock, nodeApi } from './platform.js';
import {
  ACTIVE_WORKERS, ARG_FLOATS, ARGS, CLAIM, CONTROL_INTS, DONE, ERROR, FN_INDEX, GEN, GEN_MASK, MAX_ARGS,
  MAX_SHARES, MAX_THREADS, NARGS, NSHARES, READY, READY_FLAGS, SHARE_BITS, SHARE_COUNTS, SPIN_US, WAKES, kernelNames, readError,
  runShares, type WorkerInit,
} from './pool_protocol.js';

/** A kernel export as JavaScript sees it. */
export type KernelFn = (...args: number[]) => unknown;

interface WorkerHandle {
  terminate(): void;
}

/** Default time a worker spins after a job before sleeping (measured: see perf/RESULTS.md). */
export const DEFAULT_SPIN_MICROS = 200;
/** How long the caller spins for the last shares before sleeping on them. */
const CALLER_SPIN_MS = 0.5;

let warned = false;
/** Logs the first worker failure of the process (the pool keeps running without that worker). */
function warnWorkerFailure(threadIndex: number, err: unknown): void {
  if (warned) return;
  warned = true;
  console.warn(`flashtensor: cpu worker ${threadIndex} stopped (${err instanceof Error ? err.message : String(err)}); continuing with the remaining threads`);
}

export class WorkerPool {
  private readonly ctl: Int32Array;
  private readonly f32: Float32Array;
  private readonly fns: KernelFn[];
  private readonly index = new Map<string, number>();
  private readonly workers: WorkerHandle[] = [];
  private readonly argBuf: number[] = [];
  /** Most threads the pool ever had (share counters are kept for all of them). */
  private highWater = 1;

  /**
   * @param memory the shared memory the kernels run on
   * @param module the compiled kernel module (workers instantiate it themselves)
   * @param exports the calling thread's instance of `module` on `memory`
   * @param controlOffset byte offset of the control block in `memory`
   */
  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly module: WebAssembly.Module,
    exports: WebAssembly.Exports,
    private readonly controlOffset: number,
  ) {
    this.ctl = new Int32Array(memory.buffer, controlOffset, CONTROL_INTS);
    this.f32 = new Float32Array(memory.buffer, controlOffset, CONTROL_INTS);
    const names = kernelNames(module);
    this.fns = names.map((n) => exports[n] as KernelFn);
    names.forEach((n, i) => this.index.set(n, i));
    Atomics.store(this.ctl, SPIN_US, DEFAULT_SPIN_MICROS);
  }

  /** Threads that run shares: the workers plus the calling thread. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /** Workers that have instantiated the module and joined jobs. */
  get readyWorkers(): number {
    let n = 0;
    for (let i = 1; i <= this.workers.length; i++) n += Atomics.load(this.ctl, READY_FLAGS + i) === 1 ? 1 : 0;
    return n;
  }

  /** Workers that have either started or failed to (READY_FLAGS ≠ 0). */
  private settledWorkers(): number {
    let n = 0;
    for (let i = 1; i <= this.workers.length; i++) n += Atomics.load(this.ctl, READY_FLAGS + i) !== 0 ? 1 : 0;
    return n;
  }

  /** Microseconds workers spin after a job before sleeping. */
  get spinMicros(): number {
    return Atomics.load(this.ctl, SPIN_US);
  }

  set spinMicros(us: number) {
    Atomics.store(this.ctl, SPIN_US, Math.max(0, Math.round(us)));
  }

  /** Grows or shrinks the pool to `n` threads in all (n - 1 workers). */
  setThreads(n: number): void {
    const want = Math.max(0, Math.min(MAX_THREADS - 1, Math.floor(n) - 1));
    if (want > 0 && !nodeApi && typeof Worker === 'undefined') return; // no workers in this runtime
    while (this.workers.length > want) {
      Atomics.store(this.ctl, READY_FLAGS + this.workers.length, 0);
      this.workers.pop()!.terminate();
    }
    Atomics.store(this.ctl, ACTIVE_WORKERS, want);
    this.highWater = Math.max(this.highWater, want + 1);
    while (this.workers.length < want) {
      Atomics.store(this.ctl, READY_FLAGS + this.workers.length + 1, 0);
      this.workers.push(this.spawn(this.workers.length + 1));
    }
  }

  private spawn(threadIndex: number): WorkerHandle {
    const init: WorkerInit = {
      module: this.module, memory: this.memory, controlOffset: this.controlOffset, threadIndex,
      generation: Atomics.load(this.ctl, GEN),
    };
    const url = new URL('./worker.js', import.meta.url);
    if (nodeApi) {
      const w = new nodeApi.Worker(url, { workerData: init, name: `flashtensor-cpu-${threadIndex}` });
      w.unref(); // never keeps the process alive
      // A failure outside a share (shares catch their own errors), e.g. the module would not
      // instantiate: keep the process up, say why once; the dead worker claims no shares.
      w.on('error', (e) => warnWorkerFailure(threadIndex, e));
      return { terminate: () => void w.terminate() };
    }
    const w = new Worker(url, { type: 'module', name: `flashtensor-cpu-${threadIndex}` });
    w.onerror = (e) => warnWorkerFailure(threadIndex, e.message);
    w.postMessage(init);
    return { terminate: () => w.terminate() };
  }

  /**
   * Blocks (Node; elsewhere returns at once) until every worker has started or `timeoutMs`
   * passed. Jobs never need this — the caller runs unclaimed shares itself — but benchmarks
   * and tests want the full pool from the first job.
   */
  waitReady(timeoutMs = 10_000): boolean {
    const end = performance.now() + timeoutMs;
    for (;;) {
      const r = Atomics.load(this.ctl, READY);
      if (this.settledWorkers() >= this.workers.length) return this.readyWorkers === this.workers.length;
      const left = end - performance.now();
      if (!canBlock || left <= 0) return false;
      Atomics.wait(this.ctl, READY, r, left);
    }
  }

  /**
   * Runs `kernel(share, nshares, ...args)` for every share in [0, nshares), in parallel; returns
   * when all are done. Bit i of `floatArgs` marks args[i] as a float32. With `callerJoins`
   * false the calling thread only waits (to measure how fast workers pick up a job).
   */
  run(kernel: string, nshares: number, args: readonly number[], floatArgs = 0, callerJoins = true): void {
    const fi = this.index.get(kernel);
    if (fi === undefined) throw new BackendError(`cpu pool: the kernel module has no export '${kernel}'`);
    if (args.length > MAX_ARGS) throw new BackendError(`cpu pool: '${kernel}' got ${args.length} arguments; at most ${MAX_ARGS}`);
    nshares = Math.max(1, Math.min(MAX_SHARES, Math.floor(nshares)));
    const fn = this.fns[fi];
    const a = this.argBuf;
    a.length = args.length + 2;
    a[1] = nshares;
    for (let i = 0; i < args.length; i++) a[i + 2] = args[i];
    if ((nshares === 1 && callerJoins) || this.workers.length === 0) {
      for (let s = 0; s < nshares; s++) {
        a[0] = s;
        fn(...a);
      }
      return;
    }
    const ctl = this.ctl;
    ctl[FN_INDEX] = fi;
    ctl[NARGS] = args.length;
    ctl[ARG_FLOATS] = floatArgs;
    ctl[NSHARES] = nshares;
    for (let i = 0; i < args.length; i++) {
      if (floatArgs & (1 << i)) this.f32[ARGS + i] = args[i];
      else ctl[ARGS + i] = args[i];
    }
    Atomics.store(ctl, ERROR, 0);
    Atomics.store(ctl, DONE, 0);
    const gen = (Atomics.load(ctl, GEN) + 1) | 0;
    Atomics.store(ctl, CLAIM, (gen & GEN_MASK) << SHARE_BITS);
    Atomics.store(ctl, GEN, gen);
    Atomics.notify(ctl, GEN);
    if (callerJoins) runShares(ctl, gen, fn, a, 0);
    this.waitDone(nshares);
    if (Atomics.load(ctl, ERROR)) throw new BackendError(`cpu kernel '${kernel}' failed in ${readError(ctl)}`);
  }

  private waitDone(nshares: number): void {
    const ctl = this.ctl;
    let d = Atomics.load(ctl, DONE);
    if (d >= nshares) return;
    const spinUntil = performance.now() + CALLER_SPIN_MS;
    for (let i = 1; (d = Atomics.load(ctl, DONE)) < nshares; i++) {
      if ((i & 127) === 0 && canBlock && performance.now() > spinUntil) Atomics.wait(ctl, DONE, d, 1000);
    }
  }

  /**
   * Shares each thread slot has run in parallel jobs since the pool started (index 0 = the
   * calling thread); slots of workers removed by shrinking keep their counts.
   */
  shareCounts(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.highWater; i++) out.push(Atomics.load(this.ctl, SHARE_COUNTS + i));
    return out;
  }

  /** Times a sleeping worker was woken by a job since the pool started (see pool_protocol WAKES). */
  wakeCount(): number {
    return Atomics.load(this.ctl, WAKES);
  }

  /** Stops every worker. */
  dispose(): void {
    this.setThreads(1);
  }
}
