/**
 * The WebAssembly side of one CPU heap: the calling thread's instance of the kernel module and
 * the worker pool on the same memory. Kernels ask `run` for a job; the runtime keeps the pool
 * at the configured size and runs single-threaded where memory is not shared.
 */

import { cpuConfig } from './config.js';
import type { Heap } from './heap.js';
import { CONTROL_OFFSET } from './heap.js';
import { canBlock } from './platform.js';
import { WorkerPool } from './pool.js';
import { kernelModule, wasmSupport } from './wasm.js';

/** Typed view of the kernel module's exports (see backends/cpu/assembly/index.ts). */
export interface KernelExports {
  gemm(tid: number, nth: number, a: number, b: number, c: number, M: number, N: number, K: number, flags: number,
    batch: number, aOffs: number, bOffs: number, ws: number, wsStride: number): void;
  gemv(tid: number, nth: number, a: number, b: number, c: number, M: number, N: number, K: number, flags: number,
    batch: number, aOffs: number, bOffs: number, ws: number, wsStride: number): void;
  gemmWorkspaceBytes(M: number, N: number, K: number): number;
  gemvWorkspaceBytes(K: number): number;
  halfToF32(tid: number, nth: number, src: number, dst: number, n: number, kind: number): void;
  f32ToHalf(tid: number, nth: number, src: number, dst: number, n: number, kind: number): void;
  attnForward(tid: number, nth: number, params: number): void;
  attnMerge(tid: number, nth: number, params: number): void;
  attnWorkspaceBytes(br: number, bc: number, E: number, Ev: number): number;
  // Quantized kernels (assembly/quant_int8.ts, quant_4bit.ts).
  int8RowStats(tid: number, nth: number, x: number, T: number, K: number, threshold: number, flags: number, sca: number): void;
  int8RowQuant(tid: number, nth: number, x: number, T: number, K: number, flags: number, sca: number, ca: number): void;
  int8Gemm(tid: number, nth: number, ca: number, cb: number, sca: number, scb: number, bias: number, out: number, T: number, N: number, K: number): void;
  q4Gemm(tid: number, nth: number, x: number, packed: number, absmax: number, map: number, nestedAbsmax: number, nestedMap: number,
    offset: number, bias: number, out: number, T: number, N: number, K: number, blocksize: number, flags: number, ws: number, wsStride: number): void;
  q4GemmWorkspaceBytes(K: number): number;
  // Elementwise and row kernels (assembly/elementwise.ts, rows.ts, copy.ts); kinds: 0 f32, 1 f16, 2 bf16.
  binary(tid: number, nth: number, a: number, b: number, out: number, n: number, bn: number, op: number, kind: number): void;
  unary(tid: number, nth: number, x: number, out: number, n: number, op: number, kin: number, kout: number): void;
  swiglu(tid: number, nth: number, gate: number, up: number, out: number, rows: number, cols: number, pitch: number, kind: number): void;
  rmsNorm(tid: number, nth: number, x: number, w: number, out: number, rows: number, D: number, eps: number, kind: number): void;
  addRmsNorm(tid: number, nth: number, x: number, res: number, w: number, sum: number, out: number, rows: number, D: number, eps: number, kind: number): void;
  layerNorm(tid: number, nth: number, x: number, w: number, b: number, out: number, rows: number, D: number, eps: number, kind: number): void;
  softmax(tid: number, nth: number, x: number, out: number, rows: number, D: number, kin: number, kout: number): void;
  rope(tid: number, nth: number, x: number, cos: number, sin: number, out: number, n0: number, n1: number, T: number, D: number,
    half: number, s0: number, s1: number, interleaved: number, kind: number): void;
  copyRuns(tid: number, nth: number, dst: number, src: number, runBytes: number, n0: number, n1: number, n2: number,
    ds0: number, ds1: number, ds2: number, ss0: number, ss1: number, ss2: number): void;
}

/** Kernel export names, for `run`. */
export type KernelName = keyof KernelExports | 'poolMark' | 'poolTrap';

/** How long the first parallel job waits for workers to start (Node; browsers never block). */
const STARTUP_WAIT_MS = 3000;

export class WasmRuntime {
  readonly kernels: KernelExports;
  /** Null on a non-shared heap: everything runs on the calling thread. */
  readonly pool: WorkerPool | null;

  private constructor(heap: Heap, module: WebAssembly.Module) {
    const instance = new WebAssembly.Instance(module, { env: { memory: heap.memory } });
    this.kernels = instance.exports as unknown as KernelExports;
    this.pool = heap.shared ? new WorkerPool(heap.memory, module, instance.exports, CONTROL_OFFSET) : null;
  }

  /** A runtime for `heap`, or null when this JavaScript engine cannot run the kernels. */
  static create(heap: Heap): WasmRuntime | null {
    if (!wasmSupport.simd) return null;
    const module = kernelModule(heap.shared);
    return module ? new WasmRuntime(heap, module) : null;
  }

  /** Threads a job may use now (the configured count; 1 without shared memory). */
  get threads(): number {
    return this.pool ? cpuConfig.numThreads : 1;
  }

  /**
   * Runs kernel(share, nshares, ...args) for every share, on up to `threads` threads; float32
   * arguments are marked by bits of `floatArgs`. Throws if any share failed.
   */
  run(kernel: KernelName, nshares: number, args: readonly number[], floatArgs = 0): void {
    const pool = this.pool;
    if (!pool) {
      const fn = (this.kernels as unknown as Record<string, (...a: number[]) => void>)[kernel];
      for (let s = 0; s < nshares; s++) fn(s, nshares, ...args);
      return;
    }
    if (nshares > 1) this.syncPool(pool);
    pool.run(kernel, nshares, args, floatArgs);
  }

  /**
   * Applies the configured thread count and spin time. After starting workers it waits for them
   * (Node), so the first parallel job already has the whole pool.
   */
  private syncPool(pool: WorkerPool): void {
    if (pool.spinMicros !== cpuConfig.spinMicros) pool.spinMicros = cpuConfig.spinMicros;
    if (pool.threads === cpuConfig.numThreads) return;
    pool.setThreads(cpuConfig.numThreads);
    if (canBlock) pool.waitReady(STARTUP_WAIT_MS);
  }

  /** Stops the workers. */
  dispose(): void {
    this.pool?.dispose();
  }
}
