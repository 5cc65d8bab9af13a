/**
 * Naive float64 attention for the attention specs: one query row at a time, every score
 * materialised, plain loops and no code shared with the library. Handles GQA (query head h reads
 * kv head ⌊h·Hkv/H⌋), both causal alignments, a KV cache attended to its first S of SAlloc
 * positions, Ev ≠ E, and a mask of any shape that broadcasts to (B, H, L, S).
 */

/** A mask as plain data: bool (keep = nonzero) or additive float, with its own shape. */
export interface RefMask {
  data: ArrayLike<number>;
  shape: readonly number[];
  bool: boolean;
}

export interface RefAttention {
  /** (B, H, L, Ev) */
  out: Float64Array;
  /** (B, H, L) natural-log logsumexp of the scaled, masked scores; +∞ for rows with no key. */
  lse: Float64Array;
}

export interface RefOptions {
  B: number; H: number; Hkv: number; L: number; S: number; E: number; Ev: number;
  /** Allocated key positions (≥ S; the stride of k and v), default S. */
  SAlloc?: number;
  scale?: number;
  causal?: 'upperLeft' | 'lowerRight';
  mask?: RefMask;
}

/** Value of a broadcast mask at (b, h, i, j). */
function maskAt(m: RefMask, b: number, h: number, i: number, j: number): number {
  const full = [...new Array(4 - m.shape.length).fill(1), ...m.shape];
  const idx = [b, h, i, j].map((x, d) => (full[d] === 1 ? 0 : x));
  return m.data[((idx[0] * full[1] + idx[1]) * full[2] + idx[2]) * full[3] + idx[3]];
}

/** Attention of q (B,H,L,E), k (B,Hkv,SAlloc,E), v (B,Hkv,SAlloc,Ev), all given as flat numbers. */
export function refAttention(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, o: RefOptions): RefAttention {
  const { B, H, Hkv, L, S, E, Ev } = o;
  const SAlloc = o.SAlloc ?? S;
  const scale = o.scale ?? 1 / Math.sqrt(E);
  const off = o.causal === 'lowerRight' ? S - L : 0;
  const out = new Float64Array(B * H * L * Ev);
  const lse = new Float64Array(B * H * L);
  const s = new Float64Array(S);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const g = Math.floor((h * Hkv) / H);
    const kb = (b * Hkv + g) * SAlloc;
    for (let i = 0; i < L; i++) {
      const row = (b * H + h) * L + i;
      let mx = -Infinity;
      for (let j = 0; j < S; j++) {
        let dot = 0;
        for (let e = 0; e < E; e++) dot += q[row * E + e] * k[(kb + j) * E + e];
        let x = dot * scale;
        if (o.causal && j > i + off) x = -Infinity;
        if (o.mask) {
          const m = maskAt(o.mask, b, h, i, j);
          if (o.mask.bool) x = m ? x : -Infinity;
          else x += m;
        }
        s[j] = x;
        if (x > mx) mx = x;
      }
      if (mx === -Infinity) {
        lse[row] = Infinity;
        continue;
      }
      let sum = 0;
      for (let j = 0; j < S; j++) sum += Math.exp(s[j] - mx);
      lse[row] = mx + Math.log(sum);
      for (let j = 0; j < S; j++) {
        const p = Math.exp(s[j] - mx) / sum;
        if (p === 0) continue;
        for (let e = 0; e < Ev; e++) out[row * Ev + e] += p * v[(kb + j) * Ev + e];
      }
    }
  }
  return { out, lse };
}

/** Largest |a − b| (∞ when either is NaN where the other is not, or infinities differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    const d = Math.abs(a[i] - b[i]);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

/** Index of the first element where a and b differ in bits (NaN equals NaN), or −1. */
export function firstBitDifference(a: Float32Array | Uint16Array, b: Float32Array | Uint16Array): number {
  const ua = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const ub = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (ua.length !== ub.length) return 0;
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return Math.floor(i / a.BYTES_PER_ELEMENT);
  return -1;
}
