/** Helpers shared by the WebGPU kernels: registration, strides and dimension collapsing, casts. */

import type { KernelFunc, TensorInfo } from '../../../lib/backend.js';
import { registerKernel } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../../../lib/shape.js';
import type { WebGPUBackend } from '../backend.js';

/** Registers a WebGPU kernel. */
export function gpuKernel(
  kernelName: string,
  fn: (inputs: readonly TensorInfo[], attrs: any, gpu: WebGPUBackend) => TensorInfo | TensorInfo[],
): void {
  registerKernel({ kernelName, backendName: 'webgpu', kernelFunc: fn as KernelFunc });
}

/** Strides of `inShape` broadcast against `outShape`, one per output axis (0 on broadcast axes). */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const str = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return outShape.map((_, i) => (i < off || inShape[i - off] === 1 ? 0 : str[i - off]));
}

/**
 * Merges adjacent axes that every operand walks contiguously, and drops size-1 axes, so kernels
 * see the smallest rank. `strides[k]` are operand k's strides over `shape`; returns the collapsed
 * shape and strides (rank ≥ 1).
 */
export function collapse(shape: Shape, strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const str: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => str[k][last] === s[d] * shape[d])) {
      dims[last] *= shape[d];
      strides.forEach((s, k) => (str[k][last] = s[d]));
    } else {
      dims.push(shape[d]);
      strides.forEach((s, k) => str[k].push(s[d]));
    }
  }
  if (!dims.length) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: dims, strides: str };
}

/** How an operand is indexed from the flat output index. */
export type Layout = 'same' | 'scalar' | 'strided';

/** Classifies collapsed strides against the contiguous strides of the collapsed output shape. */
export function layoutOf(shape: Shape, strides: readonly number[], size: number): Layout {
  if (size === 1 || strides.every((s) => s === 0)) return 'scalar';
  const c = stridesOf(shape);
  return strides.every((s, i) => s === c[i]) ? 'same' : 'strided';
}

/**
 * WGSL statements computing `off<k>` for each strided operand from the flat index `o`, walking
 * axes innermost first; uniforms `u_shape(d)` and `u_str<k>(d)`.
 */
export function offsetCode(rank: number, operands: readonly number[], o = 'o'): string {
  if (!operands.length) return '';
  const lines = [`var rem = ${o};`, ...operands.map((k) => `var off${k} = 0u;`)];
  for (let d = rank - 1; d >= 0; d--) {
    if (d === 0) lines.push('let c0 = rem;');
    else lines.push(`let c${d} = rem % u_shape(${d}u); rem = rem / u_shape(${d}u);`);
    for (const k of operands) lines.push(`off${k} += c${d} * u_str${k}(${d}u);`);
  }
  return lines.join('\n    ');
}

/** Number of elements. */
export function numel(t: TensorInfo): number {
  return sizeOf(t.shape);
}

/** True when a kernel must write `dtype` through a float32 temporary because rows of `rowLen` elements are not word-aligned. */
export function needsWide(dtype: DType, rowLen: number): boolean {
  const k = dtype === 'float16' || dtype === 'bfloat16' ? 2 : dtype === 'int8' || dtype === 'uint8' || dtype === 'bool' ? 4 : 1;
  return k > 1 && rowLen % k !== 0;
}
