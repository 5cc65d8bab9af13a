/**
 * Helpers for the CPU kernels written in TypeScript (the reference path): reading inputs as
 * float32 or plain numbers, writing outputs in any dtype, and broadcast index maps.
 *
 * Order matters: allocate every output first, then take views. An allocation may grow the heap,
 * and with a non-shared memory that detaches earlier views.
 */

import type { KernelFunc, TensorInfo } from '../../../lib/backend.js';
import { registerKernel } from '../../../lib/backend.js';
import { isHalf, type DType } from '../../../lib/dtype.js';
import { decodeBf16, decodeF16, encodeBf16, encodeF16 } from '../../../lib/float16.js';
import { sizeOf, stridesOf, type Shape } from '../../../lib/shape.js';
import type { CpuBackend } from '../backend.js';

/** Numeric array types kernels read from and write to. */
export type NumArray = Float32Array | Float64Array | Int32Array | Int8Array | Uint8Array | Uint16Array;

/** A fast implementation of a kernel: its result, or null (having allocated nothing) when it does not apply. */
export type FastKernel = (inputs: readonly TensorInfo[], attrs: any, cpu: CpuBackend) => TensorInfo | TensorInfo[] | null;

/** Fast paths by kernel name (WebAssembly kernels), tried before the reference. */
const fastPaths: Record<string, FastKernel | undefined> = Object.create(null);

/**
 * Registers a CPU kernel's reference implementation. A fast path registered under the same name
 * with `cpuFastPath` runs first; the reference runs when it returns null (kernels set to 'js',
 * no WebAssembly, or a dtype or layout it does not handle).
 */
export function cpuKernel(kernelName: string, fn: (inputs: readonly TensorInfo[], attrs: any, cpu: CpuBackend) => TensorInfo | TensorInfo[]): void {
  const kernelFunc = (inputs: readonly TensorInfo[], attrs: any, cpu: CpuBackend): TensorInfo | TensorInfo[] => {
    const fast = fastPaths[kernelName];
    if (fast) {
      const r = fast(inputs, attrs, cpu);
      if (r) return r;
    }
    return fn(inputs, attrs, cpu);
  };
  registerKernel({ kernelName, backendName: 'cpu', kernelFunc: kernelFunc as KernelFunc });
}

/** Registers a fast path for a CPU kernel (see cpuKernel). */
export function cpuFastPath(kernelName: string, fn: FastKernel): void {
  fastPaths[kernelName] = fn;
}

/** Element kind code of a float dtype for the WebAssembly kernels: 0 float32, 1 float16, 2 bfloat16, -1 other. */
export function floatKind(dtype: DType): number {
  return dtype === 'float32' ? 0 : dtype === 'float16' ? 1 : dtype === 'bfloat16' ? 2 : -1;
}

/** Byte pointer of a CPU tensor's data in the heap. */
export function ptrOf(t: TensorInfo): number {
  return (t.dataId as unknown as { ptr: number }).ptr;
}

/** Values of `t` as float32: a live view for float32, a decoded copy for 16-bit floats, a converted copy for ints. */
export function readF32(cpu: CpuBackend, t: TensorInfo): Float32Array {
  const v = cpu.viewOf(t);
  if (t.dtype === 'float32') return v as Float32Array;
  if (t.dtype === 'float16') return decodeF16(v as Uint16Array);
  if (t.dtype === 'bfloat16') return decodeBf16(v as Uint16Array);
  return Float32Array.from(v);
}

/** Values of `t` as numbers without loss: a live view for float32 and integers, decoded for 16-bit floats. */
export function readNum(cpu: CpuBackend, t: TensorInfo): Exclude<NumArray, Uint16Array> {
  const v = cpu.viewOf(t);
  if (t.dtype === 'float16') return decodeF16(v as Uint16Array);
  if (t.dtype === 'bfloat16') return decodeBf16(v as Uint16Array);
  return v as Exclude<NumArray, Uint16Array>;
}

/**
 * Runs `fill` on a float32 buffer for output `out` and stores it with one rounding: directly into
 * the output for float32, through a temporary for other dtypes.
 */
export function writeF32(cpu: CpuBackend, out: TensorInfo, fill: (o: Float32Array) => void): void {
  if (out.dtype === 'float32') {
    fill(cpu.viewOf(out) as Float32Array);
    return;
  }
  const tmp = new Float32Array(sizeOf(out.shape));
  fill(tmp);
  storeNumbers(cpu, out, tmp);
}

/**
 * Stores numbers into an output buffer of any dtype (16-bit floats rounded to nearest even, bool
 * as x ≠ 0, so NaN is true as in PyTorch).
 */
export function storeNumbers(cpu: CpuBackend, out: TensorInfo, src: ArrayLike<number>): void {
  const v = cpu.viewOf(out);
  if (out.dtype === 'float16') encodeF16(src, v as Uint16Array);
  else if (out.dtype === 'bfloat16') encodeBf16(src, v as Uint16Array);
  else if (out.dtype === 'bool') for (let i = 0; i < src.length; i++) v[i] = src[i] !== 0 ? 1 : 0;
  else (v as Float32Array).set(src); // typed-array conversion: ints truncate toward zero and wrap
}

/** Whether values of this dtype need a float32 compute buffer. */
export function computesInF32(dtype: DType): boolean {
  return dtype === 'float32' || isHalf(dtype);
}

/**
 * For each output element (row-major over `outShape`), the flat index into a tensor of shape
 * `inShape` broadcast against it. Returns null when no mapping is needed (same shape).
 */
export function broadcastIndex(inShape: Shape, outShape: Shape): Int32Array | null {
  const n = sizeOf(outShape);
  if (inShape.length === outShape.length && inShape.every((d, i) => d === outShape[i])) return null;
  const rank = outShape.length;
  const inStr = stridesOf(inShape);
  // Stride per output axis, 0 where the input is broadcast (size 1 or missing).
  const str = new Array<number>(rank).fill(0);
  for (let i = 0; i < inShape.length; i++) {
    const o = rank - inShape.length + i;
    str[o] = inShape[i] === 1 ? 0 : inStr[i];
  }
  const idx = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    idx[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      off += str[d];
      if (counter[d] < outShape[d]) break;
      off -= str[d] * counter[d];
      counter[d] = 0;
    }
  }
  return idx;
}

/** Splits a shape at `axis` into (outer, size, inner) element counts. */
export function axisSplit(shape: Shape, axis: number): [number, number, number] {
  return [sizeOf(shape.slice(0, axis)), shape[axis], sizeOf(shape.slice(axis + 1))];
}

/** Flat offsets of each batch matrix of `t` for the broadcast batch shape `batch`. */
export function batchOffsets(t: TensorInfo, batch: Shape): Int32Array {
  const tb = t.shape.slice(0, -2);
  const mat = t.shape[t.shape.length - 2] * t.shape[t.shape.length - 1];
  const n = sizeOf(batch);
  const out = new Int32Array(n);
  const str = stridesOf(tb);
  const counter = new Array<number>(batch.length).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < tb.length; d++) {
      const bd = d + batch.length - tb.length;
      if (tb[d] !== 1) off += counter[bd] * str[d];
    }
    out[i] = off * mat;
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++counter[d] < batch[d]) break;
      counter[d] = 0;
    }
  }
  return out;
}
