// Bulk dtype conversions between float32 and the 16-bit float formats, split over shares.
// float32 → 16-bit rounds to nearest, ties to even, exactly like lib/float16.ts (NaN stays a
// quiet NaN with its sign, overflow goes to ±Inf, float16 subnormals are rounded correctly).

import { halfRowsToF32 } from './simd';

// @ts-ignore: decorator
@inline function range(tid: i32, nth: i32, n: i32): i32 {
  // Starts aligned to 8 elements so every share but the last runs whole SIMD iterations.
  const chunks = (n + 7) >> 3;
  return min(n, <i32>((<i64>tid * chunks) / nth) << 3);
}

/** float32 bits (4 lanes) → float16 bits in the low 16 bits of each lane. */
// @ts-ignore: decorator
@inline export function f32ToF16x4(u: v128): v128 {
  const sign = i32x4.shr_u(v128.and(u, i32x4.splat(0x80000000)), 16);
  const a = v128.and(u, i32x4.splat(0x7fffffff));
  // Normal results: rebias, then round the 13 dropped bits to nearest even.
  const odd = v128.and(i32x4.shr_u(a, 13), i32x4.splat(1));
  const normal = i32x4.shr_u(i32x4.add(i32x4.add(a, i32x4.splat(((15 - 127) << 23) + 0xfff)), odd), 13);
  // Results below 2^-14 (float16 subnormals and zero): adding 0.5 makes the float32 adder round
  // at the float16 subnormal step 2^-24; the low bits are then the float16 significand.
  const sub = i32x4.sub(f32x4.add(a, f32x4.splat(0.5)), i32x4.splat(0x3f000000));
  let h = v128.bitselect(sub, normal, i32x4.lt_s(a, i32x4.splat(0x38800000)));
  h = v128.bitselect(i32x4.splat(0x7c00), h, i32x4.gt_s(a, i32x4.splat(0x477fefff))); // ≥ 65520 → Inf
  h = v128.bitselect(i32x4.splat(0x7e00), h, i32x4.gt_s(a, i32x4.splat(0x7f800000))); // NaN
  return v128.or(h, sign);
}

/** float32 bits (4 lanes) → bfloat16 bits in the low 16 bits of each lane. */
// @ts-ignore: decorator
@inline export function f32ToBf16x4(u: v128): v128 {
  const odd = v128.and(i32x4.shr_u(u, 16), i32x4.splat(1));
  const r = i32x4.shr_u(i32x4.add(i32x4.add(u, i32x4.splat(0x7fff)), odd), 16);
  const nan = i32x4.gt_s(v128.and(u, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  return v128.bitselect(v128.or(i32x4.shr_u(u, 16), i32x4.splat(0x40)), r, nan);
}

/** dst[i] = float32(src[i]) for n 16-bit floats (kind 1 = float16, 2 = bfloat16). */
export function halfToF32(tid: i32, nth: i32, src: usize, dst: usize, n: i32, kind: i32): void {
  const i0 = range(tid, nth, n), i1 = range(tid + 1, nth, n);
  if (i1 <= i0) return;
  // The share's range as one "row" (pitch unused).
  if (kind == 1) halfRowsToF32<u16>(src + (<usize>i0 << 1), 0, dst + (<usize>i0 << 2), 1, i1 - i0);
  else halfRowsToF32<i16>(src + (<usize>i0 << 1), 0, dst + (<usize>i0 << 2), 1, i1 - i0);
}

/** dst[i] = round(src[i]) for n float32 values into 16-bit floats (kind 1 = float16, 2 = bfloat16). */
export function f32ToHalf(tid: i32, nth: i32, src: usize, dst: usize, n: i32, kind: i32): void {
  const i1 = range(tid + 1, nth, n);
  let i = range(tid, nth, n);
  for (; i + 8 <= i1; i += 8) {
    const u0 = v128.load(src + (<usize>i << 2)), u1 = v128.load(src + (<usize>i << 2), 16);
    const h0 = kind == 1 ? f32ToF16x4(u0) : f32ToBf16x4(u0);
    const h1 = kind == 1 ? f32ToF16x4(u1) : f32ToBf16x4(u1);
    v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(h0, h1));
  }
  for (; i < i1; i++) {
    const u = i32x4.splat(load<i32>(src + (<usize>i << 2)));
    store<u16>(dst + (<usize>i << 1), <u16>i32x4.extract_lane(kind == 1 ? f32ToF16x4(u) : f32ToBf16x4(u), 0));
  }
}
