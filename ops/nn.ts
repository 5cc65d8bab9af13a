/** Neural-network ops: normalisations, rotary embedding, gather/embedding, triangles, top-k. */

import { ENGINE } from '../lib/engine.js';
import { ArgumentError, DTypeError, ShapeError } from '../lib/errors.js';
import { broadcastsTo, describe, normalizeAxis } from '../lib/shape.js';
import type { Tensor } from '../lib/tensor.js';
import { checkDType, checkFloat, checkInt, checkNumber, checkOptions, checkTensor } from './util.js';

function checkLastDimParam(p: Tensor, x: Tensor, op: string, arg: string): void {
  checkTensor(p, op, arg);
  checkFloat(p, op, arg);
  const d = x.shape[x.rank - 1];
  if (p.rank !== 1 || p.shape[0] !== d) throw new ShapeError(`${op}: '${arg}' must have shape [${d}] (x's last axis), got [${p.shape}]`);
}

/**
 * LayerNorm over the last axis: (x − mean)/√(var + eps) · weight + bias, with the biased variance,
 * computed in float32 and rounded once to x's dtype.
 */
export function layerNorm(x: Tensor, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  checkTensor(x, op, 'x');
  checkFloat(x, op, 'x');
  if (x.rank === 0) throw new ShapeError(`${op}: 'x' must have rank ≥ 1`);
  if (weight) checkLastDimParam(weight, x, op, 'weight');
  if (bias) checkLastDimParam(bias, x, op, 'bias');
  checkNumber(eps, op, 'eps');
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return ENGINE.run('LayerNorm', inputs, { eps, hasWeight: !!weight, hasBias: !!bias });
}

/**
 * RMSNorm over the last axis, as Hugging Face's Llama computes it: in float32,
 * x·rsqrt(mean(x²) + eps), rounded to x's dtype, then multiplied by `weight` in that dtype.
 */
export function rmsNorm(x: Tensor, weight?: Tensor | null, eps = 1e-6): Tensor {
  const op = 'rmsNorm';
  checkTensor(x, op, 'x');
  checkFloat(x, op, 'x');
  if (x.rank === 0) throw new ShapeError(`${op}: 'x' must have rank ≥ 1`);
  if (weight) checkLastDimParam(weight, x, op, 'weight');
  checkNumber(eps, op, 'eps');
  return ENGINE.run('RmsNorm', weight ? [x, weight] : [x], { eps, hasWeight: !!weight });
}

/** Options of `rope`. */
export interface RopeOptions {
  /** Pair features (2i, 2i+1) as Meta's checkpoints do, instead of (i, i + R/2) (rotate-half, Hugging Face). */
  interleaved?: boolean;
}

/**
 * Rotary position embedding. `x` is (..., T, D); `cos` and `sin` are (..., T, R/2) broadcastable
 * against x's leading axes, one angle per rotated pair, R ≤ D (features past R pass through).
 * Rotate-half: x'ᵢ = xᵢ·cos − x_{i+R/2}·sin, x'_{i+R/2} = x_{i+R/2}·cos + xᵢ·sin.
 */
export function rope(x: Tensor, cos: Tensor, sin: Tensor, opts: RopeOptions = {}): Tensor {
  const op = 'rope';
  checkTensor(x, op, 'x');
  checkTensor(cos, op, 'cos');
  checkTensor(sin, op, 'sin');
  checkFloat(x, op, 'x');
  checkFloat(cos, op, 'cos');
  checkFloat(sin, op, 'sin');
  if (x.rank < 2) throw new ShapeError(`${op}: 'x' must be (..., T, D), got [${x.shape}]`);
  if (cos.rank < 1 || cos.shape.length !== sin.shape.length || cos.shape.some((d, i) => d !== sin.shape[i])) {
    throw new ShapeError(`${op}: 'cos' [${cos.shape}] and 'sin' [${sin.shape}] must have the same shape`);
  }
  const half = cos.shape[cos.rank - 1];
  const D = x.shape[x.rank - 1];
  if (2 * half > D) throw new ShapeError(`${op}: 'cos' rotates ${2 * half} features but 'x' has only ${D} (shape [${x.shape}])`);
  const lead = [...x.shape.slice(0, -1), half];
  if (!broadcastsTo(cos.shape, lead)) {
    throw new ShapeError(`${op}: 'cos' [${cos.shape}] must broadcast to x's leading axes plus the pair count, [${lead}]`);
  }
  return ENGINE.run('Rope', [x, cos, sin], { interleaved: !!checkOptions(opts, op).interleaved });
}

/** Takes slices of `x` at integer `indices` along `axis`; out shape = x[:axis] + indices + x[axis+1:]. */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  const op = 'gather';
  checkTensor(x, op, 'x');
  checkTensor(indices, op, 'indices');
  checkDType(indices, ['int32', 'int8', 'uint8'], op, 'indices');
  if (x.rank === 0) throw new ShapeError(`${op}: 'x' must have rank ≥ 1, got a scalar`);
  const ax = normalizeAxis(axis, x.rank, op);
  const shape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  return ENGINE.run('Gather', [x, indices], { axis: ax, shape });
}

/** Embedding lookup: rows of `table` [vocab, D] at int32 `ids` (any shape) → ids.shape + [D]. Out-of-range ids throw. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  const op = 'embedding';
  checkTensor(table, op, 'table');
  checkTensor(ids, op, 'ids');
  if (table.rank !== 2) throw new ShapeError(`${op}: 'table' must be [vocab, dim], got [${table.shape}]`);
  checkDType(ids, ['int32', 'int8', 'uint8'], op, 'ids');
  try {
    return gather(table, ids, 0);
  } catch (e) {
    // The kernel checks the ids (only it sees the data); say which op the user called.
    if (e instanceof ArgumentError && e.message.startsWith('gather: ')) throw new ArgumentError(`${op}: 'ids' ${e.message.slice(8)}`);
    throw e;
  }
}

/** Keeps the lower triangle of the last two axes (j ≤ i + k), zeroing the rest. */
export function tril(x: Tensor, k = 0): Tensor {
  return triangle(x, k, false, 'tril');
}

/** Keeps the upper triangle of the last two axes (j ≥ i + k), zeroing the rest. */
export function triu(x: Tensor, k = 0): Tensor {
  return triangle(x, k, true, 'triu');
}

function triangle(x: Tensor, k: number, upper: boolean, op: string): Tensor {
  checkTensor(x, op, 'x');
  checkInt(k, op, 'k');
  if (x.rank < 2) throw new ShapeError(`${op}: 'x' must have rank ≥ 2, got [${x.shape}]`);
  return ENGINE.run('Triangle', [x], { k, upper });
}

/** Options of `topk`. */
export interface TopKOptions {
  /** Largest (default) or smallest values. */
  largest?: boolean;
}

/** The k largest (or smallest) values along the last axis, sorted, with their int32 indices (ties: lower index first). */
export function topk(x: Tensor, k: number, opts: TopKOptions = {}): { values: Tensor; indices: Tensor } {
  const op = 'topk';
  checkTensor(x, op, 'x');
  if (x.rank === 0) throw new ShapeError(`${op}: 'x' must have rank ≥ 1`);
  if (x.dtype === 'bool') throw new DTypeError(`${op}: 'x' must be numeric, got bool`);
  const n = x.shape[x.rank - 1];
  checkInt(k, op, 'k', 0);
  if (k > n) throw new ArgumentError(`${op}: 'k' = ${k} exceeds the last axis size ${n} (shape [${x.shape}])`);
  const [values, indices] = ENGINE.runKernel('TopK', [x], { k, largest: checkOptions(opts, op).largest ?? true }) as Tensor[];
  return { values, indices };
}

/**
 * Writes `src` into `dst` at offsets `begin` IN PLACE and returns `dst`. The one mutating op: for
 * pre-allocated caches. Shapes must fit; dtypes must match.
 */
export function writeSlice(dst: Tensor, src: Tensor, begin: readonly number[]): Tensor {
  const op = 'writeSlice';
  checkTensor(dst, op, 'dst');
  checkTensor(src, op, 'src');
  if (src.dtype !== dst.dtype) throw new DTypeError(`${op}: 'src' is ${src.dtype} but 'dst' is ${dst.dtype}`);
  if (src.rank !== dst.rank || !Array.isArray(begin) || begin.length !== dst.rank) {
    throw new ShapeError(`${op}: 'src' [${src.shape}], 'dst' [${dst.shape}] and 'begin' ${describe(begin)} must all have rank ${dst.rank}`);
  }
  begin.forEach((b, i) => {
    checkInt(b, op, `begin[${i}]`, 0);
    if (b + src.shape[i] > dst.shape[i]) {
      throw new ShapeError(`${op}: 'src' [${src.shape}] at begin [${begin}] does not fit in 'dst' [${dst.shape}] (axis ${i})`);
    }
  });
  ENGINE.runKernel('WriteSlice', [dst, src], { begin: begin.slice() });
  return dst;
}
