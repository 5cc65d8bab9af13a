/** Reductions over axes, and softmax / logSoftmax. */

import { isFloat, type DType } from '../lib/dtype.js';
import { ENGINE } from '../lib/engine.js';
import { DTypeError, ShapeError } from '../lib/errors.js';
import type { ReduceKernel } from '../lib/kernel_names.js';
import { normalizeAxes, normalizeAxis } from '../lib/shape.js';
import type { Tensor } from '../lib/tensor.js';
import { checkFloat, checkTensor } from './util.js';

/** Options of the reductions. */
export interface ReduceOptions {
  keepDims?: boolean;
}

function reduce(kernel: ReduceKernel, op: string, outDType: (x: Tensor) => DType) {
  return (x: Tensor, axis?: number | readonly number[], opts: ReduceOptions = {}): Tensor => {
    checkTensor(x, op, 'x');
    if (x.dtype === 'bool' && kernel !== 'Sum') throw new DTypeError(`${op}: 'x' must be numeric, got bool`);
    const axes = normalizeAxes(axis, x.rank, op);
    const keepDims = !!opts.keepDims;
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
  return reduce('ArgMax', 'argmax', () => 'int32')(x, normalizeAxis(axis, x.rank, 'argmax'), opts);
}

/** Index (int32) of the first minimum along one axis. */
export function argmin(x: Tensor, axis = -1, opts: ReduceOptions = {}): Tensor {
  checkTensor(x, 'argmin', 'x');
  return reduce('ArgMin', 'argmin', () => 'int32')(x, normalizeAxis(axis, x.rank, 'argmin'), opts);
}

/** Softmax along `axis`, computed in float32 (max-subtracted), output in x's dtype. */
export function softmax(x: Tensor, axis = -1): Tensor {
  checkTensor(x, 'softmax', 'x');
  checkFloat(x, 'softmax', 'x');
  return ENGINE.run('Softmax', [x], { axis: normalizeAxis(axis, x.rank, 'softmax') });
}

/** log(softmax(x)) along `axis`, computed stably in float32. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  checkTensor(x, 'logSoftmax', 'x');
  checkFloat(x, 'logSoftmax', 'x');
  return ENGINE.run('LogSoftmax', [x], { axis: normalizeAxis(axis, x.rank, 'logSoftmax') });
}
