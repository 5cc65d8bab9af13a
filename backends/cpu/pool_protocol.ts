/**
 * The worker pool's control block: an Int32Array over the shared WebAssembly memory at
 * CONTROL_OFFSET, read and written by the main thread and every worker. Indices below are
 * Int32 slots. Fields written during a job by different threads sit on different 64-byte cache
 * lines, so spinning readers do not keep stealing the line a busy thread is writing.
 *
 * A job: the caller writes the kernel's export index, argument count and types and the
 * arguments, resets DONE and ERROR, sets CLAIM to (generation << SHARE_BITS), then bumps GEN
 * and notifies. Every participant (the caller included) claims share indices by
 * compare-exchange on CLAIM, runs export(share, nshares, ...args), and adds 1 to DONE. The
 * generation inside CLAIM makes a late worker that read a stale job's arguments fail its
 * claim instead of running the wrong work. The job ends when DONE reaches NSHARES.
 */

/** Job generation, bumped once per job. Workers sleep on it with Atomics.wait. */
export const GEN = 0;
/** Bumped (and notified) each time a worker finishes instantiating; waitReady sleeps on it. */
export const READY = 1;
/** Microseconds a worker keeps spinning on GEN after a job before it sleeps. */
export const SPIN_US = 2;
/** Number of workers allowed to run; a worker whose index is ≥ this exits. */
export const ACTIVE_WORKERS = 3;
/**
 * Times a worker was woken from sleep (Atomics.wait) by a new job: each cost that job the wake
 * latency (tens of µs) instead of ~1 µs for a spinning worker. Read by cpuStats().
 */
export const WAKES = 4;
/** (generation & GEN_MASK) << SHARE_BITS | next unclaimed share. */
export const CLAIM = 16;
/** Shares finished in the current job; the caller sleeps on it. */
export const DONE = 32;
/** Job description. */
export const NSHARES = 48;
export const FN_INDEX = 49;
export const NARGS = 50;
/** Bit i set: argument i is a float32 (stored as its bits), else an int32. */
export const ARG_FLOATS = 51;
/** 0, or 1 once a share failed (first failure wins). */
export const ERROR = 52;
/** Length in UTF-16 units of the error message stored at ERROR_TEXT. */
export const ERROR_LENGTH = 53;
/** Arguments (MAX_ARGS slots). */
export const ARGS = 64;
export const MAX_ARGS = 24;
/** Shares run by each thread since start-up (thread 0 = the caller), MAX_THREADS slots. */
export const SHARE_COUNTS = 96;
export const MAX_THREADS = 256;
/** 1 while worker i (1-based) is instantiated and taking jobs, MAX_THREADS slots. */
export const READY_FLAGS = 352;
/** Byte offset (from the control block's start) of the error text, as UTF-16 units. */
export const ERROR_TEXT_BYTE = 4096;
export const ERROR_TEXT_MAX = 2048;
/** Int32 slots the control block spans (it must fit the 64 KiB the heap reserves). */
export const CONTROL_INTS = 4096;

export const SHARE_BITS = 12;
/** Largest number of shares one job may have. */
export const MAX_SHARES = (1 << SHARE_BITS) - 1;
export const GEN_MASK = (1 << (32 - SHARE_BITS)) - 1;

/** Message that starts a worker. */
export interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  controlOffset: number;
  /** 1-based: the caller is thread 0. */
  threadIndex: number;
  /** GEN when the worker was created: jobs after it are new to this worker. */
  generation: number;
}

/** Function exports of a kernel module, in a fixed order both sides compute the same way. */
export function kernelNames(module: WebAssembly.Module): string[] {
  return WebAssembly.Module.exports(module)
    .filter((e) => e.kind === 'function')
    .map((e) => e.name)
    .sort();
}

/** Claims the next share of job `gen`, or returns -1 when none is left or the job is over. */
export function claimShare(ctl: Int32Array, gen: number, nshares: number): number {
  const tag = gen & GEN_MASK;
  for (;;) {
    const c = Atomics.load(ctl, CLAIM);
    if (c >>> SHARE_BITS !== tag) return -1;
    const share = c & MAX_SHARES;
    if (share >= nshares) return -1;
    if (Atomics.compareExchange(ctl, CLAIM, c, c + 1) === c) return share;
  }
}

/** Records the first failure of a job: its message goes into the control block for the caller. */
export function recordError(ctl: Int32Array, err: unknown, threadIndex: number): void {
  if (Atomics.compareExchange(ctl, ERROR, 0, 1) !== 0) return;
  const text = `${threadIndex === 0 ? 'calling thread' : `worker ${threadIndex}`}: ${
    err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  }`.slice(0, ERROR_TEXT_MAX);
  const u16 = new Uint16Array(ctl.buffer, ctl.byteOffset + ERROR_TEXT_BYTE, ERROR_TEXT_MAX);
  for (let i = 0; i < text.length; i++) u16[i] = text.charCodeAt(i);
  Atomics.store(ctl, ERROR_LENGTH, text.length);
}

/** Reads the message stored by recordError. */
export function readError(ctl: Int32Array): string {
  const n = Atomics.load(ctl, ERROR_LENGTH);
  const u16 = new Uint16Array(ctl.buffer, ctl.byteOffset + ERROR_TEXT_BYTE, n);
  return String.fromCharCode(...u16);
}

/** Runs claimed shares of job `gen` until none is left; returns how many this thread ran. */
export function runShares(
  ctl: Int32Array, gen: number, fn: (...args: number[]) => unknown, args: number[], threadIndex: number,
): number {
  const nshares = ctl[NSHARES];
  let ran = 0;
  for (let s = claimShare(ctl, gen, nshares); s >= 0; s = claimShare(ctl, gen, nshares)) {
    try {
      args[0] = s;
      fn(...args);
    } catch (e) {
      recordError(ctl, e, threadIndex);
    }
    ran++;
    // Counted before DONE: once the caller sees the job done, every share's count is visible
    // (counting after DONE raced with callers that read cpuStats() right after a job).
    Atomics.add(ctl, SHARE_COUNTS + Math.min(threadIndex, MAX_THREADS - 1), 1);
    if (Atomics.add(ctl, DONE, 1) + 1 === nshares) Atomics.notify(ctl, DONE);
  }
  return ran;
}

/** Reads the job's arguments as [share, nshares, ...args] (slot 0 is filled per share). */
export function readArgs(ctl: Int32Array, f32: Float32Array): number[] {
  const n = ctl[NARGS];
  const floats = ctl[ARG_FLOATS];
  const out = new Array<number>(n + 2);
  out[0] = 0;
  out[1] = ctl[NSHARES];
  for (let i = 0; i < n; i++) out[i + 2] = floats & (1 << i) ? f32[ARGS + i] : ctl[ARGS + i];
  return out;
}
