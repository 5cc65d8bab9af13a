/**
 * LLM.int8 (docs/quantization.md §1): row-wise int8 weights, per-token int8 activations with
 * outlier columns kept in 16 bits, and the decomposed matmul
 * `Y = f16(S · (CA·CBᵀ)) + X[:, O] · W[:, O]ᵀ`.
 */

import { hasKernel } from '../../lib/backend.js';
import { isFloat, type DType } from '../../lib/dtype.js';
import { ENGINE } from '../../lib/engine.js';
import { ArgumentError, DTypeError, ShapeError } from '../../lib/errors.js';
import { sizeOf } from '../../lib/shape.js';
import type { Tensor } from '../../lib/tensor.js';
import { add } from '../elementwise.js';
import { matmul } from '../linalg.js';
import { gather } from '../nn.js';
import { checkFloat, checkNumber, checkTensor } from '../util.js';

/** An LLM.int8 weight: `weight` = CB int8 [N, K], `scb` = float32 [N] row absmax. */
export interface Int8State {
  weight: Tensor;
  scb: Tensor;
}

/**
 * Row-wise int8 quantization of W [N, K] (bitsandbytes' `int8_vectorwise_quant` of the float16
 * weight): SCB[n] = max|W[n,:]|, CB = rne(W · f32(127 · f32(1/SCB[n]))) (bitsandbytes' scale) in [-127, 127]; zero rows give 0.
 */
export function quantizeInt8Rowwise(w: Tensor): Int8State {
  const op = 'quantizeInt8Rowwise';
  checkTensor(w, op, 'w');
  checkFloat(w, op, 'w');
  if (w.rank !== 2) throw new ShapeError(`${op}: 'w' must be 2-D [out, in], got shape [${w.shape}]`);
  const [weight, scb] = ENGINE.runKernel('QuantizeInt8Rowwise', [w]) as Tensor[];
  return { weight, scb };
}

/** Options of `dequantizeInt8`. */
export interface DequantizeInt8Options {
  /** Result dtype (default float32). */
  dtype?: DType;
  /** int32 [m] column indices to dequantize (default: all K columns). */
  cols?: Tensor;
  /** 16-bit copies of some columns: int32 [s] indices and [N, s] values, used instead of the int8 codes. */
  storedCols?: Tensor;
  stored?: Tensor;
}

/** W' = CB · SCB / 127 (float32 math, then cast), for all columns or the listed ones. */
export function dequantizeInt8(state: Int8State, opts: DequantizeInt8Options = {}): Tensor {
  const op = 'dequantizeInt8';
  checkInt8State(state, op);
  const dtype = opts.dtype ?? 'float32';
  if (!isFloat(dtype)) throw new DTypeError(`${op}: 'dtype' must be a float dtype, got ${dtype}`);
  const N = state.weight.shape[0];
  const inputs = [state.weight, state.scb];
  const hasCols = !!opts.cols;
  if (opts.cols) {
    checkTensor(opts.cols, op, 'cols');
    if (opts.cols.dtype !== 'int32' || opts.cols.rank !== 1) throw new DTypeError(`${op}: 'cols' must be int32 [m], got ${opts.cols.dtype} [${opts.cols.shape}]`);
    inputs.push(opts.cols);
  }
  const hasStored = !!opts.stored;
  if (opts.stored || opts.storedCols) {
    if (!hasCols) throw new ArgumentError(`${op}: 'stored' copies need 'cols'`);
    const sc = checkTensor(opts.storedCols, op, 'storedCols');
    const s = checkTensor(opts.stored, op, 'stored');
    if (sc.dtype !== 'int32' || sc.rank !== 1 || s.rank !== 2 || s.shape[0] !== N || s.shape[1] !== sc.shape[0] || !isFloat(s.dtype)) {
      throw new ShapeError(`${op}: 'storedCols' must be int32 [s] and 'stored' float [${N}, s], got ${sc.dtype} [${sc.shape}] and ${s.dtype} [${s.shape}]`);
    }
    inputs.push(sc, s);
  }
  return ENGINE.run('DequantizeInt8', inputs, { dtype, hasCols, hasStored });
}

/** Activation quantization result: CA int8 [T, K], SCA float32 [T], sorted outlier columns int32 [m]. */
export interface Int8Activations {
  ca: Tensor;
  sca: Tensor;
  outlierCols: Tensor;
}

/**
 * Quantizes activations x [T, K] per row (token) after a float16 cast. With threshold > 0, columns
 * holding any |x| ≥ threshold are outlier columns: zeroed in CA and left out of the row absmax.
 */
export function int8VectorQuant(x: Tensor, threshold = 0): Int8Activations {
  const op = 'int8VectorQuant';
  checkTensor(x, op, 'x');
  checkFloat(x, op, 'x');
  if (x.rank !== 2) throw new ShapeError(`${op}: 'x' must be 2-D [T, K], got shape [${x.shape}]`);
  checkThreshold(threshold, op);
  const [ca, sca, outlierCols] = ENGINE.runKernel('Int8VectorQuant', [x], { threshold }) as Tensor[];
  return { ca, sca, outlierCols };
}

/**
 * The int8 part of LLM.int8: int32 acc = CA·CBᵀ, then f16(fma(f32(acc)·SCA·SCB, 1/16129, bias)).
 * Returns float16 [T, N].
 */
export function int8MatMul(act: Pick<Int8Activations, 'ca' | 'sca'>, state: Int8State, bias?: Tensor | null): Tensor {
  const op = 'int8MatMul';
  checkInt8State(state, op);
  checkTensor(act.ca, op, 'ca');
  checkTensor(act.sca, op, 'sca');
  const [N, K] = state.weight.shape;
  if (act.ca.dtype !== 'int8' || act.ca.rank !== 2 || act.ca.shape[1] !== K) {
    throw new ShapeError(`${op}: 'ca' must be int8 [T, ${K}], got ${act.ca.dtype} [${act.ca.shape}]`);
  }
  if (act.sca.dtype !== 'float32' || act.sca.size !== act.ca.shape[0]) {
    throw new ShapeError(`${op}: 'sca' must be float32 [${act.ca.shape[0]}], got ${act.sca.dtype} [${act.sca.shape}]`);
  }
  const inputs = [act.ca, state.weight, act.sca, state.scb];
  if (bias) {
    checkTensor(bias, op, 'bias');
    if (bias.rank !== 1 || bias.shape[0] !== N) throw new ShapeError(`${op}: 'bias' must be [${N}], got [${bias.shape}]`);
    inputs.push(bias);
  }
  return ENGINE.run('Int8MatMul', inputs, { hasBias: !!bias });
}

/** Options of `int8Linear`. */
export interface Int8LinearOptions {
  /** Outlier threshold on |x| (default 6.0); 0 turns the decomposition off. */
  threshold?: number;
  bias?: Tensor | null;
  /** Sorted int32 [s] columns with 16-bit weight copies in `outlierWeight` [N, s]. */
  outlierCols?: Tensor | null;
  outlierWeight?: Tensor | null;
  /** Called with the outlier columns found in this call (int32 [m]; do not keep it: it is disposed). */
  onOutliers?: (cols: Tensor) => void;
}

/**
 * LLM.int8 forward, x (…, K) · Wᵀ (+ bias) → (…, N) in x's dtype: the int8 × int8 product over the
 * regular columns plus a 16-bit product `X[:, O] · W[:, O]ᵀ` over the outlier columns O, where
 * W[:, O] is the stored 16-bit copy of a column when there is one, else its int8 dequantization.
 */
export function int8Linear(x: Tensor, state: Int8State, opts: Int8LinearOptions = {}): Tensor {
  const op = 'int8Linear';
  checkTensor(x, op, 'x');
  checkFloat(x, op, 'x');
  checkInt8State(state, op);
  const [N, K] = state.weight.shape;
  if (x.rank < 1 || x.shape[x.rank - 1] !== K) {
    throw new ShapeError(`${op}: 'x' must have ${K} features in its last axis (weight [${state.weight.shape}]), got shape [${x.shape}]`);
  }
  const threshold = opts.threshold ?? 6.0;
  checkThreshold(threshold, op);
  const lead = x.shape.slice(0, -1);
  const x2 = ENGINE.makeView(x, [sizeOf(lead), K]);
  const temps: Tensor[] = [x2];
  try {
    // Backends that cannot size the outlier columns on the host (GPUs) run the whole layer as one
    // fused kernel; `onOutliers` needs the columns themselves, so it takes the decomposed path.
    if (hasKernel('Int8Linear', x.backendName) && !opts.onOutliers) {
      const stored = !!(opts.outlierCols && opts.outlierWeight && opts.outlierCols.size > 0);
      if (opts.bias) {
        checkTensor(opts.bias, op, 'bias');
        if (opts.bias.rank !== 1 || opts.bias.shape[0] !== N) throw new ShapeError(`${op}: 'bias' must be [${N}], got [${opts.bias.shape}]`);
      }
      const inputs = [x2, state.weight, state.scb, ...(opts.bias ? [opts.bias] : []), ...(stored ? [opts.outlierCols!, opts.outlierWeight!] : [])];
      const y = ENGINE.run('Int8Linear', inputs, { threshold, hasBias: !!opts.bias, hasStored: stored });
      temps.push(y);
      return ENGINE.makeView(y, [...lead, N]);
    }
    const act = int8VectorQuant(x2, threshold);
    temps.push(act.ca, act.sca, act.outlierCols);
    if (opts.onOutliers) opts.onOutliers(act.outlierCols);
    const yi = int8MatMul(act, state, opts.bias);
    temps.push(yi);
    let y = yi.dtype === x.dtype ? yi : ENGINE.run('Cast', [yi], { dtype: x.dtype });
    if (y !== yi) temps.push(y);
    if (act.outlierCols.size > 0) {
      const xo = gather(x2, act.outlierCols, 1); // original values and dtype
      temps.push(xo);
      const stored = opts.outlierCols && opts.outlierWeight && opts.outlierCols.size > 0;
      const wo = dequantizeInt8(state, {
        dtype: x.dtype,
        cols: act.outlierCols,
        ...(stored ? { storedCols: opts.outlierCols!, stored: opts.outlierWeight! } : {}),
      });
      temps.push(wo);
      const yo = matmul(xo, wo, { transposeB: true });
      temps.push(yo);
      y = add(y, yo);
      temps.push(y);
    }
    const out = ENGINE.makeView(y, [...lead, N]);
    return out;
  } finally {
    for (const t of temps) t.dispose();
  }
}

/** Frees the tensors of an int8 state. */
export function disposeInt8State(state: Int8State): void {
  state.weight.dispose();
  state.scb.dispose();
}

function checkThreshold(threshold: unknown, op: string): void {
  checkNumber(threshold, op, 'threshold');
  if ((threshold as number) < 0) throw new ArgumentError(`${op}: 'threshold' must be ≥ 0, got ${threshold}`);
}

/** Validates an int8 state: CB int8 [N, K], SCB float32 [N]. */
export function checkInt8State(state: Int8State, op: string): void {
  if (!state || typeof state !== 'object') throw new ArgumentError(`${op}: 'state' must be { weight, scb }, got ${String(state)}`);
  checkTensor(state.weight, op, 'state.weight');
  checkTensor(state.scb, op, 'state.scb');
  if (state.weight.dtype !== 'int8' || state.weight.rank !== 2) {
    throw new DTypeError(`${op}: 'state.weight' must be int8 [N, K], got ${state.weight.dtype} [${state.weight.shape}]`);
  }
  if (state.scb.dtype !== 'float32' || state.scb.rank !== 1 || state.scb.shape[0] !== state.weight.shape[0]) {
    throw new ShapeError(`${op}: 'state.scb' must be float32 [${state.weight.shape[0]}], got ${state.scb.dtype} [${state.scb.shape}]`);
  }
}
