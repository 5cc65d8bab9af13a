// Row kernels over the last axis, float32 math, for float32 / float16 / bfloat16 data (kind 0,
// 1, 2; tag types as in elementwise.ts): RMSNorm (Hugging Face rounding), residual add +
// RMSNorm, LayerNorm, softmax, and rotary embedding. Rows are split over shares in fixed
// ranges, so results do not depend on the thread count.

import { load4 } from './simd';
import { exp4, load1v, roundTo, store1, store4 } from './vmath';
import { rowStart } from './elementwise';

// @ts-ignore: decorator
@inline function es<T>(): usize {
  return isFloat<T>() ? 4 : 2;
}

/** Sum of the four lanes, in a fixed order. */
// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Σ x² over D elements of tag T at x. */
function sumSquares<T>(x: usize, D: i32): f32 {
  const e = es<T>();
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  let c = 0;
  for (; c + 8 <= D; c += 8) {
    const v0 = load4<T>(x + <usize>c * e), v1 = load4<T>(x + <usize>(c + 4) * e);
    a0 = f32x4.add(a0, f32x4.mul(v0, v0));
    a1 = f32x4.add(a1, f32x4.mul(v1, v1));
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; c < D; c++) {
    const v = f32x4.extract_lane(load1v<T>(x + <usize>c * e), 0);
    s += v * v;
  }
  return s;
}

/** out = x·inv, rounded to T, then · w (when w ≠ 0), rounded to T. */
function scaleRow<T>(x: usize, w: usize, out: usize, D: i32, inv: f32): void {
  const e = es<T>();
  const vi = f32x4.splat(inv);
  let c = 0;
  for (; c + 4 <= D; c += 4) {
    const off = <usize>c * e;
    let v = f32x4.mul(load4<T>(x + off), vi);
    if (w) v = f32x4.mul(roundTo<T>(v), load4<T>(w + off));
    store4<T>(out + off, v);
  }
  for (; c < D; c++) {
    const off = <usize>c * e;
    let v = f32x4.mul(load1v<T>(x + off), vi);
    if (w) v = f32x4.mul(roundTo<T>(v), load1v<T>(w + off));
    store1<T>(out + off, v);
  }
}

// @ts-ignore: decorator
@inline function invRms(ss: f32, D: i32, eps: f32): f32 {
  return <f32>1.0 / sqrt<f32>(ss / <f32>D + eps);
}

function rmsNormT<T>(tid: i32, nth: i32, x: usize, w: usize, out: usize, rows: i32, D: i32, eps: f32): void {
  const rb = <usize>D * es<T>();
  const r1 = rowStart(tid + 1, nth, rows);
  for (let r = rowStart(tid, nth, rows); r < r1; r++) {
    const xr = x + <usize>r * rb;
    scaleRow<T>(xr, w, out + <usize>r * rb, D, invRms(sumSquares<T>(xr, D), D, eps));
  }
}

/**
 * RMSNorm of `rows` rows of D: x·rsqrt(mean(x²) + eps) in float32, rounded to the dtype, then
 * times w (w = 0: no weight). The weight has x's kind.
 */
export function rmsNorm(tid: i32, nth: i32, x: usize, w: usize, out: usize, rows: i32, D: i32, eps: f32, kind: i32): void {
  if (kind == 0) rmsNormT<f32>(tid, nth, x, w, out, rows, D, eps);
  else if (kind == 1) rmsNormT<u16>(tid, nth, x, w, out, rows, D, eps);
  else rmsNormT<i16>(tid, nth, x, w, out, rows, D, eps);
}

function addRmsNormT<T>(tid: i32, nth: i32, x: usize, res: usize, w: usize, sum: usize, out: usize, rows: i32, D: i32, eps: f32): void {
  const e = es<T>();
  const rb = <usize>D * e;
  const r1 = rowStart(tid + 1, nth, rows);
  for (let r = rowStart(tid, nth, rows); r < r1; r++) {
    const o = <usize>r * rb;
    let c = 0;
    for (; c + 4 <= D; c += 4) {
      const off = o + <usize>c * e;
      store4<T>(sum + off, f32x4.add(load4<T>(x + off), load4<T>(res + off)));
    }
    for (; c < D; c++) {
      const off = o + <usize>c * e;
      store1<T>(sum + off, f32x4.add(load1v<T>(x + off), load1v<T>(res + off)));
    }
    // The rounded sums are re-read from the row just written (in L1).
    scaleRow<T>(sum + o, w, out + o, D, invRms(sumSquares<T>(sum + o, D), D, eps));
  }
}

/** sum = x + res (rounded to the dtype), out = rmsNorm(sum) as `rmsNorm` computes it. */
export function addRmsNorm(tid: i32, nth: i32, x: usize, res: usize, w: usize, sum: usize, out: usize, rows: i32, D: i32, eps: f32, kind: i32): void {
  if (kind == 0) addRmsNormT<f32>(tid, nth, x, res, w, sum, out, rows, D, eps);
  else if (kind == 1) addRmsNormT<u16>(tid, nth, x, res, w, sum, out, rows, D, eps);
  else addRmsNormT<i16>(tid, nth, x, res, w, sum, out, rows, D, eps);
}

function layerNormT<T>(tid: i32, nth: i32, x: usize, w: usize, b: usize, out: usize, rows: i32, D: i32, eps: f32): void {
  const e = es<T>();
  const rb = <usize>D * e;
  const r1 = rowStart(tid + 1, nth, rows);
  for (let r = rowStart(tid, nth, rows); r < r1; r++) {
    const xr = x + <usize>r * rb, orow = out + <usize>r * rb;
    let acc = f32x4.splat(0);
    let c = 0;
    for (; c + 4 <= D; c += 4) acc = f32x4.add(acc, load4<T>(xr + <usize>c * e));
    let s = hsum(acc);
    for (; c < D; c++) s += f32x4.extract_lane(load1v<T>(xr + <usize>c * e), 0);
    const mean = f32x4.splat(s / <f32>D);
    acc = f32x4.splat(0);
    c = 0;
    for (; c + 4 <= D; c += 4) {
      const d = f32x4.sub(load4<T>(xr + <usize>c * e), mean);
      acc = f32x4.add(acc, f32x4.mul(d, d));
    }
    let v = hsum(acc);
    for (; c < D; c++) {
      const d = f32x4.extract_lane(load1v<T>(xr + <usize>c * e), 0) - f32x4.extract_lane(mean, 0);
      v += d * d;
    }
    const inv = f32x4.splat(<f32>1.0 / sqrt<f32>(v / <f32>D + eps));
    c = 0;
    for (; c + 4 <= D; c += 4) {
      const off = <usize>c * e;
      let y = f32x4.mul(f32x4.sub(load4<T>(xr + off), mean), inv);
      if (w) y = f32x4.mul(y, load4<T>(w + off));
      if (b) y = f32x4.add(y, load4<T>(b + off));
      store4<T>(orow + off, y);
    }
    for (; c < D; c++) {
      const off = <usize>c * e;
      let y = f32x4.mul(f32x4.sub(load1v<T>(xr + off), mean), inv);
      if (w) y = f32x4.mul(y, load1v<T>(w + off));
      if (b) y = f32x4.add(y, load1v<T>(b + off));
      store1<T>(orow + off, y);
    }
  }
}

/** LayerNorm (biased variance, two passes) of rows of D; w, b: 0 when absent, else x's kind. */
export function layerNorm(tid: i32, nth: i32, x: usize, w: usize, b: usize, out: usize, rows: i32, D: i32, eps: f32, kind: i32): void {
  if (kind == 0) layerNormT<f32>(tid, nth, x, w, b, out, rows, D, eps);
  else if (kind == 1) layerNormT<u16>(tid, nth, x, w, b, out, rows, D, eps);
  else layerNormT<i16>(tid, nth, x, w, b, out, rows, D, eps);
}

function softmaxT<TI, TO>(tid: i32, nth: i32, x: usize, out: usize, rows: i32, D: i32): void {
  const ei = es<TI>(), eo = es<TO>();
  const r1 = rowStart(tid + 1, nth, rows);
  for (let r = rowStart(tid, nth, rows); r < r1; r++) {
    const xr = x + <usize>r * <usize>D * ei, orow = out + <usize>r * <usize>D * eo;
    let mv = f32x4.splat(-Infinity);
    let c = 0;
    for (; c + 4 <= D; c += 4) mv = f32x4.max(mv, load4<TI>(xr + <usize>c * ei));
    let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; c < D; c++) m = max(m, f32x4.extract_lane(load1v<TI>(xr + <usize>c * ei), 0));
    if (m == -Infinity) {
      // Fully masked row: zeros, not 0/0.
      for (c = 0; c < D; c++) store1<TO>(orow + <usize>c * eo, f32x4.splat(0));
      continue;
    }
    const ms = f32x4.splat(m);
    let acc = f32x4.splat(0);
    c = 0;
    if (isFloat<TO>()) {
      // float32 output: keep each eˣ⁻ᵐ in the output row and rescale it in place (one exp per element).
      for (; c + 4 <= D; c += 4) {
        const e = exp4(f32x4.sub(load4<TI>(xr + <usize>c * ei), ms));
        v128.store(orow + <usize>c * 4, e);
        acc = f32x4.add(acc, e);
      }
      let s = hsum(acc);
      for (; c < D; c++) {
        const e = f32x4.extract_lane(exp4(f32x4.sub(load1v<TI>(xr + <usize>c * ei), ms)), 0);
        store<f32>(orow + <usize>c * 4, e);
        s += e;
      }
      const inv = f32x4.splat(<f32>1.0 / s);
      c = 0;
      for (; c + 4 <= D; c += 4) v128.store(orow + <usize>c * 4, f32x4.mul(v128.load(orow + <usize>c * 4), inv));
      for (; c < D; c++) store<f32>(orow + <usize>c * 4, load<f32>(orow + <usize>c * 4) * f32x4.extract_lane(inv, 0));
      continue;
    }
    for (; c + 4 <= D; c += 4) acc = f32x4.add(acc, exp4(f32x4.sub(load4<TI>(xr + <usize>c * ei), ms)));
    let s = hsum(acc);
    for (; c < D; c++) s += f32x4.extract_lane(exp4(f32x4.sub(load1v<TI>(xr + <usize>c * ei), ms)), 0);
    const inv = f32x4.splat(<f32>1.0 / s);
    c = 0;
    for (; c + 4 <= D; c += 4) store4<TO>(orow + <usize>c * eo, f32x4.mul(exp4(f32x4.sub(load4<TI>(xr + <usize>c * ei), ms)), inv));
    for (; c < D; c++) store1<TO>(orow + <usize>c * eo, f32x4.mul(exp4(f32x4.sub(load1v<TI>(xr + <usize>c * ei), ms)), inv));
  }
}

/** Softmax over rows of D in float32 (max-subtracted); input and output kinds may differ. */
export function softmax(tid: i32, nth: i32, x: usize, out: usize, rows: i32, D: i32, kin: i32, kout: i32): void {
  if (kin == kout) {
    if (kin == 0) softmaxT<f32, f32>(tid, nth, x, out, rows, D);
    else if (kin == 1) softmaxT<u16, u16>(tid, nth, x, out, rows, D);
    else softmaxT<i16, i16>(tid, nth, x, out, rows, D);
  } else if (kin == 0) {
    if (kout == 1) softmaxT<f32, u16>(tid, nth, x, out, rows, D);
    else softmaxT<f32, i16>(tid, nth, x, out, rows, D);
  } else if (kout == 0) {
    if (kin == 1) softmaxT<u16, f32>(tid, nth, x, out, rows, D);
    else softmaxT<i16, f32>(tid, nth, x, out, rows, D);
  }
}

function ropeT<T>(
  tid: i32, nth: i32, x: usize, cos: usize, sin: usize, out: usize, n0: i32, n1: i32, T_: i32, D: i32, half: i32,
  s0: i32, s1: i32, interleaved: i32,
): void {
  const e = es<T>();
  const rows = n0 * n1 * T_;
  const r1 = rowStart(tid + 1, nth, rows);
  for (let r = rowStart(tid, nth, rows); r < r1; r++) {
    const t = r % T_;
    const i1 = (r / T_) % n1;
    const i0 = r / (T_ * n1);
    const cr = <usize>(i0 * s0 + i1 * s1 + t) * <usize>half * e;
    const xr = x + <usize>r * <usize>D * e, orow = out + <usize>r * <usize>D * e;
    const cp = cos + cr, sp = sin + cr;
    if (interleaved) {
      for (let p = 0; p < half; p++) {
        const c = load1v<T>(cp + <usize>p * e), s = load1v<T>(sp + <usize>p * e);
        const a = load1v<T>(xr + <usize>(2 * p) * e), b = load1v<T>(xr + <usize>(2 * p + 1) * e);
        store1<T>(orow + <usize>(2 * p) * e, f32x4.sub(f32x4.mul(a, c), f32x4.mul(b, s)));
        store1<T>(orow + <usize>(2 * p + 1) * e, f32x4.add(f32x4.mul(b, c), f32x4.mul(a, s)));
      }
    } else {
      const hb = <usize>half * e;
      let p = 0;
      for (; p + 4 <= half; p += 4) {
        const o = <usize>p * e;
        const c = load4<T>(cp + o), s = load4<T>(sp + o);
        const a = load4<T>(xr + o), b = load4<T>(xr + hb + o);
        store4<T>(orow + o, f32x4.sub(f32x4.mul(a, c), f32x4.mul(b, s)));
        store4<T>(orow + hb + o, f32x4.add(f32x4.mul(b, c), f32x4.mul(a, s)));
      }
      for (; p < half; p++) {
        const o = <usize>p * e;
        const c = load1v<T>(cp + o), s = load1v<T>(sp + o);
        const a = load1v<T>(xr + o), b = load1v<T>(xr + hb + o);
        store1<T>(orow + o, f32x4.sub(f32x4.mul(a, c), f32x4.mul(b, s)));
        store1<T>(orow + hb + o, f32x4.add(f32x4.mul(b, c), f32x4.mul(a, s)));
      }
    }
    // Features past the rotated ones pass through.
    if (2 * half < D) memory.copy(orow + <usize>(2 * half) * e, xr + <usize>(2 * half) * e, <usize>(D - 2 * half) * e);
  }
}

/**
 * Rotary embedding of x (n0, n1, T, D) rows; cos/sin rows (half each, x's kind) for x row
 * (i0, i1, t) are at i0·s0 + i1·s1 + t (a stride 0 broadcasts). Rotate-half pairs (p, p + half),
 * interleaved pairs (2p, 2p + 1).
 */
export function rope(
  tid: i32, nth: i32, x: usize, cos: usize, sin: usize, out: usize, n0: i32, n1: i32, T: i32, D: i32, half: i32,
  s0: i32, s1: i32, interleaved: i32, kind: i32,
): void {
  if (kind == 0) ropeT<f32>(tid, nth, x, cos, sin, out, n0, n1, T, D, half, s0, s1, interleaved);
  else if (kind == 1) ropeT<u16>(tid, nth, x, cos, sin, out, n0, n1, T, D, half, s0, s1, interleaved);
  else ropeT<i16>(tid, nth, x, cos, sin, out, n0, n1, T, D, half, s0, s1, interleaved);
}
