// Vector math for the elementwise and row kernels: exp, sigmoid-based SiLU and exact (erf) GELU
// on f32x4, plus loads and stores of 4 elements of a tag type (f32 = float32, u16 = float16,
// i16 = bfloat16; see simd.ts) with one rounding to the stored type. Constants are immediates
// (no static data: see build.mjs). Polynomial coefficients were fitted for this file (weighted
// least squares iterated toward minimax relative error, against 40-digit references).

import { f32ToBf16x4, f32ToF16x4 } from './convert';
import { madd } from './simd';

// @ts-ignore: decorator
@inline function splat(x: f32): v128 {
  return f32x4.splat(x);
}

/** Stores 4 float32 lanes as tag type T at p (16-bit types rounded to nearest even). */
// @ts-ignore: decorator
@inline export function store4<T>(p: usize, v: v128): void {
  if (isFloat<T>()) {
    v128.store(p, v);
  } else {
    const h = isSigned<T>() ? f32ToBf16x4(v) : f32ToF16x4(v);
    v128.store64_lane(p, i16x8.narrow_i32x4_u(h, h), 0);
  }
}

/** Lane 0 of v stored as one element of tag type T at p. */
// @ts-ignore: decorator
@inline export function store1<T>(p: usize, v: v128): void {
  if (isFloat<T>()) store<f32>(p, f32x4.extract_lane(v, 0));
  else store<u16>(p, <u16>i32x4.extract_lane(isSigned<T>() ? f32ToBf16x4(v) : f32ToF16x4(v), 0));
}

/** One element of tag type T at p, in lane 0 (other lanes: copies). */
// @ts-ignore: decorator
@inline export function load1v<T>(p: usize): v128 {
  if (isFloat<T>()) return f32x4.splat(load<f32>(p));
  const h = i32x4.splat(<i32>load<u16>(p));
  return isSigned<T>() ? i32x4.shl(h, 16) : f16Lanes(h);
}

// @ts-ignore: decorator
@inline function f16Lanes(h: v128): v128 {
  const em = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const mag = f32x4.mul(em, f32x4.splat(reinterpret<f32>(0x77800000)));
  const infNan = v128.and(i32x4.gt_s(em, i32x4.splat(0x0f7fffff)), i32x4.splat(0x7f800000));
  return v128.or(v128.or(mag, infNan), sign);
}

/** Rounds 4 float32 lanes to tag type T and widens them back (what storing and reloading gives). */
// @ts-ignore: decorator
@inline export function roundTo<T>(v: v128): v128 {
  if (isFloat<T>()) return v;
  if (isSigned<T>()) return i32x4.shl(f32ToBf16x4(v), 16);
  return f16Lanes(f32ToF16x4(v));
}

/**
 * eˣ on 4 lanes, relative error ≈ 1 ulp: n = round(x·log2 e), r = x − n·ln 2 in two parts
 * (Cody–Waite), eʳ = 1 + r + r²·P(r) with a degree-4 P fitted on |r| ≤ ln2/2, times 2ⁿ built
 * as two powers of two so that results overflow to +Inf and underflow through the subnormals
 * as the true function does. NaN stays NaN.
 */
// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  return exp4Times(x, splat(1.0));
}

/** m·eˣ, rounded once at the end even when the result is subnormal (m·p·2^n1 stays normal). */
// @ts-ignore: decorator
@inline export function exp4Times(x: v128, m: v128): v128 {
  x = f32x4.max(f32x4.min(x, splat(88.8)), splat(-104.0));
  const n = f32x4.nearest(f32x4.mul(x, splat(1.44269502162933349609375)));
  let r = madd(n, splat(-0.693145751953125), x); // ln 2 high part (exact product with n)
  r = madd(n, splat(-1.428606765330187045e-6), r); // ln 2 low part
  let p = madd(r, splat(0.0013901282800361514), splat(0.008363144472241402));
  p = madd(r, p, splat(0.04166685417294502));
  p = madd(r, p, splat(0.16666577756404877));
  p = madd(r, p, splat(0.5));
  p = madd(f32x4.mul(r, r), p, f32x4.add(r, splat(1.0)));
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(f32x4.mul(m, p), s1), s2);
}

/**
 * σ(x) from e = e^(−|x|), which never overflows: 1/(1 + e) for x ≥ 0, e/(1 + e) below, so the
 * left tail keeps its tiny (subnormal) values instead of 1/(1 + Inf) = 0.
 */
// @ts-ignore: decorator
@inline export function sigmoid4(x: v128): v128 {
  const e = exp4(f32x4.neg(f32x4.abs(x)));
  const num = v128.bitselect(e, splat(1.0), f32x4.lt(x, splat(0.0)));
  return f32x4.div(num, f32x4.add(splat(1.0), e));
}

/** x·σ(x): x/(1 + e) for x ≥ 0, (x·e)/(1 + e) below (e = e^(−|x|), as in sigmoid4). */
// @ts-ignore: decorator
@inline export function silu4(x: v128): v128 {
  const nx = f32x4.neg(f32x4.abs(x));
  const e = exp4(nx);
  const num = v128.bitselect(exp4Times(nx, x), x, f32x4.lt(x, splat(0.0)));
  return f32x4.div(num, f32x4.add(splat(1.0), e));
}

/**
 * erfc(t)·e^(t²) for t ≥ 0.5 (only those lanes are used): polynomials in t − 1.25 on
 * [0.5, 2), in 1/t on [2, 4), and t·erfc(t)·e^(t²) in 1/t² on [4, 10] (beyond, the caller's
 * result underflows anyway). Each stays within ~1 ulp when evaluated in float32 (the ranges are
 * cut so that no Horner step cancels).
 */
function erfcScaled(t: v128): v128 {
  const s = f32x4.sub(t, splat(1.25));
  let a = madd(s, splat(6.163353828014806e-05), splat(-0.00019225315190851688));
  a = madd(s, a, splat(0.00047084837569855154));
  a = madd(s, a, splat(-0.0013089455896988511));
  a = madd(s, a, splat(0.0035533756017684937));
  a = madd(s, a, splat(-0.00908578559756279));
  a = madd(s, a, splat(0.022011438384652138));
  a = madd(s, a, splat(-0.05021785944700241));
  a = madd(s, a, splat(0.10679556429386139));
  a = madd(s, a, splat(-0.20882189273834229));
  a = madd(s, a, splat(0.36782291531562805));
  const u = f32x4.div(splat(1.0), t);
  let b = madd(u, splat(0.11190454661846161), splat(-0.264350026845932));
  b = madd(u, b, splat(0.1336510181427002));
  b = madd(u, b, splat(0.2341994047164917));
  b = madd(u, b, splat(-0.36345574259757996));
  b = madd(u, b, splat(0.015688585117459297));
  b = madd(u, b, splat(0.5625495910644531));
  b = madd(u, b, splat(7.287364132935181e-05));
  const w = f32x4.mul(u, u);
  let c = madd(w, splat(-6.294240474700928), splat(3.010556936264038));
  c = madd(w, c, splat(-1.0316157341003418));
  c = madd(w, c, splat(0.42259448766708374));
  c = madd(w, c, splat(-0.2820890545845032));
  c = madd(w, c, splat(0.5641895532608032));
  c = f32x4.mul(c, u);
  const hi = v128.bitselect(c, b, f32x4.ge(t, splat(4.0)));
  return v128.bitselect(a, hi, f32x4.lt(t, splat(2.0)));
}

/**
 * GELU with the exact erf: x/2 · (1 + erf(x/√2)). With z = x/√2: for −0.5 < z < 0.875,
 * erf(z) = z·P(z²); elsewhere 1 + erf(z) is computed as erfc(|z|) (z < 0, no cancellation in the
 * left tail) or 2 − erfc(z), with erfc(|z|) = e^(−z²)·(erfc·e^(t²))(|z|). e^(−z²) = e^(−x²/2)
 * is evaluated from x split into 12 high bits and the rest, so x²/2 = h + l exactly-ish and the
 * exponential sees no rounding of x² (which would cost ~x² ulps).
 */
export function gelu4(x: v128): v128 {
  const z = f32x4.mul(x, splat(0.7071067690849304));
  const t = f32x4.abs(z);
  // small |z|
  const z2 = f32x4.mul(z, z);
  let p = madd(z2, splat(8.67553026182577e-5), splat(-0.0008211138774640858));
  p = madd(z2, p, splat(0.005206750705838203));
  p = madd(z2, p, splat(-0.026861585676670074));
  p = madd(z2, p, splat(0.11283732950687408));
  p = madd(z2, p, splat(-0.37612634897232056));
  p = madd(z2, p, splat(1.128379225730896));
  const onePlusSmall = madd(z, p, splat(1.0));
  // large |z|: e^(−x²/2) with x = xh + xl, x² = xh² + xl·(x + xh), xh² exact (12-bit halves)
  const xc = f32x4.min(f32x4.abs(x), splat(15.0));
  const xh = v128.and(xc, i32x4.splat(0xfffff000));
  const xl = f32x4.sub(xc, xh);
  const e = f32x4.mul(
    exp4(f32x4.mul(f32x4.mul(xh, xh), splat(-0.5))),
    exp4(f32x4.mul(f32x4.mul(xl, f32x4.add(xc, xh)), splat(-0.5))),
  );
  const erfcT = f32x4.mul(e, erfcScaled(f32x4.max(t, splat(0.5))));
  const onePlusLarge = v128.bitselect(erfcT, f32x4.sub(splat(2.0), erfcT), f32x4.lt(z, splat(0.0)));
  // The series for z ≥ −0.5 (1 + erf cannot cancel much there) and z < 0.875; erfc elsewhere.
  const useSmall = v128.and(f32x4.lt(t, splat(0.875)), f32x4.gt(z, splat(-0.5)));
  const onePlus = v128.bitselect(onePlusSmall, onePlusLarge, useSmall);
  // NaN: every comparison fails and the large branch yields NaN through e; keep x's NaN.
  return f32x4.mul(f32x4.mul(x, splat(0.5)), onePlus);
}
