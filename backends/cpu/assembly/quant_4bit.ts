// The 4-bit (FP4/NF4) weight matmul (docs/quantization.md §2): dequantizes block by block in
// registers (16-entry table lookups with i8x16.swizzle on byte planes) inside the product. Each
// export runs share `tid` of `nth`, split over output columns. Agrees with ../kernels/quant4.ts
// (the reference) to float32 summation order.

import { fmadd, hsumF, roundKind, shareLo } from './quant_common';

/** Flag bits of q4Gemm. */
const Q4_NESTED = 1;
const Q4_BIAS = 2;
/** Compute dtype = (flags >> Q4_KIND_SHIFT) & 3: 0 float32, 1 float16, 2 bfloat16. */
const Q4_KIND_SHIFT = 2;

/** Float32 absmax of block b (restored from the nested codes with double quantization). */
// @ts-ignore: decorator
@inline function blockScale(absmax: usize, b: i32, nested: bool, nestedAbsmax: usize, nestedMap: usize, offset: f32): f32 {
  if (!nested) return load<f32>(absmax + (<usize>b << 2));
  const q = <usize>load<u8>(absmax + <usize>b);
  return <f32>(<f32>(load<f32>(nestedMap + (q << 2)) * load<f32>(nestedAbsmax + (<usize>(b >> 8) << 2))) + offset);
}

/**
 * Dequantizes `count` (a multiple of 16) weights starting at element `e` (even) of the flat
 * weight into f32 at dst. Per block: the 16-entry table L[c] = f32(map[c]·absmax) (map already in
 * the compute dtype) is split into four byte planes; each group of 16 codes is looked up with four
 * `i8x16.swizzle`s and the bytes are interleaved back into float32 lanes.
 */
function dequantRun(
  packed: usize, e: usize, count: i32, blocksize: i32, map: usize, absmax: usize, nested: bool, nestedAbsmax: usize,
  nestedMap: usize, offset: f32, dst: usize,
): void {
  const m0 = v128.load(map), m1 = v128.load(map, 16), m2 = v128.load(map, 32), m3 = v128.load(map, 48);
  const nibble = i8x16.splat(0x0f);
  let done = 0;
  let b = <i32>(e / <usize>blocksize);
  let end = min(count, <i32>(<usize>(b + 1) * <usize>blocksize - e));
  for (; done < count; b++, end = min(count, end + blocksize)) {
    const s = f32x4.splat(blockScale(absmax, b, nested, nestedAbsmax, nestedMap, offset));
    const l0 = f32x4.mul(m0, s), l1 = f32x4.mul(m1, s), l2 = f32x4.mul(m2, s), l3 = f32x4.mul(m3, s);
    // Byte planes: P_j[c] = byte j of L[c].
    const g0 = i8x16.shuffle(l0, l0, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const g1 = i8x16.shuffle(l1, l1, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const g2 = i8x16.shuffle(l2, l2, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const g3 = i8x16.shuffle(l3, l3, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const t0 = i32x4.shuffle(g0, g1, 0, 4, 1, 5), t1 = i32x4.shuffle(g0, g1, 2, 6, 3, 7);
    const t2 = i32x4.shuffle(g2, g3, 0, 4, 1, 5), t3 = i32x4.shuffle(g2, g3, 2, 6, 3, 7);
    const p0 = i64x2.shuffle(t0, t2, 0, 2), p1 = i64x2.shuffle(t0, t2, 1, 3);
    const p2 = i64x2.shuffle(t1, t3, 0, 2), p3 = i64x2.shuffle(t1, t3, 1, 3);
    for (; done < end; done += 16) {
      const bytes = v128.load64_zero(packed + ((e + <usize>done) >> 1));
      const hi = v128.and(i16x8.shr_u(bytes, 4), nibble);
      const lo = v128.and(bytes, nibble);
      const c = i8x16.shuffle(hi, lo, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const b0 = swz(p0, c), b1 = swz(p1, c), b2 = swz(p2, c), b3 = swz(p3, c);
      const u0 = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const u1 = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const v0 = i8x16.shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const v1 = i8x16.shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const d = dst + (<usize>done << 2);
      v128.store(d, i16x8.shuffle(u0, v0, 0, 8, 1, 9, 2, 10, 3, 11));
      v128.store(d, i16x8.shuffle(u0, v0, 4, 12, 5, 13, 6, 14, 7, 15), 16);
      v128.store(d, i16x8.shuffle(u1, v1, 0, 8, 1, 9, 2, 10, 3, 11), 32);
      v128.store(d, i16x8.shuffle(u1, v1, 4, 12, 5, 13, 6, 14, 7, 15), 48);
    }
  }
}

/** 16-entry byte table lookup (indices are always 0…15). */
// @ts-ignore: decorator
@inline function swz(table: v128, idx: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(table, idx);
  return i8x16.swizzle(table, idx);
}

/** Weights dequantized per step of the k loop, per row (a multiple of every allowed blocksize ≤ 256, and of 16). */
const KC: i32 = 256;
/** Rows of W handled together. */
const NB: i32 = 4;

/**
 * Bytes at the start of a GEMV workspace for the lookup tables and masks, which the GEMV kernels
 * store once and load per row: kept as SIMD values, V8 re-derives them inside the inner loop (it
 * schedules pure SIMD operations next to their uses and rematerializes v128 constants at each
 * use), which cost the float32 kernel a third of its shuffle work.
 */
const TAB_BYTES: i32 = 128;

/** Bytes of workspace one share of q4Gemm needs for inner dimension K. */
export function q4GemmWorkspaceBytes(K: i32): i32 {
  return max(NB * KC * 4, TAB_BYTES + K * 4);
}

/**
 * 4-bit weight matmul, one share of the N columns: y[T, N] = x[T, K] · dequant(W)ᵀ (+ bias), with x
 * float32 already rounded to the compute dtype, and y float32 (rounded to the compute dtype when it
 * is 16-bit). W: packed codes (two per byte, element 2j high), absmax (f32, or u8 codes with
 * nestedAbsmax/nestedMap/offset), map f32[16]. Requires K % 16 == 0 (checked by the caller); blocks
 * may straddle rows. Four weight rows
 * are dequantized KC columns at a time into the workspace, then every token row runs against them
 * (tiles of 2 tokens × 4 rows), accumulating in float32.
 */
/**
 * The decode case (T = 1, float32 compute, K % 32 == 0): 32 weights per step from 16 packed bytes.
 * The high nibbles (even elements) and low nibbles (odd elements) are looked up separately in the
 * constant code table (byte planes built once), against x de-interleaved once per call into `xd`
 * (per 32: the 16 even elements, then the 16 odd ones). Each block's float32 sum is then scaled by
 * its absmax: exact in real arithmetic; in float32 it differs from scaling each weight first by
 * rounding only (≤ ½ ulp per product).
 */
function q4GemvF32(
  x: usize, tab: usize, packed: usize, absmax: usize, map: usize, nested: bool, nestedAbsmax: usize, nestedMap: usize,
  offset: f32, bias: usize, out: usize, K: i32, blocksize: i32, n0: i32, n1: i32, kind: i32,
): void {
  const xd = tab + TAB_BYTES;
  for (let k = 0; k < K; k += 32) {
    const src = x + (<usize>k << 2), dst = xd + (<usize>k << 2);
    for (let j = 0; j < 16; j += 4) {
      const a = v128.load(src + (<usize>j << 3)), b = v128.load(src + (<usize>j << 3), 16);
      v128.store(dst + (<usize>j << 2), i32x4.shuffle(a, b, 0, 2, 4, 6));
      v128.store(dst + (<usize>j << 2), i32x4.shuffle(a, b, 1, 3, 5, 7), 64);
    }
  }
  const l0 = v128.load(map), l1 = v128.load(map, 16), l2 = v128.load(map, 32), l3 = v128.load(map, 48);
  const g0 = i8x16.shuffle(l0, l0, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const g1 = i8x16.shuffle(l1, l1, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const g2 = i8x16.shuffle(l2, l2, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const g3 = i8x16.shuffle(l3, l3, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const t0 = i32x4.shuffle(g0, g1, 0, 4, 1, 5), t1 = i32x4.shuffle(g0, g1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(g2, g3, 0, 4, 1, 5), t3 = i32x4.shuffle(g2, g3, 2, 6, 3, 7);
  v128.store(tab, i64x2.shuffle(t0, t2, 0, 2));
  v128.store(tab, i64x2.shuffle(t0, t2, 1, 3), 16);
  v128.store(tab, i64x2.shuffle(t1, t3, 0, 2), 32);
  v128.store(tab, i64x2.shuffle(t1, t3, 1, 3), 48);
  v128.store(tab, i8x16.splat(0x0f), 64);
  const bs = <usize>blocksize;
  for (let n = n0; n < n1; n++) {
    const p0 = v128.load(tab), p1 = v128.load(tab, 16), p2 = v128.load(tab, 32), p3 = v128.load(tab, 48);
    const nibble = v128.load(tab, 64);
    const e0 = <usize>n * <usize>K;
    let acc = f32x4.splat(0);
    let k: usize = 0;
    let b = <i32>(e0 / bs);
    let end = min(<usize>K, <usize>(b + 1) * bs - e0);
    for (; k < <usize>K; b++, end = min(<usize>K, end + bs)) {
      let s0 = f32x4.splat(0), s1 = s0;
      for (; k < end; k += 32) {
        const bytes = v128.load(packed + ((e0 + k) >> 1));
        const xp = xd + (k << 2);
        let c = v128.and(i16x8.shr_u(bytes, 4), nibble); // even elements
        let b0 = swz(p0, c), b1 = swz(p1, c), b2 = swz(p2, c), b3 = swz(p3, c);
        let u0 = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let u1 = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        let v0 = i8x16.shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        let v1 = i8x16.shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        s0 = fmadd(v128.load(xp), i16x8.shuffle(u0, v0, 0, 8, 1, 9, 2, 10, 3, 11), s0);
        s1 = fmadd(v128.load(xp, 16), i16x8.shuffle(u0, v0, 4, 12, 5, 13, 6, 14, 7, 15), s1);
        s0 = fmadd(v128.load(xp, 32), i16x8.shuffle(u1, v1, 0, 8, 1, 9, 2, 10, 3, 11), s0);
        s1 = fmadd(v128.load(xp, 48), i16x8.shuffle(u1, v1, 4, 12, 5, 13, 6, 14, 7, 15), s1);
        c = v128.and(bytes, nibble); // odd elements
        b0 = swz(p0, c); b1 = swz(p1, c); b2 = swz(p2, c); b3 = swz(p3, c);
        u0 = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        u1 = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        v0 = i8x16.shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        v1 = i8x16.shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        s0 = fmadd(v128.load(xp, 64), i16x8.shuffle(u0, v0, 0, 8, 1, 9, 2, 10, 3, 11), s0);
        s1 = fmadd(v128.load(xp, 80), i16x8.shuffle(u0, v0, 4, 12, 5, 13, 6, 14, 7, 15), s1);
        s0 = fmadd(v128.load(xp, 96), i16x8.shuffle(u1, v1, 0, 8, 1, 9, 2, 10, 3, 11), s0);
        s1 = fmadd(v128.load(xp, 112), i16x8.shuffle(u1, v1, 4, 12, 5, 13, 6, 14, 7, 15), s1);
      }
      const am = f32x4.splat(blockScale(absmax, b, nested, nestedAbsmax, nestedMap, offset));
      acc = fmadd(f32x4.add(s0, s1), am, acc);
    }
    store<f32>(out + (<usize>n << 2), finish(hsumF(acc), bias, n, kind));
  }
}

/** y + bias[n] (the bias in the compute dtype), rounded once to the compute dtype. */
// @ts-ignore: decorator
@inline function finish(y: f32, bias: usize, n: i32, kind: i32): f32 {
  if (bias != 0) y = <f32>(y + roundKind(load<f32>(bias + (<usize>n << 2)), kind));
  return roundKind(y, kind);
}

/**
 * The decode case in bfloat16 (T = 1, K % 32 == 0). A bfloat16 code is the top two bytes of a
 * float32, so 16 codes take two lookups (byte planes 2 and 3) and one byte interleave, which gives
 * eight i16 lanes = bfloat16 bits; the even ones become float32 lanes with a shift left by 16, the
 * odd ones with a mask. That is half the shuffle work of the float32 lookup, the bound of that
 * kernel. x is permuted once per call into `xd` in the lane order this produces (per 32 elements:
 * 0 4 8 12 | 2 6 10 14 | 16 20 24 28 | 18 22 26 30, then the same +1). Block sums are scaled by
 * the float32 absmax, as in q4GemvF32.
 */
function q4GemvBf16(
  x: usize, tab: usize, packed: usize, absmax: usize, map: usize, nested: bool, nestedAbsmax: usize, nestedMap: usize,
  offset: f32, bias: usize, out: usize, K: i32, blocksize: i32, n0: i32, n1: i32,
): void {
  const xd = tab + TAB_BYTES;
  for (let k = 0; k < K; k += 32) {
    // Elements k + 16h … k + 16h + 15 go to vectors 2h, 2h + 1 (even half) and 4 + 2h, 5 + 2h (odd half).
    for (let h = 0; h < 2; h++) {
      const src = x + (<usize>(k + 16 * h) << 2), d = xd + (<usize>k << 2) + (<usize>h << 5);
      const a0 = v128.load(src), a1 = v128.load(src, 16), a2 = v128.load(src, 32), a3 = v128.load(src, 48);
      const t0 = i32x4.shuffle(a0, a1, 0, 4, 1, 5), t1 = i32x4.shuffle(a0, a1, 2, 6, 3, 7);
      const t2 = i32x4.shuffle(a2, a3, 0, 4, 1, 5), t3 = i32x4.shuffle(a2, a3, 2, 6, 3, 7);
      v128.store(d, i32x4.shuffle(t0, t2, 0, 1, 4, 5)); // elements ≡ 0 (mod 4)
      v128.store(d, i32x4.shuffle(t1, t3, 0, 1, 4, 5), 16); // ≡ 2
      v128.store(d, i32x4.shuffle(t0, t2, 2, 3, 6, 7), 64); // ≡ 1
      v128.store(d, i32x4.shuffle(t1, t3, 2, 3, 6, 7), 80); // ≡ 3
    }
  }
  const l0 = v128.load(map), l1 = v128.load(map, 16), l2 = v128.load(map, 32), l3 = v128.load(map, 48);
  const ga = i8x16.shuffle(l0, l1, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  const gb = i8x16.shuffle(l2, l3, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  v128.store(tab, i64x2.shuffle(ga, gb, 0, 2));
  v128.store(tab, i64x2.shuffle(ga, gb, 1, 3), 16);
  v128.store(tab, i8x16.splat(0x0f), 32);
  v128.store(tab, i32x4.splat(0xffff0000), 48);
  const bs = <usize>blocksize;
  for (let n = n0; n < n1; n++) {
    const p2 = v128.load(tab), p3 = v128.load(tab, 16), nibble = v128.load(tab, 32), top = v128.load(tab, 48);
    const e0 = <usize>n * <usize>K;
    let acc = f32x4.splat(0);
    let k: usize = 0;
    let b = <i32>(e0 / bs);
    let end = min(<usize>K, <usize>(b + 1) * bs - e0);
    for (; k < <usize>K; b++, end = min(<usize>K, end + bs)) {
      let s0 = f32x4.splat(0), s1 = s0;
      for (; k < end; k += 32) {
        const bytes = v128.load(packed + ((e0 + k) >> 1));
        const xp = xd + (k << 2);
        let c = v128.and(i16x8.shr_u(bytes, 4), nibble); // even elements
        let lo = swz(p2, c), hi = swz(p3, c);
        let u = i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        s0 = fmadd(v128.load(xp), i32x4.shl(u, 16), s0);
        s1 = fmadd(v128.load(xp, 16), v128.and(u, top), s1);
        u = i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        s0 = fmadd(v128.load(xp, 32), i32x4.shl(u, 16), s0);
        s1 = fmadd(v128.load(xp, 48), v128.and(u, top), s1);
        c = v128.and(bytes, nibble); // odd elements
        lo = swz(p2, c); hi = swz(p3, c);
        u = i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        s0 = fmadd(v128.load(xp, 64), i32x4.shl(u, 16), s0);
        s1 = fmadd(v128.load(xp, 80), v128.and(u, top), s1);
        u = i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        s0 = fmadd(v128.load(xp, 96), i32x4.shl(u, 16), s0);
        s1 = fmadd(v128.load(xp, 112), v128.and(u, top), s1);
      }
      const am = f32x4.splat(blockScale(absmax, b, nested, nestedAbsmax, nestedMap, offset));
      acc = fmadd(f32x4.add(s0, s1), am, acc);
    }
    store<f32>(out + (<usize>n << 2), finish(hsumF(acc), bias, n, 2));
  }
}

export function q4Gemm(
  tid: i32, nth: i32, x: usize, packed: usize, absmax: usize, map: usize, nestedAbsmax: usize, nestedMap: usize, offset: f32,
  bias: usize, out: usize, T: i32, N: i32, K: i32, blocksize: i32, flags: i32, ws: usize, wsStride: i32,
): void {
  const w = ws + <usize>tid * <usize>wsStride;
  const nested = (flags & Q4_NESTED) != 0;
  const kind = (flags >> Q4_KIND_SHIFT) & 3;
  const n0 = shareLo(tid, nth, N, NB), n1 = shareLo(tid + 1, nth, N, NB);
  if (T == 1 && (K & 31) == 0) {
    const b = (flags & Q4_BIAS) != 0 ? bias : 0;
    if (kind == 2) q4GemvBf16(x, w, packed, absmax, map, nested, nestedAbsmax, nestedMap, offset, b, out, K, blocksize, n0, n1);
    else q4GemvF32(x, w, packed, absmax, map, nested, nestedAbsmax, nestedMap, offset, b, out, K, blocksize, n0, n1, kind);
    return;
  }
  const kc = min(K, KC);
  const xPitch = <usize>K << 2;
  const rowPitch = <usize>kc << 2;
  for (let n = n0; n < n1; n += NB) {
    const nr = min(NB, n1 - n);
    // Clear this group's outputs, then accumulate K-chunk by K-chunk.
    for (let t = 0; t < T; t++) for (let r = 0; r < nr; r++) store<f32>(out + ((<usize>t * <usize>N + <usize>(n + r)) << 2), 0);
    for (let k0 = 0; k0 < K; k0 += kc) {
      const len = min(kc, K - k0);
      for (let r = 0; r < nr; r++) {
        dequantRun(packed, <usize>(n + r) * <usize>K + <usize>k0, len, blocksize, map, absmax, nested, nestedAbsmax, nestedMap, offset, w + <usize>r * rowPitch);
      }
      if (nr == NB) tile4(x + (<usize>k0 << 2), xPitch, w, rowPitch, out + (<usize>n << 2), <usize>N << 2, T, len);
      else for (let r = 0; r < nr; r++) tile1(x + (<usize>k0 << 2), xPitch, w + <usize>r * rowPitch, out + (<usize>(n + r) << 2), <usize>N << 2, T, len);
    }
    // Bias and the final rounding to the compute dtype.
    for (let t = 0; t < T; t++) {
      for (let r = 0; r < nr; r++) {
        const p = out + ((<usize>t * <usize>N + <usize>(n + r)) << 2);
        let y = load<f32>(p);
        if (flags & Q4_BIAS) y = <f32>(y + roundKind(load<f32>(bias + (<usize>(n + r) << 2)), kind));
        store<f32>(p, roundKind(y, kind));
      }
    }
  }
}

/** y[t, 0..4] += x[t, 0..len] · w[r, 0..len] for four dequantized rows (pitch rp), tokens in pairs. */
function tile4(x: usize, xp: usize, w: usize, rp: usize, y: usize, yp: usize, T: i32, len: i32): void {
  const w1 = w + rp, w2 = w1 + rp, w3 = w2 + rp;
  const bytes = <usize>len << 2;
  let t = 0;
  for (; t + 2 <= T; t += 2) {
    const xa = x + <usize>t * xp, xb = xa + xp;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
    for (let o: usize = 0; o < bytes; o += 16) {
      const p = v128.load(xa + o), q = v128.load(xb + o);
      let v = v128.load(w + o);
      a0 = fmadd(p, v, a0); c0 = fmadd(q, v, c0);
      v = v128.load(w1 + o);
      a1 = fmadd(p, v, a1); c1 = fmadd(q, v, c1);
      v = v128.load(w2 + o);
      a2 = fmadd(p, v, a2); c2 = fmadd(q, v, c2);
      v = v128.load(w3 + o);
      a3 = fmadd(p, v, a3); c3 = fmadd(q, v, c3);
    }
    const ya = y + <usize>t * yp, yb = ya + yp;
    v128.store(ya, f32x4.add(v128.load(ya), hsum4(a0, a1, a2, a3)));
    v128.store(yb, f32x4.add(v128.load(yb), hsum4(c0, c1, c2, c3)));
  }
  for (; t < T; t++) {
    const xa = x + <usize>t * xp;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (let o: usize = 0; o < bytes; o += 16) {
      const p = v128.load(xa + o);
      a0 = fmadd(p, v128.load(w + o), a0);
      a1 = fmadd(p, v128.load(w1 + o), a1);
      a2 = fmadd(p, v128.load(w2 + o), a2);
      a3 = fmadd(p, v128.load(w3 + o), a3);
    }
    const ya = y + <usize>t * yp;
    v128.store(ya, f32x4.add(v128.load(ya), hsum4(a0, a1, a2, a3)));
  }
}

/** y[t] += x[t, 0..len] · w[0..len] for one dequantized row. */
function tile1(x: usize, xp: usize, w: usize, y: usize, yp: usize, T: i32, len: i32): void {
  const bytes = <usize>len << 2;
  for (let t = 0; t < T; t++) {
    const xa = x + <usize>t * xp;
    let a = f32x4.splat(0);
    for (let o: usize = 0; o < bytes; o += 16) a = fmadd(v128.load(xa + o), v128.load(w + o), a);
    const p = y + <usize>t * yp;
    store<f32>(p, load<f32>(p) + hsumF(a));
  }
}

/** [Σa, Σb, Σc, Σd] of four vectors. */
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5), ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5), cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  const ab = f32x4.add(ab0, ab1), cd = f32x4.add(cd0, cd1);
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}
