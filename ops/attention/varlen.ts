/**
 * Variable-length (unpadded) attention, as flash-attn's `flash_attn_varlen_func`: sequences of a
 * batch are packed one after another into (totalTokens, H, E) and described by cumulative
 * lengths, so padding costs no work. `unpadInput` / `padInput` convert from and to padded batches.
 */

import { ENGINE } from '../../lib/engine.js';
import { ArgumentError, DTypeError, ShapeError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import { fromStorage } from '../creation.js';
import { gather } from '../nn.js';
import { reshape } from '../shape_ops.js';
import { checkFloat, checkInt, checkTensor } from '../util.js';

/** Cumulative sequence lengths: a tensor or plain numbers [0, len0, len0+len1, …]. */
export type CuSeqlens = Tensor | Int32Array | readonly number[];

/** Options of `flashAttnVarlen`. */
export interface VarlenOptions {
  /** Causal within each sequence, bottom-right aligned per sequence (flash-attn ≥ 2.1). */
  isCausal?: boolean;
  /** Softmax scale; default 1/√E. */
  scale?: number | null;
}

function hostInts(x: CuSeqlens, op: string, arg: string): Int32Array {
  if (x instanceof Tensor) {
    checkTensor(x, op, arg);
    if (x.dtype !== 'int32') throw new DTypeError(`${op}: '${arg}' must be int32, got ${x.dtype}`);
    if (x.rank !== 1) throw new ShapeError(`${op}: '${arg}' must be 1-D, got [${x.shape}]`);
    return x.dataSync() as Int32Array;
  }
  const a = Int32Array.from(x as ArrayLike<number>);
  a.forEach((v, i) => {
    if (v !== (x as ArrayLike<number>)[i]) throw new ArgumentError(`${op}: '${arg}'[${i}] must be an int32, got ${(x as ArrayLike<number>)[i]}`);
  });
  return a;
}

function checkCu(cu: Int32Array, total: number, op: string, arg: string): number {
  if (cu.length < 2) throw new ShapeError(`${op}: '${arg}' must have batch + 1 ≥ 2 entries, got ${cu.length}`);
  if (cu[0] !== 0) throw new ArgumentError(`${op}: '${arg}'[0] must be 0, got ${cu[0]}`);
  let maxLen = 0;
  for (let i = 1; i < cu.length; i++) {
    if (cu[i] < cu[i - 1]) throw new ArgumentError(`${op}: '${arg}' must be non-decreasing, but entry ${i} (${cu[i]}) < entry ${i - 1} (${cu[i - 1]})`);
    maxLen = Math.max(maxLen, cu[i] - cu[i - 1]);
  }
  if (cu[cu.length - 1] !== total) {
    throw new ArgumentError(`${op}: the last entry of '${arg}' (${cu[cu.length - 1]}) must equal the total number of tokens (${total})`);
  }
  return maxLen;
}

/**
 * Attention over packed sequences: q (totalQ, H, E), k (totalK, Hkv, E), v (totalK, Hkv, Ev);
 * sequence b owns query rows [cuQ[b], cuQ[b+1]) and key rows [cuK[b], cuK[b+1]). Returns
 * (totalQ, H, Ev). GQA when Hkv divides H. Sequences never attend across boundaries.
 */
export function flashAttnVarlen(
  q: Tensor, k: Tensor, v: Tensor, cuSeqlensQ: CuSeqlens, cuSeqlensK: CuSeqlens,
  maxSeqlenQ: number, maxSeqlenK: number, opts: VarlenOptions = {},
): Tensor {
  const op = 'flashAttnVarlen';
  checkTensor(q, op, 'q');
  checkTensor(k, op, 'k');
  checkTensor(v, op, 'v');
  checkFloat(q, op, 'q');
  if (k.dtype !== q.dtype || v.dtype !== q.dtype) throw new DTypeError(`${op}: q, k and v must share a dtype, got ${q.dtype}, ${k.dtype}, ${v.dtype}`);
  if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3) {
    throw new ShapeError(`${op}: q, k and v must be (totalTokens, heads, headDim), got [${q.shape}], [${k.shape}], [${v.shape}]`);
  }
  const [, H, E] = q.shape;
  const [totalK, Hkv] = k.shape;
  if (k.shape[2] !== E) throw new ShapeError(`${op}: q's head dim ${E} differs from k's ${k.shape[2]}`);
  if (v.shape[0] !== totalK || v.shape[1] !== Hkv) throw new ShapeError(`${op}: v [${v.shape}] must match k [${k.shape}] in tokens and heads`);
  if (Hkv === 0 || H % Hkv !== 0) throw new ShapeError(`${op}: key/value heads (${Hkv}) must divide query heads (${H})`);
  checkInt(maxSeqlenQ, op, 'maxSeqlenQ', 0);
  checkInt(maxSeqlenK, op, 'maxSeqlenK', 0);
  const cuQ = hostInts(cuSeqlensQ, op, 'cuSeqlensQ');
  const cuK = hostInts(cuSeqlensK, op, 'cuSeqlensK');
  if (cuQ.length !== cuK.length) throw new ShapeError(`${op}: cuSeqlensQ has ${cuQ.length} entries but cuSeqlensK has ${cuK.length}; both are batch + 1`);
  const mq = checkCu(cuQ, q.shape[0], op, 'cuSeqlensQ');
  const mk = checkCu(cuK, totalK, op, 'cuSeqlensK');
  if (mq > maxSeqlenQ) throw new ArgumentError(`${op}: a query sequence has ${mq} tokens, more than maxSeqlenQ = ${maxSeqlenQ}`);
  if (mk > maxSeqlenK) throw new ArgumentError(`${op}: a key sequence has ${mk} tokens, more than maxSeqlenK = ${maxSeqlenK}`);
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  const backend = ENGINE.backendOf(q);
  const [tq, tk] = ENGINE.withBackend(backend, () => [fromStorage(cuQ.slice(), [cuQ.length], 'int32'), fromStorage(cuK.slice(), [cuK.length], 'int32')]);
  try {
    return ENGINE.run('FlashAttnVarlen', [q, k, v, tq, tk], { scale, causal: !!opts.isCausal, maxSeqlenQ, maxSeqlenK });
  } finally {
    tq.dispose();
    tk.dispose();
  }
}

/** What `unpadInput` returns. */
export interface Unpadded {
  /** (nnz, …): the real tokens, in batch-major order. */
  hidden: Tensor;
  /** Flat positions (b·S + s) of the real tokens in the padded batch, int32 (nnz). */
  indices: Tensor;
  /** [0, len0, len0+len1, …] as int32 (B + 1). */
  cuSeqlens: Tensor;
  maxSeqlen: number;
  seqlens: number[];
}

/**
 * Removes padding: hidden (B, S, …) and a (B, S) attention mask (1/true = real token, any
 * left/right pattern) → packed real tokens plus what `flashAttnVarlen` and `padInput` need.
 */
export function unpadInput(hidden: Tensor, attentionMask: Tensor | readonly (readonly number[])[]): Unpadded {
  const op = 'unpadInput';
  checkTensor(hidden, op, 'hidden');
  if (hidden.rank < 2) throw new ShapeError(`${op}: 'hidden' must be (B, S, …), got [${hidden.shape}]`);
  const [B, S] = hidden.shape;
  let m: ArrayLike<number>;
  if (attentionMask instanceof Tensor) {
    checkTensor(attentionMask, op, 'attentionMask');
    if (attentionMask.rank !== 2 || attentionMask.shape[0] !== B || attentionMask.shape[1] !== S) {
      throw new ShapeError(`${op}: 'attentionMask' must be [${B}, ${S}] like hidden's first two axes, got [${attentionMask.shape}]`);
    }
    m = attentionMask.dataSync();
  } else {
    if (attentionMask.length !== B || attentionMask.some((r) => r.length !== S)) {
      throw new ShapeError(`${op}: 'attentionMask' must be ${B} rows of ${S}`);
    }
    m = attentionMask.flat();
  }
  const idx: number[] = [];
  const seqlens: number[] = [];
  const cu = [0];
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let s = 0; s < S; s++) {
      if (m[b * S + s]) {
        idx.push(b * S + s);
        n++;
      }
    }
    seqlens.push(n);
    cu.push(cu[b] + n);
  }
  return ENGINE.withBackend(ENGINE.backendOf(hidden), () => {
    const indices = fromStorage(Int32Array.from(idx), [idx.length], 'int32');
    const flat = reshape(hidden, [B * S, ...hidden.shape.slice(2)]);
    const packed = gather(flat, indices, 0);
    flat.dispose();
    return { hidden: packed, indices, cuSeqlens: fromStorage(Int32Array.from(cu), [B + 1], 'int32'), maxSeqlen: Math.max(0, ...seqlens), seqlens };
  });
}

/** Inverse of `unpadInput`: packed (nnz, …) back to (B, S, …), zeros at padding. */
export function padInput(hidden: Tensor, indices: Tensor, batch: number, seqlen: number): Tensor {
  const op = 'padInput';
  checkTensor(hidden, op, 'hidden');
  checkTensor(indices, op, 'indices');
  if (indices.dtype !== 'int32' || indices.rank !== 1 || indices.shape[0] !== hidden.shape[0]) {
    throw new ShapeError(`${op}: 'indices' must be int32 [${hidden.shape[0]}] (one per packed row), got ${indices.dtype} [${indices.shape}]`);
  }
  checkInt(batch, op, 'batch', 0);
  checkInt(seqlen, op, 'seqlen', 0);
  const out = ENGINE.run('ScatterRows', [hidden, indices], { rows: batch * seqlen });
  const shaped = reshape(out, [batch, seqlen, ...hidden.shape.slice(1)]);
  out.dispose();
  return shaped;
}
