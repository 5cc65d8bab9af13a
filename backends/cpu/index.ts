/** The CPU backend: always available, registered when flashtensor is imported. */

import { ENGINE } from '../../lib/engine.js';
import { CpuBackend } from './backend.js';
import './kernels/attention.js';
import { cpuConfig, cpuCounters, type CpuKernelMode } from './config.js';
import { wasmSupport } from './wasm.js';
import './kernels/elementwise.js';
import './kernels/int8.js';
import './kernels/matmul.js';
import './kernels/nn.js';
import './kernels/quant4.js';
import './kernels/reduce.js';
import './kernels/transpose.js';
import './kernels/fused.js';
// WebAssembly fast paths, tried before the reference kernels above.
import './kernels/elementwise_wasm.js';
import './kernels/rows_wasm.js';
import './kernels/copy_wasm.js';

ENGINE.registerBackend('cpu', () => new CpuBackend(), 1);

export { CpuBackend };
export { getNumThreads, setCpuKernels, setNumThreads, setSpinMicros, type CpuKernelMode } from './config.js';

/** What the CPU backend can use here and what it is set to use. */
export interface CpuInfo {
  /** WebAssembly SIMD kernels can run. */
  simd: boolean;
  /** The relaxed-SIMD (fused multiply-add) build is in use. */
  relaxedSimd: boolean;
  /** Tensors live in shared memory, so worker threads can help. */
  sharedMemory: boolean;
  /** Threads a parallel kernel uses (the calling thread included); 1 without shared memory. */
  threads: number;
  /** Kernels in effect: 'wasm' when set and supported, else 'js'. */
  kernels: CpuKernelMode;
  /** Workers started and ready (0 until the first parallel kernel). */
  workersReady: number;
  /** Microseconds idle workers spin before sleeping. */
  spinMicros: number;
}

function cpu(): CpuBackend {
  return ENGINE.backendSync('cpu') as CpuBackend;
}

/** Capabilities and settings of the CPU backend. */
export function cpuInfo(): CpuInfo {
  const rt = cpu().wasm();
  return {
    simd: wasmSupport.simd,
    relaxedSimd: wasmSupport.relaxedSimd,
    sharedMemory: cpu().heap.shared && wasmSupport.sharedMemory,
    threads: rt ? rt.threads : 1,
    kernels: rt ? 'wasm' : 'js',
    workersReady: rt?.pool?.readyWorkers ?? 0,
    spinMicros: cpuConfig.spinMicros,
  };
}

/**
 * Counts of CPU kernel calls served by each path, shares of parallel jobs run per thread slot
 * (index 0 = calling thread), and how many jobs had to wake a sleeping worker (`workerWakes`,
 * since the pool started; each costs the wake latency, see perf/RESULTS.md).
 */
export function cpuStats(): { wasm: Record<string, number>; js: Record<string, number>; sharesPerThread: number[]; workerWakes: number } {
  const pool = cpu().wasm()?.pool;
  return {
    wasm: { ...cpuCounters.wasm },
    js: { ...cpuCounters.js },
    sharesPerThread: pool?.shareCounts() ?? [],
    workerWakes: pool?.wakeCount() ?? 0,
  };
}

/** Zeroes the call counters of cpuStats(). */
export function resetCpuStats(): void {
  for (const k of Object.keys(cpuCounters.wasm)) delete cpuCounters.wasm[k];
  for (const k of Object.keys(cpuCounters.js)) delete cpuCounters.js[k];
}
