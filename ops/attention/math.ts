/**
 * The math implementation: the reference formula composed from ops, so every backend gets it.
 * Materialises the (…, H, L, S) float32 scores; can return the attention weights.
 */

import { ENGINE } from '../../lib/engine.js';
import { OutOfMemoryError } from '../../lib/errors.js';
import { Random } from '../../lib/random.js';
import type { Tensor } from '../../lib/tensor.js';
import { fromStorage, zeros } from '../creation.js';
import { add, cast, equal, less, mul, where } from '../elementwise.js';
import { matmul } from '../linalg.js';
import { max, softmax } from '../reduce.js';
import { repeatInterleave, slice } from '../shape_ops.js';
import { mathScoreBytes, sdpaReasons } from './eligibility.js';
import type { SdpaParams } from './params.js';

/** Bool keep-mask (L, S) of a causal pattern: query i sees key j iff j ≤ i + offset. */
export function causalKeepMask(L: number, S: number, variant: 'upperLeft' | 'lowerRight', like: Tensor): Tensor {
  const off = variant === 'lowerRight' ? S - L : 0;
  const keep = new Uint8Array(L * S);
  for (let i = 0; i < L; i++) for (let j = 0; j < S && j <= i + off; j++) keep[i * S + j] = 1;
  return onBackendOf(like, () => fromStorage(keep, [L, S], 'bool'));
}

function onBackendOf<T>(like: Tensor, fn: () => T): T {
  return ENGINE.withBackend(ENGINE.backendOf(like), fn);
}

/** Runs the math implementation; `weights` (float32, (…, H, L, S)) when asked for. */
export function mathAttention(p: SdpaParams, returnWeights = false): { output: Tensor; weights?: Tensor } {
  const reasons = sdpaReasons('MATH', p);
  if (reasons.length) throw new OutOfMemoryError(`sdpa (math): ${reasons.join('; ')}`);
  if (p.S === 0 || p.L === 0) {
    const output = onBackendOf(p.q, () => zeros(p.outShape, p.dtype));
    const weights = returnWeights ? onBackendOf(p.q, () => zeros([...p.outShape.slice(0, -1), p.S], 'float32')) : undefined;
    return { output, weights };
  }
  return ENGINE.tidy(() => {
    const f32 = (t: Tensor) => (t.dtype === 'float32' ? t : cast(t, 'float32'));
    let k = f32(p.k);
    let v = f32(p.v);
    if (p.S < p.SAlloc) {
      const begin = new Array<number>(p.rank).fill(0);
      k = slice(k, begin, [...k.shape.slice(0, -2), p.S, p.E]);
      v = slice(v, begin, [...v.shape.slice(0, -2), p.S, p.Ev]);
    }
    if (p.enableGqa && p.Hq !== p.Hkv) {
      k = repeatInterleave(k, p.Hq / p.Hkv, p.rank - 3);
      v = repeatInterleave(v, p.Hq / p.Hkv, p.rank - 3);
    }
    // PyTorch scales q and k by √scale each (not the product) to limit overflow; the sign goes on q.
    const root = Math.sqrt(Math.abs(p.scale));
    let scores = matmul(mul(f32(p.q), p.scale < 0 ? -root : root), mul(k, root), { transposeB: true });
    if (p.causal !== 'none') scores = where(causalKeepMask(p.L, p.S, p.causal, p.q), scores, -Infinity);
    if (p.mask) scores = p.mask.dtype === 'bool' ? where(p.mask, scores, -Infinity) : add(scores, f32(p.mask));
    // Safe softmax: rows with every score −∞ (nothing to attend) give 0, never NaN.
    const fullyMasked = equal(max(scores, -1, { keepDims: true }), -Infinity);
    let probs = where(fullyMasked, 0, softmax(scores, -1));
    if (p.dropoutP > 0) probs = dropout(probs, p.dropoutP, p.seed);
    const out = matmul(probs, v);
    const output = out.dtype === p.dtype ? out : cast(out, p.dtype);
    return returnWeights ? { output, weights: probs } : { output };
  });
}

/** Zeroes each element with probability `rate`, scaling survivors by 1/(1 − rate). */
function dropout(x: Tensor, rate: number, seed?: number): Tensor {
  const rng = new Random(seed);
  const u = new Float32Array(x.size);
  for (let i = 0; i < u.length; i++) u[i] = rng.uniform();
  const noise = onBackendOf(x, () => fromStorage(u, x.shape, 'float32'));
  return mul(where(less(noise, rate), 0, x), 1 / (1 - rate));
}

export { mathScoreBytes };
