/**
 * Helpers for the quantization kernels: rounding to a compute dtype, and kernel scratch on the
 * CPU heap (counted by `memory()`, so peak-memory tests see every buffer a kernel holds).
 */

import type { DType } from '../../../lib/dtype.js';
import { bf16BitsToNumber, F16_TO_F32, numberToBf16Bits, numberToF16Bits } from '../../../lib/float16.js';
import type { CpuBackend } from '../backend.js';

/** x rounded to float16 (as a number). */
export function roundF16(x: number): number {
  return F16_TO_F32[numberToF16Bits(x)];
}

/** x rounded to bfloat16 (as a number). */
export function roundBf16(x: number): number {
  return bf16BitsToNumber(numberToBf16Bits(x));
}

/** The rounding function of a float compute dtype. */
export function rounder(dtype: DType): (x: number) => number {
  if (dtype === 'float16') return roundF16;
  if (dtype === 'bfloat16') return roundBf16;
  return Math.fround;
}

/** Float32 scratch buffers on the heap: allocate all, then take views (allocation may move memory). */
export class Scratch {
  private readonly ptrs: [number, number][] = [];

  constructor(private readonly cpu: CpuBackend) {}

  /** Reserves `n` float32 slots; call `f32(i)` for the view after every allocation is done. */
  alloc(n: number): number {
    const bytes = Math.max(4, n * 4);
    this.ptrs.push([this.cpu.allocScratch(bytes), bytes]);
    return this.ptrs.length - 1;
  }

  /** Live float32 view of buffer `i`. */
  f32(i: number, n: number): Float32Array {
    return new Float32Array(this.cpu.heap.memory.buffer, this.ptrs[i][0], n);
  }

  /** Frees every buffer. */
  free(): void {
    for (const [p, b] of this.ptrs) this.cpu.freeScratch(p, b);
    this.ptrs.length = 0;
  }
}
