/**
 * A naive float64 reference for every op, written independently of the kernels: plain nested
 * loops over multi-indices, no index maps, no shared code with backends/ or lib/. Slow and
 * obvious on purpose.
 */

import { refRound } from './half.js';

/** A dense float64 n-d array (row-major). */
export class ND {
  readonly size: number;
  constructor(
    readonly shape: number[],
    readonly data: Float64Array,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== this.size) throw new Error(`ND: ${data.length} values for shape [${shape}]`);
  }

  static zeros(shape: number[]): ND {
    return new ND(shape.slice(), new Float64Array(shape.reduce((a, b) => a * b, 1)));
  }

  static from(shape: number[], values: ArrayLike<number>): ND {
    return new ND(shape.slice(), Float64Array.from(values));
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Flat position of a multi-index. */
  offset(idx: readonly number[]): number {
    let off = 0;
    for (let i = 0; i < this.shape.length; i++) off = off * this.shape[i] + idx[i];
    return off;
  }

  get(idx: readonly number[]): number {
    return this.data[this.offset(idx)];
  }

  set(idx: readonly number[], v: number): void {
    this.data[this.offset(idx)] = v;
  }

  map(f: (x: number) => number): ND {
    return new ND(this.shape.slice(), this.data.map(f));
  }
}

/** Calls `f` with every multi-index of `shape` in row-major order. */
export function forEachIndex(shape: readonly number[], f: (idx: number[]) => void): void {
  if (shape.some((d) => d === 0)) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (;;) {
    f(idx.slice());
    let d = shape.length - 1;
    while (d >= 0) {
      idx[d]++;
      if (idx[d] < shape[d]) break;
      idx[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}

/** NumPy broadcast of several shapes (null when incompatible). */
export function broadcastShape(...shapes: (readonly number[])[]): number[] | null {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = s.length - n + i;
      const v = k < 0 ? 1 : s[k];
      if (v === 1) continue;
      if (d !== 1 && d !== v) return null;
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Element of `a` seen from output index `idx` when `a` is broadcast to a shape of rank idx.length. */
export function bget(a: ND, idx: readonly number[]): number {
  const lead = idx.length - a.rank;
  const own: number[] = [];
  for (let i = 0; i < a.rank; i++) own.push(a.shape[i] === 1 ? 0 : idx[lead + i]);
  return a.get(own);
}

export function unary(a: ND, f: (x: number) => number): ND {
  return a.map(f);
}

export function binary(a: ND, b: ND, f: (x: number, y: number) => number): ND {
  const shape = broadcastShape(a.shape, b.shape);
  if (!shape) throw new Error('reference: not broadcastable');
  const out = ND.zeros(shape);
  forEachIndex(shape, (idx) => out.set(idx, f(bget(a, idx), bget(b, idx))));
  return out;
}

export function where(c: ND, a: ND, b: ND): ND {
  const shape = broadcastShape(c.shape, a.shape, b.shape);
  if (!shape) throw new Error('reference: not broadcastable');
  const out = ND.zeros(shape);
  forEachIndex(shape, (idx) => out.set(idx, bget(c, idx) !== 0 ? bget(a, idx) : bget(b, idx)));
  return out;
}

/**
 * torch.matmul semantics: rank-1 a is a row vector, rank-1 b a column vector (that axis is then
 * dropped); transposes apply to the last two axes of rank ≥ 2 operands; batch axes broadcast.
 */
export function matmul(a: ND, b: ND, ta = false, tb = false): ND {
  const A = a.rank === 1 ? ND.from([1, a.shape[0]], a.data) : ta ? transpose(a, swapLast(a.rank)) : a;
  const B = b.rank === 1 ? ND.from([b.shape[0], 1], b.data) : tb ? transpose(b, swapLast(b.rank)) : b;
  const M = A.shape[A.rank - 2];
  const K = A.shape[A.rank - 1];
  const N = B.shape[B.rank - 1];
  if (B.shape[B.rank - 2] !== K) throw new Error('reference: inner dims differ');
  const batch = broadcastShape(A.shape.slice(0, -2), B.shape.slice(0, -2));
  if (!batch) throw new Error('reference: batch not broadcastable');
  const out = ND.zeros([...batch, M, N]);
  forEachIndex(out.shape, (idx) => {
    const bi = idx.slice(0, -2);
    const i = idx[idx.length - 2];
    const j = idx[idx.length - 1];
    let s = 0;
    for (let k = 0; k < K; k++) s += bget(A, [...bi, i, k]) * bget(B, [...bi, k, j]);
    out.set(idx, s);
  });
  const shape = [...batch, ...(a.rank === 1 ? [] : [M]), ...(b.rank === 1 ? [] : [N])];
  return ND.from(shape, out.data);
}

function swapLast(rank: number): number[] {
  const p = Array.from({ length: rank }, (_, i) => i);
  [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
  return p;
}

export type ReduceKind = 'sum' | 'mean' | 'max' | 'min' | 'argmax' | 'argmin';

/** Normalises axes (undefined = all) the way the reference understands them. */
export function refAxes(axis: number | number[] | undefined, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axis === 'number' ? [axis] : axis;
  return list.map((a) => (a < 0 ? a + rank : a)).sort((x, y) => x - y);
}

/** Reduction over axes; argmax/argmin return the first extreme, NaN counts as the extreme. */
export function reduce(a: ND, kind: ReduceKind, axis: number | number[] | undefined, keepDims = false): ND {
  const axes = refAxes(axis, a.rank);
  const outShapeKeep = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const redShape = axes.map((ax) => a.shape[ax]);
  const out = ND.zeros(outShapeKeep);
  forEachIndex(outShapeKeep, (oidx) => {
    const vals: number[] = [];
    forEachIndex(redShape, (r) => {
      const full = oidx.slice();
      axes.forEach((ax, k) => (full[ax] = r[k]));
      vals.push(a.get(full));
    });
    if (redShape.length === 0) vals.push(a.get(oidx));
    let v: number;
    switch (kind) {
      case 'sum': v = vals.reduce((s, x) => s + x, 0); break;
      case 'mean': v = vals.reduce((s, x) => s + x, 0) / vals.length; break;
      case 'max': v = vals.some(Number.isNaN) ? NaN : Math.max(...vals); break;
      case 'min': v = vals.some(Number.isNaN) ? NaN : Math.min(...vals); break;
      case 'argmax':
      case 'argmin': {
        const nan = vals.findIndex(Number.isNaN);
        if (nan >= 0) v = nan;
        else {
          const ext = kind === 'argmax' ? Math.max(...vals) : Math.min(...vals);
          v = vals.indexOf(ext);
        }
        break;
      }
    }
    out.set(oidx, v);
  });
  const shape = keepDims ? outShapeKeep : a.shape.filter((_, i) => !axes.includes(i));
  return ND.from(shape, out.data);
}

/** Applies `f` to every 1-d lane of `a` along `axis` (returns a same-shaped array). */
export function lanes(a: ND, axis: number, f: (lane: number[]) => number[]): ND {
  const ax = axis < 0 ? axis + a.rank : axis;
  const outer = a.shape.map((d, i) => (i === ax ? 1 : d));
  const out = ND.zeros(a.shape);
  forEachIndex(outer, (o) => {
    const lane: number[] = [];
    for (let i = 0; i < a.shape[ax]; i++) {
      const idx = o.slice();
      idx[ax] = i;
      lane.push(a.get(idx));
    }
    const res = f(lane);
    for (let i = 0; i < a.shape[ax]; i++) {
      const idx = o.slice();
      idx[ax] = i;
      out.set(idx, res[i]);
    }
  });
  return out;
}

/** Softmax in float64 (shift by the max; a lane of all −∞ gives zeros, like a "safe" softmax). */
export function softmax(a: ND, axis: number): ND {
  return lanes(a, axis, (lane) => {
    const m = Math.max(...lane);
    if (m === -Infinity) return lane.map(() => 0);
    const e = lane.map((x) => Math.exp(x - m));
    const s = e.reduce((p, q) => p + q, 0);
    return e.map((x) => x / s);
  });
}

/** log-softmax in float64 via log-sum-exp (a lane of all −∞ gives −∞). */
export function logSoftmax(a: ND, axis: number): ND {
  return lanes(a, axis, (lane) => {
    const m = Math.max(...lane);
    if (m === -Infinity) return lane.map(() => -Infinity);
    const lse = m + Math.log(lane.reduce((p, x) => p + Math.exp(x - m), 0));
    return lane.map((x) => x - lse);
  });
}

export function layerNorm(x: ND, w: ND | null, b: ND | null, eps: number): ND {
  return lanes(x, -1, (lane) => {
    const n = lane.length;
    const mean = lane.reduce((p, q) => p + q, 0) / n;
    const v = lane.reduce((p, q) => p + (q - mean) ** 2, 0) / n;
    return lane.map((q, i) => ((q - mean) / Math.sqrt(v + eps)) * (w ? w.data[i] : 1) + (b ? b.data[i] : 0));
  });
}

/**
 * Hugging Face LlamaRMSNorm: hs·rsqrt(mean(hs²)+eps) in high precision, rounded to the input dtype
 * (`roundIn`), then multiplied by the weight (the product rounded by the caller).
 */
export function rmsNorm(x: ND, w: ND | null, eps: number, roundIn: (v: number) => number): ND {
  return lanes(x, -1, (lane) => {
    const ms = lane.reduce((p, q) => p + q * q, 0) / lane.length;
    const inv = 1 / Math.sqrt(ms + eps);
    return lane.map((q, i) => {
      const n = roundIn(q * inv);
      return w ? n * w.data[i] : n;
    });
  });
}

/**
 * RoPE from the published formulas. Rotate-half (Hugging Face): on the first R features,
 * x·cat(cos, cos) + rotate_half(x)·cat(sin, sin) with rotate_half(x) = cat(−x₂, x₁).
 * Interleaved (Meta): view pairs (x₂ᵢ, x₂ᵢ₊₁) as complex numbers and multiply by cos + i·sin.
 * cos/sin are (..., T, R/2), broadcast against x's leading axes.
 */
export function rope(x: ND, cos: ND, sin: ND, interleaved: boolean): ND {
  const D = x.shape[x.rank - 1];
  const half = cos.shape[cos.rank - 1];
  const R = 2 * half;
  const out = ND.from(x.shape, x.data);
  forEachIndex(x.shape.slice(0, -1), (lead) => {
    const xs = Array.from({ length: D }, (_, i) => x.get([...lead, i]));
    const c = Array.from({ length: half }, (_, p) => bget(cos, [...lead, p]));
    const s = Array.from({ length: half }, (_, p) => bget(sin, [...lead, p]));
    const res = xs.slice();
    if (interleaved) {
      for (let p = 0; p < half; p++) {
        const re = xs[2 * p];
        const im = xs[2 * p + 1];
        res[2 * p] = re * c[p] - im * s[p];
        res[2 * p + 1] = re * s[p] + im * c[p];
      }
    } else {
      const cosFull = [...c, ...c];
      const sinFull = [...s, ...s];
      const xr = xs.slice(0, R);
      const rot = [...xr.slice(half).map((v) => -v), ...xr.slice(0, half)];
      for (let i = 0; i < R; i++) res[i] = xr[i] * cosFull[i] + rot[i] * sinFull[i];
    }
    for (let i = 0; i < D; i++) out.set([...lead, i], res[i]);
  });
  return out;
}

export function transpose(a: ND, perm: readonly number[]): ND {
  const shape = perm.map((p) => a.shape[p]);
  const out = ND.zeros(shape);
  forEachIndex(shape, (idx) => {
    const src = new Array<number>(a.rank);
    perm.forEach((p, i) => (src[p] = idx[i]));
    out.set(idx, a.get(src));
  });
  return out;
}

export function gather(x: ND, indices: ND, axis: number): ND {
  const ax = axis < 0 ? axis + x.rank : axis;
  const shape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  const out = ND.zeros(shape);
  const ir = indices.rank;
  forEachIndex(shape, (idx) => {
    const which = indices.get(idx.slice(ax, ax + ir));
    out.set(idx, x.get([...idx.slice(0, ax), which, ...idx.slice(ax + ir)]));
  });
  return out;
}

export function concat(xs: ND[], axis: number): ND {
  const ax = axis < 0 ? axis + xs[0].rank : axis;
  const shape = xs[0].shape.slice();
  shape[ax] = xs.reduce((s, x) => s + x.shape[ax], 0);
  const out = ND.zeros(shape);
  forEachIndex(shape, (idx) => {
    let i = idx[ax];
    for (const x of xs) {
      if (i < x.shape[ax]) {
        const src = idx.slice();
        src[ax] = i;
        out.set(idx, x.get(src));
        return;
      }
      i -= x.shape[ax];
    }
  });
  return out;
}

export function slice(x: ND, begin: number[], size: number[]): ND {
  const out = ND.zeros(size);
  forEachIndex(size, (idx) => out.set(idx, x.get(idx.map((v, i) => v + begin[i]))));
  return out;
}

export function broadcastTo(x: ND, shape: number[]): ND {
  const out = ND.zeros(shape);
  forEachIndex(shape, (idx) => out.set(idx, bget(x, idx)));
  return out;
}

/** torch `repeat` / NumPy `tile` (reps may be longer than the rank). */
export function tile(x: ND, reps: number[]): ND {
  const xs = [...new Array(reps.length - x.rank).fill(1), ...x.shape];
  const X = ND.from(xs, x.data);
  const shape = xs.map((d, i) => d * reps[i]);
  const out = ND.zeros(shape);
  forEachIndex(shape, (idx) => out.set(idx, X.get(idx.map((v, i) => v % xs[i]))));
  return out;
}

export function repeatInterleave(x: ND, repeats: number, axis: number): ND {
  const ax = axis < 0 ? axis + x.rank : axis;
  const shape = x.shape.map((d, i) => (i === ax ? d * repeats : d));
  const out = ND.zeros(shape);
  forEachIndex(shape, (idx) => out.set(idx, x.get(idx.map((v, i) => (i === ax ? Math.floor(v / repeats) : v)))));
  return out;
}

/** triu (upper) keeps j − i ≥ k; tril keeps j − i ≤ k; on the last two axes. */
export function triangle(x: ND, k: number, upper: boolean): ND {
  const out = ND.zeros(x.shape);
  forEachIndex(x.shape, (idx) => {
    const i = idx[idx.length - 2];
    const j = idx[idx.length - 1];
    const keep = upper ? j - i >= k : j - i <= k;
    out.set(idx, keep ? x.get(idx) : 0);
  });
  return out;
}

/** Top-k along the last axis by a stable selection: repeatedly take the best remaining, lowest index on ties. */
export function topk(x: ND, k: number, largest: boolean): { values: ND; indices: ND } {
  const n = x.shape[x.rank - 1];
  const shape = [...x.shape.slice(0, -1), k];
  const values = ND.zeros(shape);
  const indices = ND.zeros(shape);
  // NaN is larger than everything (PyTorch).
  const better = (p: number, q: number) => {
    if (Number.isNaN(p)) return largest && !Number.isNaN(q);
    if (Number.isNaN(q)) return !largest;
    return largest ? p > q : p < q;
  };
  forEachIndex(x.shape.slice(0, -1), (lead) => {
    const used = new Array<boolean>(n).fill(false);
    for (let j = 0; j < k; j++) {
      let best = -1;
      for (let i = 0; i < n; i++) {
        if (used[i]) continue;
        if (best < 0 || better(x.get([...lead, i]), x.get([...lead, best]))) best = i;
      }
      used[best] = true;
      values.set([...lead, j], x.get([...lead, best]));
      indices.set([...lead, j], best);
    }
  });
  return { values, indices };
}

export function writeSlice(dst: ND, src: ND, begin: number[]): ND {
  const out = ND.from(dst.shape, dst.data);
  forEachIndex(src.shape, (idx) => out.set(idx.map((v, i) => v + begin[i]), src.get(idx)));
  return out;
}

// ------------------------------------------------------------------ scalar functions

/**
 * erf from the everywhere-positive series erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1))
 * (Abramowitz & Stegun 7.1.6). No cancellation, so plain float64 gives ~1e-15 relative accuracy;
 * a different algorithm from the library's (alternating Taylor series + continued fraction).
 */
export function refErf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 500; n++) {
    term *= (2 * ax * ax) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  const r = (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum;
  return x < 0 ? -r : r;
}

/**
 * erfc(t) for t ≥ 0 without cancellation: 1 − refErf(t) below 2 (erfc(2) ≈ 0.005, so at most
 * ~2 digits are lost), the continued fraction evaluated backwards from a fixed depth beyond
 * (a different evaluation from the library's forward Lentz iteration).
 */
export function refErfc(t: number): number {
  if (Number.isNaN(t)) return NaN;
  if (t < 2) return 1 - refErf(t);
  let f = t;
  for (let n = 120; n >= 1; n--) f = t + n / 2 / f;
  return Math.exp(-t * t) / (f * Math.sqrt(Math.PI));
}

export const refFns: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: (x) => Math.tanh(x),
  // Written as e^x/(1+e^x) for negative x (a different formulation from the kernel's).
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  silu: (x) => x * (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  relu: (x) => (Number.isNaN(x) ? NaN : x > 0 ? x : 0),
  // Left tail through erfc: 1 + erf(x/√2) cancels to nothing in float64 below x ≈ −7.
  gelu: (x) => (x < 0 ? 0.5 * x * refErfc(-x / Math.SQRT2) : 0.5 * x * (1 + refErf(x / Math.SQRT2))),
  geluTanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
};

// ------------------------------------------------------------------ dtype rounding

/** Rounds a float64 result once to `dtype` the way a correct kernel stores it. */
export function roundTo(x: number, dtype: string): number {
  switch (dtype) {
    case 'float32': return Math.fround(x);
    case 'float16': return refRound(x, 'float16');
    case 'bfloat16': return refRound(x, 'bfloat16');
    case 'int32': return wrapInt(x, 32, true);
    case 'int8': return wrapInt(x, 8, true);
    case 'uint8': return wrapInt(x, 8, false);
    case 'bool': return x !== 0 ? 1 : 0; // NaN ≠ 0 → true, as in PyTorch
    default: throw new Error(`roundTo: ${dtype}`);
  }
}

/** Truncates toward zero and wraps modulo 2^bits (NaN/±Inf → 0), via BigInt arithmetic. */
export function wrapInt(x: number, bits: number, signed: boolean): number {
  if (!Number.isFinite(x)) return 0;
  const t = BigInt(Math.trunc(x));
  return Number(signed ? BigInt.asIntN(bits, t) : BigInt.asUintN(bits, t));
}
