/** Matrix multiplication and the linear layer's product. */

import { isFloat, promoteTypes } from '../lib/dtype.js';
import { ENGINE } from '../lib/engine.js';
import { DTypeError, ShapeError } from '../lib/errors.js';
import { broadcastShapes } from '../lib/shape.js';
import type { Tensor } from '../lib/tensor.js';
import { add } from './elementwise.js';
import { checkOptions, checkTensor } from './util.js';

/** Options of `matmul`. */
export interface MatMulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

/**
 * Batched matrix product of the last two axes; leading (batch) axes broadcast. Rank-1 operands
 * are treated as a row (a) or column (b) vector and that axis is dropped from the result, as in
 * NumPy; a transpose flag on a rank-1 operand changes nothing. Float16/bfloat16 inputs accumulate in float32 and round once.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatMulOptions = {}): Tensor {
  const op = 'matmul';
  checkTensor(a, op, 'a');
  checkTensor(b, op, 'b');
  if (a.rank === 0 || b.rank === 0) throw new ShapeError(`${op}: operands must have rank ≥ 1, got [${a.shape}] and [${b.shape}]`);
  for (const [t, n] of [[a, 'a'], [b, 'b']] as const) {
    if (!isFloat(t.dtype) && t.dtype !== 'int32') throw new DTypeError(`${op}: '${n}' must be a float or int32 tensor, got ${t.dtype}`);
  }
  const o = checkOptions(opts, op);
  const ta = !!o.transposeA;
  const tb = !!o.transposeB;
  // A vector is its own transpose: lay it out so that op(a2) is a row and op(b2) a column.
  const a2 = a.rank === 1 ? ENGINE.makeView(a, ta ? [a.shape[0], 1] : [1, a.shape[0]]) : a;
  const b2 = b.rank === 1 ? ENGINE.makeView(b, tb ? [1, b.shape[0]] : [b.shape[0], 1]) : b;
  try {
    const [m, ka] = ta ? [a2.shape[a2.rank - 1], a2.shape[a2.rank - 2]] : [a2.shape[a2.rank - 2], a2.shape[a2.rank - 1]];
    const [kb, n] = tb ? [b2.shape[b2.rank - 1], b2.shape[b2.rank - 2]] : [b2.shape[b2.rank - 2], b2.shape[b2.rank - 1]];
    if (ka !== kb) {
      throw new ShapeError(
        `${op}: inner dimensions differ: 'a' [${a.shape}]${ta ? ' (transposed)' : ''} has ${ka} columns, 'b' [${b.shape}]${tb ? ' (transposed)' : ''} has ${kb} rows`,
      );
    }
    const batch = broadcastShapes(a2.shape.slice(0, -2), b2.shape.slice(0, -2), op, ['a (batch axes)', 'b (batch axes)']);
    const shape = [...batch, m, n];
    const dtype = promoteTypes(a.dtype, b.dtype);
    const out = ENGINE.run('MatMul', [a2, b2], { transposeA: ta, transposeB: tb, dtype, shape });
    if (a.rank === 1 || b.rank === 1) {
      const s = [...batch, ...(a.rank === 1 ? [] : [m]), ...(b.rank === 1 ? [] : [n])];
      const v = ENGINE.makeView(out, s);
      out.dispose();
      return v;
    }
    return out;
  } finally {
    if (a2 !== a) a2.dispose();
    if (b2 !== b) b2.dispose();
  }
}

/** x · weightᵀ (+ bias): PyTorch's Linear with weight [out, in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  checkTensor(x, 'linear', 'x');
  checkTensor(weight, 'linear', 'weight');
  if (weight.rank !== 2) throw new ShapeError(`linear: 'weight' must be [out, in], got [${weight.shape}]`);
  if (x.shape[x.rank - 1] !== weight.shape[1]) {
    throw new ShapeError(`linear: 'x' has ${x.shape[x.rank - 1]} features (shape [${x.shape}]) but 'weight' [${weight.shape}] expects ${weight.shape[1]}`);
  }
  if (bias !== undefined && bias !== null) {
    checkTensor(bias, 'linear', 'bias');
    if (bias.rank !== 1 || bias.shape[0] !== weight.shape[0]) {
      throw new ShapeError(`linear: 'bias' must be [${weight.shape[0]}], got [${bias.shape}]`);
    }
  }
  const y = matmul(x, weight, { transposeB: true });
  if (!bias) return y;
  try {
    return add(y, bias);
  } finally {
    y.dispose();
  }
}
