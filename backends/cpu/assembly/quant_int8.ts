// LLM.int8 kernels (docs/quantization.md §1): activation quantization (float16 rounding, outlier
// column flags, row scales) and the int8 × int8 → int32 product with row/column scale
// dequantization. Each export runs share `tid` of `nth`, split over rows (activations) or output
// columns (product), so results do not depend on the thread count; they agree bit for bit with the
// TypeScript kernels in ../kernels/int8.ts, which define the semantics.

import { f32ToF16, hsumI, shareLo } from './quant_common';

/** Σ a[k]·b[k] over the k0…K tail of two i8 rows (the SIMD loop takes 8 at a time), exact in i32. */
// @ts-ignore: decorator
@inline function tailDot(a: usize, b: usize, k0: i32, K: i32): i32 {
  let s = 0;
  for (let k = k0; k < K; k++) s += <i32>load<i8>(a + k) * <i32>load<i8>(b + k);
  return s;
}

/** out[t, n] = f16(fma(f32(f32(acc)·SCA[t])·SCB[n], 1/16129, bias[n])). */
// @ts-ignore: decorator
@inline function int8Store(out: usize, N: i32, t: i32, n: i32, acc: i32, sa: f32, scb: usize, bias: usize): void {
  const v = <f32>(<f32>(<f32>acc * sa) * load<f32>(scb + (<usize>n << 2)));
  const b: f64 = bias != 0 ? <f64>load<f32>(bias + (<usize>n << 2)) : 0;
  const y = <f32>(<f64>v * <f64>reinterpret<f32>(0x38820610) + b); // 1/16129 as float32
  store<u16>(out + ((<usize>t * <usize>N + <usize>n) << 1), <u16>f32ToF16(y));
}

/**
 * LLM.int8 product, one share of the N columns: CA int8 [T, K], CB int8 [N, K], SCA f32 [T],
 * SCB f32 [N], bias f32 [N] or 0; out float16 bits [T, N]. Tiles of 4 weight rows × 2 tokens,
 * 8 k at a time (`v128.load8x8_s` widens while loading; `i32x4.dot_i16x8_s` multiplies pairs).
 */
export function int8Gemm(
  tid: i32, nth: i32, ca: usize, cb: usize, sca: usize, scb: usize, bias: usize, out: usize, T: i32, N: i32, K: i32,
): void {
  const n0 = shareLo(tid, nth, N, 4), n1 = shareLo(tid + 1, nth, N, 4);
  const k8 = K & ~7;
  const k = <usize>K;
  let n = n0;
  for (; n + 4 <= n1; n += 4) {
    const b0 = cb + <usize>n * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
    let t = 0;
    for (; t + 2 <= T; t += 2) {
      const a0 = ca + <usize>t * k, a1 = a0 + k;
      let s00 = i32x4.splat(0), s01 = s00, s02 = s00, s03 = s00;
      let s10 = s00, s11 = s00, s12 = s00, s13 = s00;
      for (let j = 0; j < k8; j += 8) {
        const o = <usize>j;
        const x0 = v128.load8x8_s(a0 + o), x1 = v128.load8x8_s(a1 + o);
        let w = v128.load8x8_s(b0 + o);
        s00 = i32x4.add(s00, i32x4.dot_i16x8_s(x0, w)); s10 = i32x4.add(s10, i32x4.dot_i16x8_s(x1, w));
        w = v128.load8x8_s(b1 + o);
        s01 = i32x4.add(s01, i32x4.dot_i16x8_s(x0, w)); s11 = i32x4.add(s11, i32x4.dot_i16x8_s(x1, w));
        w = v128.load8x8_s(b2 + o);
        s02 = i32x4.add(s02, i32x4.dot_i16x8_s(x0, w)); s12 = i32x4.add(s12, i32x4.dot_i16x8_s(x1, w));
        w = v128.load8x8_s(b3 + o);
        s03 = i32x4.add(s03, i32x4.dot_i16x8_s(x0, w)); s13 = i32x4.add(s13, i32x4.dot_i16x8_s(x1, w));
      }
      const sa0 = load<f32>(sca + (<usize>t << 2)), sa1 = load<f32>(sca + (<usize>(t + 1) << 2));
      int8Store(out, N, t, n, hsumI(s00) + tailDot(a0, b0, k8, K), sa0, scb, bias);
      int8Store(out, N, t, n + 1, hsumI(s01) + tailDot(a0, b1, k8, K), sa0, scb, bias);
      int8Store(out, N, t, n + 2, hsumI(s02) + tailDot(a0, b2, k8, K), sa0, scb, bias);
      int8Store(out, N, t, n + 3, hsumI(s03) + tailDot(a0, b3, k8, K), sa0, scb, bias);
      int8Store(out, N, t + 1, n, hsumI(s10) + tailDot(a1, b0, k8, K), sa1, scb, bias);
      int8Store(out, N, t + 1, n + 1, hsumI(s11) + tailDot(a1, b1, k8, K), sa1, scb, bias);
      int8Store(out, N, t + 1, n + 2, hsumI(s12) + tailDot(a1, b2, k8, K), sa1, scb, bias);
      int8Store(out, N, t + 1, n + 3, hsumI(s13) + tailDot(a1, b3, k8, K), sa1, scb, bias);
    }
    for (; t < T; t++) {
      const a0 = ca + <usize>t * k;
      let s0 = i32x4.splat(0), s1 = s0, s2 = s0, s3 = s0;
      for (let j = 0; j < k8; j += 8) {
        const o = <usize>j;
        const x0 = v128.load8x8_s(a0 + o);
        s0 = i32x4.add(s0, i32x4.dot_i16x8_s(x0, v128.load8x8_s(b0 + o)));
        s1 = i32x4.add(s1, i32x4.dot_i16x8_s(x0, v128.load8x8_s(b1 + o)));
        s2 = i32x4.add(s2, i32x4.dot_i16x8_s(x0, v128.load8x8_s(b2 + o)));
        s3 = i32x4.add(s3, i32x4.dot_i16x8_s(x0, v128.load8x8_s(b3 + o)));
      }
      const sa = load<f32>(sca + (<usize>t << 2));
      int8Store(out, N, t, n, hsumI(s0) + tailDot(a0, b0, k8, K), sa, scb, bias);
      int8Store(out, N, t, n + 1, hsumI(s1) + tailDot(a0, b1, k8, K), sa, scb, bias);
      int8Store(out, N, t, n + 2, hsumI(s2) + tailDot(a0, b2, k8, K), sa, scb, bias);
      int8Store(out, N, t, n + 3, hsumI(s3) + tailDot(a0, b3, k8, K), sa, scb, bias);
    }
  }
  for (; n < n1; n++) {
    const b0 = cb + <usize>n * k;
    for (let t = 0; t < T; t++) {
      const a0 = ca + <usize>t * k;
      let s = i32x4.splat(0);
      for (let j = 0; j < k8; j += 8) s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(a0 + <usize>j), v128.load8x8_s(b0 + <usize>j)));
      int8Store(out, N, t, n, hsumI(s) + tailDot(a0, b0, k8, K), load<f32>(sca + (<usize>t << 2)), scb, bias);
    }
  }
}

/**
 * float32 → nearest float16 value, as float32, four lanes (round half to even; beyond 65504 → ±inf;
 * NaN stays NaN). Normal range: round the mantissa to 10 bits on the bits; subnormal range
 * (|x| < 2⁻¹⁴): adding and subtracting 0.5 rounds to a multiple of 2⁻²⁴, float16's spacing there.
 */
// @ts-ignore: decorator
@inline function roundF16x4(x: v128): v128 {
  const sign = v128.and(x, i32x4.splat(0x80000000));
  const a = v128.and(x, i32x4.splat(0x7fffffff));
  const lsb = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  let nrm = v128.and(i32x4.add(i32x4.add(a, i32x4.splat(0xfff)), lsb), i32x4.splat(0xffffe000));
  nrm = v128.bitselect(i32x4.splat(0x7f800000), nrm, i32x4.gt_s(nrm, i32x4.splat(0x477fe000))); // > 65504 → inf
  const half = f32x4.splat(0.5);
  const sub = f32x4.sub(f32x4.add(a, half), half);
  let r = v128.bitselect(sub, nrm, f32x4.lt(a, f32x4.splat(6.103515625e-5))); // 2^-14
  r = v128.bitselect(a, r, i32x4.gt_s(a, i32x4.splat(0x7f800000))); // NaN
  return v128.or(r, sign);
}

/**
 * LLM.int8 activation quantization, pass 1, rows [t0, t1) of share tid: x float32 [T, K] is rounded
 * to float16; columns holding any |x16| ≥ threshold get flag 1 (u8 [K], shared; threshold > 0);
 * SCA[t] = max |x16| over the row's non-outlier elements.
 */
export function int8RowStats(tid: i32, nth: i32, x: usize, T: i32, K: i32, threshold: f32, flags: usize, sca: usize): void {
  const t0 = shareLo(tid, nth, T, 1), t1 = shareLo(tid + 1, nth, T, 1);
  const thr = f32x4.splat(threshold);
  const useThr = threshold > 0;
  const k4 = K & ~3;
  for (let t = t0; t < t1; t++) {
    const row = x + ((<usize>t * <usize>K) << 2);
    let m = f32x4.splat(0);
    for (let k = 0; k < k4; k += 4) {
      const a = v128.and(roundF16x4(v128.load(row + (<usize>k << 2))), i32x4.splat(0x7fffffff));
      if (useThr) {
        const out = f32x4.ge(a, thr);
        if (v128.any_true(out)) {
          if (i32x4.extract_lane(out, 0)) store<u8>(flags + <usize>k, 1);
          if (i32x4.extract_lane(out, 1)) store<u8>(flags + <usize>k + 1, 1);
          if (i32x4.extract_lane(out, 2)) store<u8>(flags + <usize>k + 2, 1);
          if (i32x4.extract_lane(out, 3)) store<u8>(flags + <usize>k + 3, 1);
        }
        m = f32x4.pmax(m, v128.andnot(a, out)); // pmax(m, v) = m < v ? v : m: a NaN v leaves m
      } else {
        m = f32x4.pmax(m, a);
      }
    }
    let mm = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
    for (let k = k4; k < K; k++) {
      const a = abs(f32x4.extract_lane(roundF16x4(f32x4.splat(load<f32>(row + (<usize>k << 2)))), 0));
      if (useThr && a >= threshold) store<u8>(flags + <usize>k, 1);
      else if (a > mm) mm = a;
    }
    store<f32>(sca + (<usize>t << 2), mm);
  }
}

/**
 * Pass 2, rows of share tid: CA[t, k] = rne(f32(x16 · f32(127 · f32(1 / SCA[t])))) as int8, 0 in flagged
 * columns and in rows with SCA = 0.
 */
export function int8RowQuant(tid: i32, nth: i32, x: usize, T: i32, K: i32, flags: usize, sca: usize, ca: usize): void {
  const t0 = shareLo(tid, nth, T, 1), t1 = shareLo(tid + 1, nth, T, 1);
  const k8 = K & ~7;
  for (let t = t0; t < t1; t++) {
    const row = x + ((<usize>t * <usize>K) << 2);
    const dst = ca + <usize>t * <usize>K;
    const m = load<f32>(sca + (<usize>t << 2));
    if (m == 0) {
      for (let k = 0; k < K; k++) store<i8>(dst + <usize>k, 0);
      continue;
    }
    const s = f32x4.splat(<f32>(<f32>127 * <f32>(<f32>1 / m)));
    for (let k = 0; k < k8; k += 8) {
      const q0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(roundF16x4(v128.load(row + (<usize>k << 2))), s)));
      const q1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(roundF16x4(v128.load(row + (<usize>k << 2), 16)), s)));
      const q = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.splat(0));
      const keep = v128.load64_zero(flags + <usize>k); // 1 = outlier column
      v128.store64_lane(dst + <usize>k, v128.andnot(q, i8x16.ne(keep, i8x16.splat(0))), 0);
    }
    for (let k = k8; k < K; k++) {
      const h = f32x4.extract_lane(roundF16x4(f32x4.splat(load<f32>(row + (<usize>k << 2)))), 0);
      store<i8>(dst + <usize>k, load<u8>(flags + <usize>k) ? 0 : <i8>(<i32>nearest(<f32>(h * f32x4.extract_lane(s, 0)))));
    }
  }
}
