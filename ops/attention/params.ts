/**
 * SDPA arguments: the options users pass, and their validation into one plain record that the
 * eligibility checks and implementations read. Every invalid input fails here, before dispatch.
 */

import { isFloat } from '../../lib/dtype.js';
import { ArgumentError, DTypeError, ShapeError } from '../../lib/errors.js';
import type { SdpaParams } from '../../lib/sdpa_checks.js';
import { broadcastShapes, broadcastsTo } from '../../lib/shape.js';
import type { Tensor } from '../../lib/tensor.js';
import { checkTensor } from '../util.js';

/** Where a causal mask's diagonal sits when L ≠ S. */
export type CausalVariant = 'upperLeft' | 'lowerRight';

/** Options of `sdpa`, mirroring PyTorch's `scaled_dot_product_attention`. */
export interface SdpaOptions {
  /** Bool mask (true = may attend) or float mask added to the scaled scores; broadcasts to (B, H, L, S). */
  attnMask?: Tensor | null;
  /** Dropout probability on the attention weights, in [0, 1). Always applied when > 0 (no training flag). */
  dropoutP?: number;
  /** Causal masking. Top-left aligned (query i sees keys j ≤ i) as in PyTorch, unless `causalVariant` says otherwise. */
  isCausal?: boolean;
  /**
   * 'upperLeft' (default, PyTorch's `is_causal`) or 'lowerRight': query i sees keys j ≤ i + S − L,
   * which is what decoding with a KV cache needs when L < S.
   */
  causalVariant?: CausalVariant;
  /** Softmax scale; default 1/√E. */
  scale?: number | null;
  /** Allow fewer key/value heads than query heads: query head h reads kv head ⌊h·Hkv/Hq⌋. */
  enableGqa?: boolean;
  /** Seed for dropout (math implementation). */
  seed?: number;
  /**
   * Attend only to the first `kvLength` key/value positions (default: all S). Lets a
   * pre-allocated KV cache be passed whole, without copying its filled prefix. Masks and causal
   * alignment refer to these positions.
   */
  kvLength?: number;
}

export type { SdpaParams };

const OP = 'sdpa';

/** Validates `sdpa` arguments (PyTorch's contract) and returns the normalised record. */
export function validateSdpa(query: Tensor, key: Tensor, value: Tensor, opts: SdpaOptions = {}, op = OP): SdpaParams {
  const q = checkTensor(query, op, 'query');
  const k = checkTensor(key, op, 'key');
  const v = checkTensor(value, op, 'value');
  if (q.dtype !== k.dtype || q.dtype !== v.dtype) {
    throw new DTypeError(`${op}: expected query, key and value to have the same dtype, got query ${q.dtype}, key ${k.dtype}, value ${v.dtype}`);
  }
  if (!isFloat(q.dtype)) throw new DTypeError(`${op}: query, key and value must be float32, float16 or bfloat16, got ${q.dtype}`);
  if (q.rank < 2 || k.rank < 2 || v.rank < 2) {
    throw new ShapeError(`${op}: expected query, key and value to be at least 2-D, got query [${q.shape}], key [${k.shape}], value [${v.shape}]`);
  }
  if (q.rank !== k.rank || q.rank !== v.rank) {
    throw new ShapeError(`${op}: query, key and value must have the same rank, got query [${q.shape}], key [${k.shape}], value [${v.shape}]`);
  }
  const r = q.rank;
  const L = q.shape[r - 2];
  const E = q.shape[r - 1];
  const SAlloc = k.shape[r - 2];
  let S = SAlloc;
  if (opts.kvLength !== undefined) {
    if (!Number.isInteger(opts.kvLength) || opts.kvLength < 0 || opts.kvLength > SAlloc) {
      throw new ArgumentError(`${op}: 'kvLength' must be an integer in [0, ${SAlloc}] (key positions), got ${opts.kvLength}`);
    }
    S = opts.kvLength;
  }
  const Ev = v.shape[r - 1];
  if (k.shape[r - 1] !== E) throw new ShapeError(`${op}: query's last dimension (E) is ${E} but key's is ${k.shape[r - 1]}; they must match`);
  if (v.shape[r - 2] !== SAlloc) throw new ShapeError(`${op}: key has ${SAlloc} positions (S) but value has ${v.shape[r - 2]}; they must match`);
  if (k.shape.slice(0, -2).some((d, i) => d !== v.shape[i])) {
    throw new ShapeError(`${op}: key [${k.shape}] and value [${v.shape}] must have the same batch and head dimensions`);
  }
  const enableGqa = !!opts.enableGqa;
  let Hq = 1;
  let Hkv = 1;
  let batch: number[] = [];
  if (r >= 3) {
    Hq = q.shape[r - 3];
    Hkv = k.shape[r - 3];
    if (enableGqa && Hq !== Hkv) {
      if (Hkv === 0 || Hq % Hkv !== 0) {
        throw new ShapeError(`${op}: with enableGqa the number of key/value heads (${Hkv}) must divide the number of query heads (${Hq})`);
      }
    } else if (Hq !== Hkv && Hkv !== 1 && Hq !== 1) {
      throw new ShapeError(`${op}: query has ${Hq} heads but key/value have ${Hkv}; pass enableGqa: true for grouped-query attention`);
    }
    batch = broadcastShapes(q.shape.slice(0, r - 3), k.shape.slice(0, r - 3), op, ['query (batch dims)', 'key (batch dims)']);
  }
  const headDims = r >= 3 ? [enableGqa ? Hq : Math.max(Hq, Hkv)] : [];
  const full = [...batch, ...headDims, L, S];
  let mask: Tensor | null = null;
  if (opts.attnMask !== undefined && opts.attnMask !== null) {
    mask = checkTensor(opts.attnMask, op, 'attnMask');
    if (mask.dtype !== 'bool' && mask.dtype !== 'float32' && mask.dtype !== q.dtype) {
      throw new DTypeError(`${op}: expected attnMask dtype to be bool, float32 or query's dtype (${q.dtype}), got ${mask.dtype}`);
    }
    if (!broadcastsTo(mask.shape, full)) throw new ShapeError(`${op}: attnMask [${mask.shape}] does not broadcast to (…, H, L, S) = [${full}]`);
    if (opts.isCausal) throw new ArgumentError(`${op}: explicit attnMask should not be set together with isCausal: true`);
  }
  const dropoutP = opts.dropoutP ?? 0;
  if (typeof dropoutP !== 'number' || !(dropoutP >= 0 && dropoutP < 1)) {
    throw new ArgumentError(`${op}: 'dropoutP' must be in [0, 1), got ${dropoutP}`);
  }
  const variant = opts.causalVariant ?? 'upperLeft';
  if (variant !== 'upperLeft' && variant !== 'lowerRight') {
    throw new ArgumentError(`${op}: 'causalVariant' must be 'upperLeft' or 'lowerRight', got ${JSON.stringify(variant)}`);
  }
  let scale = 1 / Math.sqrt(E);
  if (opts.scale !== undefined && opts.scale !== null) {
    if (typeof opts.scale !== 'number' || !Number.isFinite(opts.scale)) throw new ArgumentError(`${op}: 'scale' must be a finite number, got ${opts.scale}`);
    scale = opts.scale;
  }
  const outHeads = r >= 3 ? [Math.max(Hq, Hkv)] : [];
  return {
    q, k, v, mask, rank: r, batch, Hq, Hkv, L, S, SAlloc, E, Ev, scale, dropoutP,
    causal: opts.isCausal ? variant : 'none',
    enableGqa, dtype: q.dtype, seed: opts.seed,
    outShape: [...batch, ...outHeads, L, Ev],
  };
}
