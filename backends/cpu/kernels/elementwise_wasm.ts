/**
 * WebAssembly fast paths of the float elementwise kernels: Add, Sub, Mul, Div (same shape, row
 * broadcast, scalar), Silu, Gelu, Relu, Neg, Exp, Sigmoid, Cast between float dtypes, and the
 * fused SwiGlu. Anything else (integer dtypes, mixed dtypes, general broadcasting) returns null
 * and runs on the TypeScript reference in elementwise.ts.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import { sizeOf, type Shape } from '../../../lib/shape.js';
import type { CpuBackend } from '../backend.js';
import { countCall } from '../config.js';
import type { WasmRuntime } from '../runtime.js';
import { cpuFastPath, floatKind, ptrOf, readF32 } from './util.js';

/**
 * Elements from which an elementwise job is split over the pool. Below it the calling thread
 * does it alone: ~64K float32 elements take ~10–20 µs on one thread, about what handing half to
 * a worker saves when it is spinning, and far less than waking a sleeping one (~60 µs).
 * Transcendental ops (SiLU, GELU, exp, sigmoid) do ~10× the work per element, so they split
 * sooner.
 */
export const ELEMENTWISE_PARALLEL_MIN = 1 << 16;
export const TRANSCENDENTAL_PARALLEL_MIN = 1 << 13;

/** Shares for a job of n elements on rt (1 below the threshold). */
export function sharesFor(rt: WasmRuntime, n: number, min: number): number {
  return n >= min ? rt.threads : 1;
}

const BINARY_OPS: Record<string, number> = { Add: 0, Sub: 1, Mul: 2, Div: 3 };
/** Op code when the operands are swapped (a broadcast against b): b + a, b − a → rsub, b · a, b / a → rdiv. */
const SWAPPED: Record<number, number> = { 0: 0, 1: 4, 2: 2, 3: 5 };
const UNARY_OPS: Record<string, number> = { Cast: 0, Silu: 1, Gelu: 2, Relu: 3, Neg: 4, Exp: 5, Sigmoid: 6 };
const HEAVY = new Set([1, 2, 5, 6]);

/**
 * Whether `b` broadcasts against `outShape` as one repeated row: its shape, without leading
 * 1s, equals the trailing axes of outShape.
 */
function isRowBroadcast(b: Shape, outShape: Shape): boolean {
  let i = 0;
  while (i < b.length && b[i] === 1) i++;
  const tail = b.length - i;
  if (tail > outShape.length) return false;
  for (let j = 0; j < tail; j++) if (b[i + j] !== outShape[outShape.length - tail + j]) return false;
  return true;
}

function binaryFast(kernel: string) {
  const code = BINARY_OPS[kernel];
  return (inputs: readonly TensorInfo[], attrs: { dtype: DType; shape: Shape }, cpu: CpuBackend): TensorInfo | null => {
    const { dtype, shape } = attrs;
    const kind = floatKind(dtype);
    if (kind < 0) return null;
    const n = sizeOf(shape);
    if (n === 0) return null;
    let [x, y] = inputs;
    let op = code;
    if (sizeOf(x.shape) !== n) {
      [x, y] = [y, x];
      op = SWAPPED[code];
    }
    if (sizeOf(x.shape) !== n || x.dtype !== dtype) return null;
    const bn = sizeOf(y.shape);
    const scalar = bn === 1;
    if (!scalar && (y.dtype !== dtype || (bn !== n && !isRowBroadcast(y.shape, shape)))) return null;
    // A float scalar of another float dtype is exact in float32; integer scalars stay on the reference.
    if (scalar && floatKind(y.dtype) < 0) return null;
    const rt = cpu.wasm();
    if (!rt) return null;
    const out = cpu.makeOutput(shape, dtype);
    let yPtr = ptrOf(y);
    let scratch = 0;
    if (scalar && y.dtype !== 'float32') {
      const v = readF32(cpu, y)[0];
      scratch = cpu.allocScratch(4);
      cpu.heap.f32[scratch >> 2] = v;
      yPtr = scratch;
    }
    try {
      rt.run('binary', sharesFor(rt, n, ELEMENTWISE_PARALLEL_MIN), [ptrOf(x), yPtr, ptrOf(out), n, bn, op, kind]);
    } finally {
      if (scratch) cpu.freeScratch(scratch, 4);
    }
    countCall('wasm', kernel);
    return out;
  };
}

function unaryFast(kernel: string) {
  const code = UNARY_OPS[kernel];
  return ([x]: readonly TensorInfo[], attrs: { dtype: DType }, cpu: CpuBackend): TensorInfo | null => {
    const kin = floatKind(x.dtype);
    const kout = floatKind(attrs.dtype);
    if (kin < 0 || kout < 0 || (code !== 0 && kin !== kout)) return null;
    const n = sizeOf(x.shape);
    if (n === 0) return null;
    const rt = cpu.wasm();
    if (!rt) return null;
    const out = cpu.makeOutput(x.shape, attrs.dtype);
    rt.run('unary', sharesFor(rt, n, HEAVY.has(code) ? TRANSCENDENTAL_PARALLEL_MIN : ELEMENTWISE_PARALLEL_MIN), [ptrOf(x), ptrOf(out), n, code, kin, kout]);
    countCall('wasm', kernel);
    return out;
  };
}

/** SwiGlu fast path: [gate, up] of one shape, or [gateUp] whose last axis holds gate then up. */
function swigluFast(inputs: readonly TensorInfo[], _attrs: unknown, cpu: CpuBackend): TensorInfo | null {
  const g = inputs[0];
  const kind = floatKind(g.dtype);
  if (kind < 0 || inputs.some((t) => t.dtype !== g.dtype)) return null;
  const last = g.shape[g.shape.length - 1];
  const fused = inputs.length === 1;
  const cols = fused ? last / 2 : last;
  const shape = fused ? [...g.shape.slice(0, -1), cols] : g.shape;
  const n = sizeOf(shape);
  if (n === 0) return null;
  const rt = cpu.wasm();
  if (!rt) return null;
  const out = cpu.makeOutput(shape, g.dtype);
  const es = kind === 0 ? 4 : 2;
  const up = fused ? ptrOf(g) + cols * es : ptrOf(inputs[1]);
  rt.run('swiglu', sharesFor(rt, n, TRANSCENDENTAL_PARALLEL_MIN), [ptrOf(g), up, ptrOf(out), n / cols, cols, fused ? 2 * cols : cols, kind]);
  countCall('wasm', 'SwiGlu');
  return out;
}

for (const k of Object.keys(BINARY_OPS)) cpuFastPath(k, binaryFast(k));
for (const k of Object.keys(UNARY_OPS)) cpuFastPath(k, unaryFast(k));
cpuFastPath('SwiGlu', swigluFast);
