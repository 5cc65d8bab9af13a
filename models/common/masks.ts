/**
 * Who may attend to whom in one forward call, described on the host: the 2-D padding mask over
 * past + current tokens, the causal rule (a query at absolute position past + i sees keys j ≤
 * past + i), and position ids derived from the mask. Tensors are built only when an attention
 * implementation needs one, once per forward call, and shared by every layer.
 */

import type { DType } from '../../lib/dtype.js';
import { ArgumentError, ShapeError } from '../../lib/errors.js';
import type { Tensor } from '../../lib/tensor.js';
import { fromStorage, toStorage } from '../../ops/creation.js';

/** Most negative finite value of each float dtype (finfo.min): blocked scores, never −∞, so no NaN. */
export const DTYPE_MIN: Record<'float32' | 'float16' | 'bfloat16', number> = {
  float32: -3.4028234663852886e38,
  float16: -65504,
  bfloat16: -3.3895313892515355e38,
};

/** The attention pattern of one forward call. */
export class AttentionMask {
  /** Any padding at all (false: pure causal, which lets fused kernels run without a mask tensor). */
  readonly hasPadding: boolean;
  private bool: Tensor | null = null;
  private float: Tensor | null = null;

  /**
   * @param batch B
   * @param queryLength L (tokens in this call)
   * @param pastLength tokens already in the cache
   * @param padding (B × (past + L)) 1 = real token, 0 = padding; null = all real
   */
  constructor(readonly batch: number, readonly queryLength: number, readonly pastLength: number, readonly padding: Uint8Array | null) {
    if (padding && padding.length !== batch * (pastLength + queryLength)) {
      throw new ShapeError(`attentionMask must cover past + current tokens: expected ${batch} × ${pastLength + queryLength} values, got ${padding.length}`);
    }
    this.hasPadding = !!padding && padding.some((x) => x === 0);
  }

  /** S: keys visible in this call (past + current). */
  get keyLength(): number {
    return this.pastLength + this.queryLength;
  }

  /** May query i (of this call) of row b see key j? */
  keep(b: number, i: number, j: number): boolean {
    return j <= this.pastLength + i && (!this.padding || this.padding[b * this.keyLength + j] === 1);
  }

  /** Padding of row b over the keys, as 0/1 numbers (all ones without padding). */
  keyRow(b: number): number[] {
    const S = this.keyLength;
    return Array.from({ length: S }, (_, j) => (this.padding ? this.padding[b * S + j] : 1));
  }

  /** Bool keep-mask (B, 1, L, S), built once. */
  boolMask(): Tensor {
    if (!this.bool) {
      const { batch: B, queryLength: L } = this;
      const S = this.keyLength;
      const m = new Uint8Array(B * L * S);
      for (let b = 0; b < B; b++) for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) m[(b * L + i) * S + j] = this.keep(b, i, j) ? 1 : 0;
      this.bool = fromStorage(m, [B, 1, L, S], 'bool');
      this.bool.kept = true; // shared by every layer's tidy scope; freed by dispose()
    }
    return this.bool;
  }

  /** Additive mask (B, 1, L, S) in `dtype`: 0 where allowed, finfo.min where blocked (Hugging Face's eager mask). */
  floatMask(dtype: DType): Tensor {
    if (!this.float || this.float.dtype !== dtype) {
      this.float?.dispose();
      const { batch: B, queryLength: L } = this;
      const S = this.keyLength;
      const min = DTYPE_MIN[dtype as keyof typeof DTYPE_MIN] ?? DTYPE_MIN.float32;
      const m = new Float32Array(B * L * S);
      for (let b = 0; b < B; b++) for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) m[(b * L + i) * S + j] = this.keep(b, i, j) ? 0 : min;
      this.float = fromStorage(toStorage(m, dtype), [B, 1, L, S], dtype);
      this.float.kept = true;
    }
    return this.float;
  }

  /**
   * Additive mask (B, H, L, S) in `dtype` combining a per-key bias (B, H, S) (e.g. ALiBi, already
   * scaled) with the pattern: bias where allowed, finfo.min where blocked.
   */
  biasMask(bias: Float32Array, heads: number, dtype: DType): Tensor {
    const { batch: B, queryLength: L } = this;
    const S = this.keyLength;
    const min = DTYPE_MIN[dtype as keyof typeof DTYPE_MIN] ?? DTYPE_MIN.float32;
    const m = new Float32Array(B * heads * L * S);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < heads; h++) {
        const row = (b * heads + h) * S;
        for (let i = 0; i < L; i++) {
          const o = ((b * heads + h) * L + i) * S;
          for (let j = 0; j < S; j++) m[o + j] = this.keep(b, i, j) ? bias[row + j] : min;
        }
      }
    }
    return fromStorage(toStorage(m, dtype), [B, heads, L, S], dtype);
  }

  /** Frees the tensors built for this call. */
  dispose(): void {
    this.bool?.dispose();
    this.float?.dispose();
    this.bool = this.float = null;
  }
}

/**
 * Position ids `generate()` uses: cumsum(mask) − 1 over past + current tokens, padded slots set
 * to 1, last `L` columns kept (B × L, row-major).
 */
export function positionsFromMask(padding: Uint8Array, batch: number, total: number, L: number): Int32Array {
  const out = new Int32Array(batch * L);
  for (let b = 0; b < batch; b++) {
    let c = 0;
    for (let j = 0; j < total; j++) {
      const real = padding[b * total + j] === 1;
      if (real) c++;
      if (j >= total - L) out[b * L + j - (total - L)] = real ? c - 1 : 1;
    }
  }
  return out;
}

/** Default position ids of a plain forward: past … past + L − 1 for every row (padding ignored). */
export function cachePositions(batch: number, past: number, L: number): Int32Array {
  const out = new Int32Array(batch * L);
  for (let b = 0; b < batch; b++) for (let i = 0; i < L; i++) out[b * L + i] = past + i;
  return out;
}

/** Checks and flattens a (B, S) 0/1 mask given as a tensor's data or nested arrays. */
export function flattenMask(mask: ArrayLike<number> | readonly (readonly number[])[], batch: number, total: number): Uint8Array {
  const flat: ArrayLike<number> = Array.isArray(mask) && Array.isArray(mask[0]) ? (mask as number[][]).flat() : (mask as ArrayLike<number>);
  if (flat.length !== batch * total) {
    throw new ShapeError(`attentionMask: expected ${batch} × ${total} values (past + current tokens), got ${flat.length}`);
  }
  const out = new Uint8Array(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i];
    if (v !== 0 && v !== 1) throw new ArgumentError(`attentionMask: values must be 0 or 1, got ${v} at ${i}`);
    out[i] = v;
  }
  return out;
}
