/** Reductions over axes, and softmax / logSoftmax. */

import { isFloat, type DType } from '../lib/dtype.js';
import { ENGINE } from '../lib/engine.js';
import { ArgumentError, DTypeError, ShapeError } from '../lib/errors.js';
import type { ReduceKernel } from '../lib/kernel_names.js';
import { describe, normalizeAxes, normalizeAxis } from '../lib/shape.js';
import type { Tensor } from '../lib/tensor.js';
import { checkFloat, checkOptions, checkTensor } from './util.js';

/** Options of the reductions. */
export interface ReduceOptions {
  keepDims?: boolean;
}

/**
 * Normalised, sorted axes to reduce. A rank-0 tensor accepts axis 0 or −1 (as in PyTorch) and
 * reduces nothing.
 */
function reduceAxes(axis: number | readonly number[] | undefined, rank: number, op: string): number[] {
  if (rank > 0) return normalizeAxes(axis, rank, op);
  if (axis !== undefined) for (const a of typeof axis === 'number' ? [axis] : axis) rank0Axis(a, op);
  return [];
}

function rank0Axis(a: unknown, op: string): void {
  if (typeof a !== 'number' || !Number.isInteger(a)) throw new ArgumentError(`${op}: 'axis' must be an integer, got ${describe(a)}`);
  if (a !== 0 && a !== -1) throw new ShapeError(`${op}: 'axis' ${a} is out of range for a tensor of rank 0 (expected -1 or 0)`);
}

function reduce(kernel: ReduceKernel, op: string, outDType: (x: Tensor) => DType) {
  return (x: Tensor, axis?: number | readonly number[], opts: ReduceOptions = {}): Tensor => {
    checkTensor(x, op, 'x');
    if (x.dtype === 'bool' && kernel !== 'Sum') throw new DTypeError(`${op}: 'x' must be numeric, got bool`);
    if (axis !== undefined && typeof axis !== 'number' && !Array.isArray(axis)) {
      throw new ArgumentError(`${op}: 'axis' must be an integer or an array of integers, got ${describe(axis)}`);
    }
    const axes = reduceAxes(axis, x.rank, op);
    const keepDims = !!checkOptions(opts, op).keepDims;
    for (const a of axes) {
      if (x.shape[a] === 0 && kernel !== 'Sum' && kernel !== 'Mean') {
        throw new ShapeError(`${op}: cannot reduce over axis ${a} of size 0 (shape [${x.shape}])`);
      }
    }
    const shape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    return ENGINE.run(kernel, [x], { axes, keepDims, dtype: outDType(x), shape });
  };
}

/** Sum over axes (all by default). Integers and bools sum to int32; floats keep their dtype (float32 accumulation). */
export const sum = reduce('Sum', 'sum', (x) => (isFloat(x.dtype) ? x.dtype : 'int32'));
/** Mean over axes; integer inputs give float32. */
export const mean = reduce('Mean', 'mean', (x) => (isFloat(x.dtype) ? x.dtype : 'float32'));
/** Maximum over axes (NaN propagates). */
export const max = reduce('Max', 'max', (x) => x.dtype);
/** Minimum over axes (NaN propagates). */
export const min = reduce('Min', 'min', (x) => x.dtype);

/** Index (int32) of the first maximum along one axis. */
export function argmax(x: Tensor, axis = -1, opts: ReduceOptions = {}): Tensor {
  checkTensor(x, 'argmax', 'x');
  if (typeof axis !== 'number') throw new ArgumentError(`argmax: 'axis' must be an integer, got ${describe(axis)}`);
  return reduce('ArgMax', 'argmax', () => 'int32')(x, axis, opts);
}

/** Index (int32) of the first minimum along one axis. */
export function argmin(x: Tensor, axis = -1, opts: ReduceOptions = {}): Tensor {
  checkTensor(x, 'argmin', 'x');
  if (typeof axis !== 'number') throw new ArgumentError(`argmin: 'axis' must be an integer, got ${describe(axis)}`);
  return reduce('ArgMin', 'argmin', () => 'int32')(x, axis, opts);
}

/**
 * Softmax along `axis`, computed in float32 (max-subtracted), output in x's dtype. A row that is
 * entirely −∞ (fully masked) gives zeros rather than NaN.
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxLike('Softmax', 'softmax', x, axis);
}

/** log(softmax(x)) along `axis`, computed stably in float32; a row that is entirely −∞ gives −∞. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxLike('LogSoftmax', 'logSoftmax', x, axis);
}

function softmaxLike(kernel: string, op: string, x: Tensor, axis: number): Tensor {
  checkTensor(x, op, 'x');
  checkFloat(x, op, 'x');
  if (x.rank > 0) return ENGINE.run(kernel, [x], { axis: normalizeAxis(axis, x.rank, op) });
  // Rank 0: a row of one element (axis 0 or −1).
  rank0Axis(axis, op);
  const row = ENGINE.makeView(x, [1]);
  try {
    const y = ENGINE.run(kernel, [row], { axis: 0 });
    const out = ENGINE.makeView(y, []);
    y.dispose();
    return out;
  } finally {
    row.dispose();
  }
}
