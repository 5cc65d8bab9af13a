/**
 * Process-wide settings of the CPU backend: which kernels run (WebAssembly or the TypeScript
 * reference), how many threads, how long idle workers spin, and counters that show which path
 * ran. Environment variables set the defaults: FLASHTENSOR_KERNELS=js, FLASHTENSOR_NUM_THREADS=n,
 * FLASHTENSOR_SPIN_US=us.
 */

import { ArgumentError } from '../../lib/errors.js';
import { DEFAULT_SPIN_MICROS } from './pool.js';
import { envVar, hardwareConcurrency } from './platform.js';

/** 'wasm': WebAssembly SIMD kernels where they exist and the runtime supports them; 'js': the TypeScript reference kernels only. */
export type CpuKernelMode = 'wasm' | 'js';

function envInt(name: string, min: number): number | undefined {
  const v = envVar(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new ArgumentError(`${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

function envMode(): CpuKernelMode {
  const v = envVar('FLASHTENSOR_KERNELS');
  if (v === undefined || v === 'wasm') return 'wasm';
  if (v === 'js') return 'js';
  throw new ArgumentError(`FLASHTENSOR_KERNELS must be 'wasm' or 'js', got '${v}'`);
}

/** Current settings (read by the backend on every kernel call, so changes apply at once). */
export const cpuConfig = {
  kernels: envMode(),
  numThreads: envInt('FLASHTENSOR_NUM_THREADS', 1) ?? hardwareConcurrency(),
  spinMicros: envInt('FLASHTENSOR_SPIN_US', 0) ?? DEFAULT_SPIN_MICROS,
};

/** How many times each path ran, for tests and benchmarks that must know. */
export const cpuCounters = {
  /** Kernel calls served by WebAssembly, by kernel name. */
  wasm: {} as Record<string, number>,
  /** Kernel calls served by the TypeScript reference, by kernel name. */
  js: {} as Record<string, number>,
};

/** Counts one call of `kernel` on `path`. */
export function countCall(path: 'wasm' | 'js', kernel: string): void {
  const c = cpuCounters[path];
  c[kernel] = (c[kernel] ?? 0) + 1;
}

/** Sets the number of CPU threads (the calling thread included) used by parallel kernels. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`setNumThreads: expected an integer ≥ 1, got ${n}`);
  cpuConfig.numThreads = n;
}

/** Number of CPU threads parallel kernels may use (default: the core count). */
export function getNumThreads(): number {
  return cpuConfig.numThreads;
}

/** Chooses the CPU kernels: 'wasm' (default; falls back to 'js' where unsupported) or 'js' (reference only). */
export function setCpuKernels(mode: CpuKernelMode): void {
  if (mode !== 'wasm' && mode !== 'js') throw new ArgumentError(`setCpuKernels: expected 'wasm' or 'js', got ${JSON.stringify(mode)}`);
  cpuConfig.kernels = mode;
}

/** Microseconds an idle worker spins waiting for the next job before it sleeps. */
export function setSpinMicros(us: number): void {
  if (!(us >= 0)) throw new ArgumentError(`setSpinMicros: expected a number ≥ 0, got ${us}`);
  cpuConfig.spinMicros = us;
}
