// The arithmetic of one attention tile: the two register-blocked products (scores = K·Qᵀ and
// O += P·V), the vector exp2 the online softmax needs, and a scalar log2 for the logsumexp.
//
// The score tile is kept transposed and grouped by 4 queries: ST[g][key][4] holds the scores of
// queries 4g…4g+3 for one key in one vector. So (a) the online softmax of 4 queries is one
// vector op per key (running max and sum with no horizontal reductions), walking memory
// sequentially, and (b) the tile is already the packed A operand of the P·V product (4 query
// rows, key-major), so P needs no packing.

import { madd } from './simd';

/**
 * Scores of 5 keys × 8 queries: pa: packed K panel (E × 5 floats, e-major); pb: packed Q panel
 * (E × 8 floats); c: ST at (group of query0, key0); the second 4 queries' group is gs bytes on.
 * Same register shape as gemm's 5×8 kernel (the largest V8 keeps in its xmm registers).
 */
export function tileQK(E: i32, pa: usize, pb: usize, c: usize, gs: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  for (let e = 0; e < E; e++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    a = v128.load32_splat(pa, 16);
    c40 = madd(a, b0, c40); c41 = madd(a, b1, c41);
    pa += 20;
    pb += 32;
  }
  // Stored in the order the accumulators pair up (as in gemm): other orders made V8 keep extra
  // registers live across the loop and spill (measured 26 vs 50 GFLOP/s).
  const d = c + gs;
  v128.store(c, c00); v128.store(d, c01);
  v128.store(c, c10, 16); v128.store(d, c11, 16);
  v128.store(c, c20, 32); v128.store(d, c21, 32);
  v128.store(c, c30, 48); v128.store(d, c31, 48);
  v128.store(c, c40, 64); v128.store(d, c41, 64);
}

/**
 * O[4 queries × 8 columns] = alpha ⊙ O + P·V over nk keys. pa: ST group (nk × 4 floats of P,
 * key-major); pb: packed V panel (nk × 8 floats); c: O at (query0, column0), ldc bytes per
 * query; alpha: the 4 queries' online-softmax rescale factors, applied in the epilogue (one
 * multiply per output per key tile instead of a separate pass). 4×8 rather than gemm's 5×8 so
 * that A is exactly one softmax vector per key; with FMA it runs within ~5% of 5×8.
 */
export function tilePV(nk: i32, pa: usize, pb: usize, c: usize, ldc: usize, alpha: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < nk; k++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  // One row at a time (load, scale-add, store) so the epilogue needs no extra registers.
  let s = v128.load32_splat(alpha);
  v128.store(c, madd(v128.load(c), s, c00)); v128.store(c, madd(v128.load(c, 16), s, c01), 16); c += ldc;
  s = v128.load32_splat(alpha, 4);
  v128.store(c, madd(v128.load(c), s, c10)); v128.store(c, madd(v128.load(c, 16), s, c11), 16); c += ldc;
  s = v128.load32_splat(alpha, 8);
  v128.store(c, madd(v128.load(c), s, c20)); v128.store(c, madd(v128.load(c, 16), s, c21), 16); c += ldc;
  s = v128.load32_splat(alpha, 12);
  v128.store(c, madd(v128.load(c), s, c30)); v128.store(c, madd(v128.load(c, 16), s, c31), 16);
}

// 2^f on [-0.5, 0.5]: degree-5 polynomial fitted for relative error (max 1.9e-7 evaluated in
// float32, i.e. under 2 ulp); the constant term is exactly 1.
const P1: f32 = 0.6931470036506653;
const P2: f32 = 0.24022242426872253;
const P3: f32 = 0.05550733581185341;
const P4: f32 = 0.009671512991189957;
const P5: f32 = 0.001326472614891827;
/** 1.5·2^23: adding it rounds a float in [-2^22, 2^22] to an integer held in the low mantissa bits. */
const ROUND: f32 = 12582912.0;

/**
 * 2^x for x ≤ 0 (scores minus the running max), four lanes. −∞ gives exactly 0 and NaN stays
 * NaN. Inputs below −127 flush to 0 (they are under 2^-126 relative to the row maximum, far
 * below float32 resolution of the sum). About a dozen vector ops: clamp, round with the 1.5·2^23
 * trick (whose low bits are also the integer exponent), polynomial, and an exponent shift.
 */
// @ts-ignore: decorator
@inline export function exp2Neg(x: v128): v128 {
  // pmax is one instruction (maxps); x < -127 ? -127 : x keeps NaN.
  const xc = f32x4.pmax(x, f32x4.splat(-127));
  const r = f32x4.add(xc, f32x4.splat(ROUND));
  const f = f32x4.sub(xc, f32x4.sub(r, f32x4.splat(ROUND)));
  let p = madd(f32x4.splat(P5), f, f32x4.splat(P4));
  p = madd(p, f, f32x4.splat(P3));
  p = madd(p, f, f32x4.splat(P2));
  p = madd(p, f, f32x4.splat(P1));
  p = madd(p, f, f32x4.splat(1));
  // r's bits are 0x4B400000 + n; shifting (bits + 127) left by 23 drops the 0x4B4 part and
  // leaves the biased exponent of 2^n (0 — the value 0 — for n = -127).
  const scale = i32x4.shl(i32x4.add(r, i32x4.splat(127)), 23);
  return f32x4.mul(p, scale);
}

/** 2^x for one x ≤ 0 (see exp2Neg). */
// @ts-ignore: decorator
@inline export function exp2NegScalar(x: f32): f32 {
  return f32x4.extract_lane(exp2Neg(f32x4.splat(x)), 0);
}

/**
 * log2(x) for finite x > 0, in float64 (used once per output row, for the logsumexp). Written
 * out because the standard library's table-driven log would add a data segment to the module.
 * x = 2^k·m with m in [√½, √2); log(m) = 2·atanh(z), z = (m − 1)/(m + 1), |z| ≤ 0.172, whose
 * odd series to z^13 is accurate to ~1e-13.
 */
export function log2Pos(x: f64): f64 {
  let bits = reinterpret<i64>(x);
  let k = <i32>((bits >> 52) & 0x7ff) - 1023;
  if (k == -1023) {
    // Subnormal: scale up by 2^64 first.
    bits = reinterpret<i64>(x * 18446744073709551616.0);
    k = <i32>((bits >> 52) & 0x7ff) - 1023 - 64;
  }
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000);
  if (m > 1.4142135623730951) {
    m *= 0.5;
    k++;
  }
  const z = (m - 1) / (m + 1);
  const z2 = z * z;
  const s = z * (2 + z2 * (2.0 / 3 + z2 * (2.0 / 5 + z2 * (2.0 / 7 + z2 * (2.0 / 9 + z2 * (2.0 / 11 + z2 * (2.0 / 13)))))));
  return <f64>k + s * 1.4426950408889634;
}
