/**
 * The attention step every model shares, with Hugging Face's three implementations:
 *  - 'eager': the formula from ops (scores, additive finfo.min mask, float32 softmax, · v); the
 *    only one that can return attention weights;
 *  - 'sdpa': the `sdpa` dispatcher, so `sdpaKernel` scopes pick the kernel; causal without
 *    padding is passed as `isCausal` + `causalVariant: 'lowerRight'` (no mask tensor);
 *  - 'flash_attention_2': flash attention called directly, and for padded batches the varlen
 *    path (unpad → flashAttnVarlen → pad) so padding costs no attention work.
 */

import { ArgumentError } from '../../lib/errors.js';
import type { Tensor } from '../../lib/tensor.js';
import { add, cast, mul } from '../../ops/elementwise.js';
import { matmul } from '../../ops/linalg.js';
import { softmax } from '../../ops/reduce.js';
import { repeatInterleave, slice, transpose } from '../../ops/shape_ops.js';
import { flashAttention, sdpa } from '../../ops/attention/sdpa.js';
import { flashAttnVarlen, padInput, unpadInput } from '../../ops/attention/varlen.js';
import type { AttentionMask } from './masks.js';

/** Attention implementations, named as in Hugging Face's `attn_implementation`. */
export type AttnImplementation = 'eager' | 'sdpa' | 'flash_attention_2';

/** Every implementation name. */
export const ATTN_IMPLEMENTATIONS: readonly AttnImplementation[] = ['eager', 'sdpa', 'flash_attention_2'];

/** Throws unless `impl` names an implementation. */
export function checkAttnImplementation(impl: unknown): asserts impl is AttnImplementation {
  if (!ATTN_IMPLEMENTATIONS.includes(impl as AttnImplementation)) {
    throw new ArgumentError(`attnImplementation: expected one of ${ATTN_IMPLEMENTATIONS.join(', ')}, got ${JSON.stringify(impl)}`);
  }
}

/** One attention call. */
export interface AttendArgs {
  /** (B, H, L, hd) */
  q: Tensor;
  /** (B, KV, S, hd), every visible position (past + current) */
  k: Tensor;
  /** (B, KV, S, hd) */
  v: Tensor;
  /** Attend only to the first kvLength positions of k/v (a KV cache's filled prefix); default all. */
  kvLength?: number;
  mask: AttentionMask;
  /** Softmax scale (1 when q is pre-scaled, as in OPT). */
  scale: number;
  /**
   * Full additive mask (B, H, L, S) replacing `mask`'s pattern: a bias where allowed, finfo.min
   * where blocked (Falcon's ALiBi). Not supported by flash attention.
   */
  biasMask?: Tensor | null;
  /** Return the attention probabilities (B, H, L, S) float32; eager only. */
  outputAttentions?: boolean;
}

/** Output of `attend`. */
export interface AttendResult {
  /** (B, H, L, hd) */
  out: Tensor;
  weights?: Tensor;
}

let warnedWeights = false;

/** Runs attention with the chosen implementation (falling back to eager, once with a warning, for weights). */
export function attend(impl: AttnImplementation, a: AttendArgs): AttendResult {
  if (a.outputAttentions && impl !== 'eager') {
    if (!warnedWeights) {
      warnedWeights = true;
      console.warn(`[flashtensor] outputAttentions needs the eager attention implementation; '${impl}' falls back to 'eager' for those calls`);
    }
    impl = 'eager';
  }
  if (impl === 'flash_attention_2' && a.biasMask) {
    throw new ArgumentError(`attnImplementation 'flash_attention_2' does not support an attention bias (ALiBi); use 'sdpa' or 'eager'`);
  }
  const kvLength = a.kvLength ?? a.k.shape[2];
  if (impl === 'eager' || (impl === 'flash_attention_2' && a.mask.hasPadding)) {
    // These paths copy keys anyway: take the filled prefix first.
    if (kvLength < a.k.shape[2]) {
      const [B, KV, , hd] = a.k.shape;
      const k = slice(a.k, [0, 0, 0, 0], [B, KV, kvLength, hd]);
      const v = slice(a.v, [0, 0, 0, 0], [B, KV, kvLength, a.v.shape[3]]);
      try {
        return attend(impl, { ...a, k, v, kvLength: undefined });
      } finally {
        k.dispose();
        v.dispose();
      }
    }
    if (impl === 'eager') return eager(a);
    return { out: varlen(a) };
  }
  const H = a.q.shape[1];
  const KV = a.k.shape[1];
  const L = a.q.shape[2];
  const enableGqa = H !== KV;
  if (impl === 'sdpa') {
    if (a.biasMask) return { out: sdpa(a.q, a.k, a.v, { attnMask: a.biasMask, scale: a.scale, enableGqa, kvLength }) };
    if (!a.mask.hasPadding) return { out: sdpa(a.q, a.k, a.v, { isCausal: L > 1, causalVariant: 'lowerRight', scale: a.scale, enableGqa, kvLength }) };
    return { out: sdpa(a.q, a.k, a.v, { attnMask: a.mask.boolMask(), scale: a.scale, enableGqa, kvLength }) };
  }
  return { out: flashAttention(a.q, a.k, a.v, { isCausal: L > 1, causalVariant: 'lowerRight', scale: a.scale, enableGqa, kvLength }).output };
}

/** Hugging Face's eager attention: softmax(q·kᵀ·scale + mask) in float32, cast back, · v. */
function eager(a: AttendArgs): AttendResult {
  const H = a.q.shape[1];
  const KV = a.k.shape[1];
  const k = H === KV ? a.k : repeatInterleave(a.k, H / KV, 1);
  const v = H === KV ? a.v : repeatInterleave(a.v, H / KV, 1);
  const raw = matmul(a.q, k, { transposeB: true }); // (B, H, L, S)
  const scaled = a.scale === 1 ? raw : mul(raw, a.scale);
  const masked = add(scaled, a.biasMask ?? a.mask.floatMask(a.q.dtype));
  const s32 = masked.dtype === 'float32' ? masked : cast(masked, 'float32');
  const probs = softmax(s32, -1);
  const p = probs.dtype === a.q.dtype ? probs : cast(probs, a.q.dtype);
  const out = matmul(p, v); // (B, H, L, hd)
  for (const t of [raw, scaled, masked, s32, ...(p !== probs ? [p] : [])]) if (t !== probs) t.dispose();
  if (k !== a.k) k.dispose();
  if (v !== a.v) v.dispose();
  if (a.outputAttentions) return { out, weights: probs };
  probs.dispose();
  return { out };
}

/** Padded batch through flash-attn's varlen entry point: real tokens only, bottom-right causal per sequence. */
function varlen(a: AttendArgs): Tensor {
  const [B, , L] = a.q.shape;
  const S = a.k.shape[2];
  const m = a.mask;
  const keyRows = Array.from({ length: B }, (_, b) => m.keyRow(b));
  const queryRows = keyRows.map((r) => r.slice(S - L));
  const qT = transpose(a.q, [0, 2, 1, 3]); // (B, L, H, hd)
  const kT = transpose(a.k, [0, 2, 1, 3]); // (B, S, KV, hd)
  const vT = transpose(a.v, [0, 2, 1, 3]);
  const qu = unpadInput(qT, queryRows);
  const ku = unpadInput(kT, keyRows);
  const vu = unpadInput(vT, keyRows);
  const o = flashAttnVarlen(qu.hidden, ku.hidden, vu.hidden, qu.cuSeqlens, ku.cuSeqlens, qu.maxSeqlen, ku.maxSeqlen, { isCausal: true, scale: a.scale });
  const padded = padInput(o, qu.indices, B, L); // (B, L, H, hd)
  const out = transpose(padded, [0, 2, 1, 3]);
  for (const t of [qT, kT, vT, qu.hidden, qu.indices, qu.cuSeqlens, ku.hidden, ku.indices, ku.cuSeqlens, vu.hidden, vu.indices, vu.cuSeqlens, o, padded]) t.dispose();
  return out;
}
