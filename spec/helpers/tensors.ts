/** Seeded random tensors, conversions between tensors and the reference ND, and leak checks. */

import { expect } from 'chai';
import { memory, tensor, type DType, type Tensor } from '../../index.js';
import { ND } from './reference.js';
import { Rng } from './rng.js';

export const FLOAT_DTYPES = ['float32', 'float16', 'bfloat16'] as const satisfies readonly DType[];
export const ALL_DTYPES = ['float32', 'float16', 'bfloat16', 'int32', 'int8', 'uint8', 'bool'] as const satisfies readonly DType[];

export interface RandOptions {
  /** 'normal' (default, times `scale`), 'uniform' in [lo, hi), or 'int' in [lo, hi]. */
  dist?: 'normal' | 'uniform' | 'int';
  lo?: number;
  hi?: number;
  scale?: number;
}

/** Random float64 values for a shape. */
export function randValues(rng: Rng, n: number, opts: RandOptions = {}): Float64Array {
  const v = new Float64Array(n);
  const dist = opts.dist ?? 'normal';
  for (let i = 0; i < n; i++) {
    if (dist === 'normal') v[i] = (opts.scale ?? 1) * rng.normal();
    else if (dist === 'uniform') v[i] = rng.uniform(opts.lo ?? 0, opts.hi ?? 1);
    else v[i] = rng.int(opts.lo ?? -5, opts.hi ?? 5);
  }
  return v;
}

/** Default value distribution per dtype (integers stay in range; bool is 0/1). */
function defaults(dtype: DType): RandOptions {
  switch (dtype) {
    case 'int32': return { dist: 'int', lo: -1000, hi: 1000 };
    case 'int8': return { dist: 'int', lo: -128, hi: 127 };
    case 'uint8': return { dist: 'int', lo: 0, hi: 255 };
    case 'bool': return { dist: 'int', lo: 0, hi: 1 };
    default: return { dist: 'normal' };
  }
}

/** A random tensor and the exact values it stores (read back, so 16-bit rounding is accounted for). */
export function randTensor(rng: Rng, shape: number[], dtype: DType = 'float32', opts?: RandOptions): { t: Tensor; x: ND } {
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = randValues(rng, n, opts ?? defaults(dtype));
  const t = tensor(Array.from(vals), shape, dtype);
  return { t, x: toND(t) };
}

/** A tensor holding `nd`'s values in `dtype`, and the values it actually stores. */
export function fromND(nd: ND, dtype: DType = 'float32'): { t: Tensor; x: ND } {
  const t = tensor(Array.from(nd.data), nd.shape, dtype);
  return { t, x: toND(t) };
}

/** A tensor's values as a float64 ND. */
export function toND(t: Tensor): ND {
  return ND.from(t.shape.slice(), t.dataSync());
}

/**
 * Registers before/after hooks in the current describe that fail when the block leaves tensors
 * or bytes behind (every test must dispose what it creates, or use tidy).
 */
export function checkLeaks(): void {
  let before: { numTensors: number; numBytes: number };
  beforeEach(() => {
    const m = memory();
    before = { numTensors: m.numTensors, numBytes: m.numBytes };
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') return;
    const m = memory();
    expect({ numTensors: m.numTensors, numBytes: m.numBytes }, `leak in '${this.currentTest?.title}'`).to.deep.equal(before);
  });
}
