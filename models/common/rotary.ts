/**
 * Rotary position embedding tables, as Hugging Face computes them: inverse frequencies in
 * float32 for the `default`, `linear`, `dynamic` (NTK) and `llama3` scalings, and per-call
 * cos/sin tables for the rotate-half convention. Rotation itself is the `rope` op.
 */

import type { DType } from '../../lib/dtype.js';
import type { Tensor } from '../../lib/tensor.js';
import { fromStorage } from '../../ops/creation.js';
import { cast } from '../../ops/elementwise.js';
import type { RopeConfig } from './config.js';

const f = Math.fround;

/** Default inverse frequencies 1/θ^(2i/dim), i < dim/2, with float32 rounding at each step. */
export function defaultInvFreq(theta: number, dim: number): Float32Array {
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < out.length; i++) out[i] = f(1 / f(Math.pow(f(theta), f((2 * i) / dim))));
  return out;
}

/** Llama 3 frequency bands: keep high frequencies, divide low ones by `factor`, blend in between. */
export function llama3InvFreq(rope: RopeConfig, dim: number): Float32Array {
  const inv = defaultInvFreq(rope.theta, dim);
  const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: O } = rope;
  const loWl = O / lo;
  const hiWl = O / hi;
  const out = new Float32Array(inv.length);
  for (let i = 0; i < inv.length; i++) {
    const wl = f((2 * Math.PI) / inv[i]);
    const scaled = wl > loWl ? f(inv[i] / factor) : inv[i];
    if (wl < hiWl || wl > loWl) {
      out[i] = scaled;
    } else {
      const s = f((f(O / wl) - lo) / (hi - lo));
      out[i] = f(f(f(f(1 - s) * scaled) / factor) + f(s * scaled));
    }
  }
  return out;
}

/**
 * A rotary embedding for one head size: `cosSin(positions)` gives the (B, 1, L, dim/2) tables
 * the `rope` op takes. `dynamic` scaling recomputes frequencies from each call's largest position.
 */
export class RotaryEmbedding {
  private readonly base: Float32Array;

  constructor(readonly rope: RopeConfig, readonly dim: number) {
    if (rope.type === 'llama3') this.base = llama3InvFreq(rope, dim);
    else if (rope.type === 'linear') this.base = defaultInvFreq(rope.theta, dim).map((x) => f(x / rope.factor));
    else this.base = defaultInvFreq(rope.theta, dim);
  }

  /** Inverse frequencies in effect when the largest position in a call is `maxPosition`. */
  invFreq(maxPosition: number): Float32Array {
    const { rope, dim } = this;
    const seq = maxPosition + 1;
    if (rope.type !== 'dynamic' || seq <= rope.maxPositions) return this.base;
    const theta = rope.theta * Math.pow((rope.factor * seq) / rope.maxPositions - (rope.factor - 1), dim / (dim - 2));
    return defaultInvFreq(theta, dim);
  }

  /**
   * cos and sin for positions (row-major B×L), shaped (B, 1, L, dim/2), computed in float32 and
   * cast to `dtype`.
   */
  cosSin(positions: Int32Array, batch: number, dtype: DType): { cos: Tensor; sin: Tensor } {
    let maxPos = 0;
    for (const p of positions) if (p > maxPos) maxPos = p;
    const inv = this.invFreq(maxPos);
    const half = inv.length;
    const L = positions.length / batch;
    const c = new Float32Array(positions.length * half);
    const s = new Float32Array(positions.length * half);
    for (let r = 0; r < positions.length; r++) {
      const p = positions[r];
      for (let i = 0; i < half; i++) {
        const a = f(p * inv[i]);
        c[r * half + i] = Math.cos(a);
        s[r * half + i] = Math.sin(a);
      }
    }
    const shape = [batch, 1, L, half];
    let cos = fromStorage(c, shape, 'float32');
    let sin = fromStorage(s, shape, 'float32');
    if (dtype !== 'float32') {
      const [c16, s16] = [cast(cos, dtype), cast(sin, dtype)];
      cos.dispose();
      sin.dispose();
      [cos, sin] = [c16, s16];
    }
    return { cos, sin };
  }
}
