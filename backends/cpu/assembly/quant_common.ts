// Helpers shared by the quantized kernels (quant_int8.ts, quant_4bit.ts): share splitting,
// horizontal sums, fused multiply-add, and float16/bfloat16 rounding of float32 values.

/** [lo, hi) of share tid when n items are cut into nth ranges starting at multiples of `align`. */
// @ts-ignore: decorator
@inline export function shareLo(tid: i32, nth: i32, n: i32, align: i32): i32 {
  const chunks = (n + align - 1) / align;
  return min(n, <i32>((<i64>tid * chunks) / nth) * align);
}

/** Sum of the four i32 lanes. */
// @ts-ignore: decorator
@inline export function hsumI(v: v128): i32 {
  const s = i32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return i32x4.extract_lane(i32x4.add(s, i32x4.shuffle(s, s, 1, 0, 3, 2)), 0);
}

/** Sum of the four f32 lanes, in the order ((l0 + l2) + (l1 + l3)). */
// @ts-ignore: decorator
@inline export function hsumF(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.add(s, i32x4.shuffle(s, s, 1, 0, 3, 2)), 0);
}

/** c + a·b: one fused instruction in the relaxed-SIMD build, mul then add otherwise. */
// @ts-ignore: decorator
@inline export function fmadd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** float32 → float16 bits, round to nearest even (overflow → ±inf, NaN → quiet NaN). */
export function f32ToF16(x: f32): u32 {
  const b = reinterpret<u32>(x);
  const sign = (b >> 16) & 0x8000;
  const exp = <i32>((b >> 23) & 0xff);
  let mant = b & 0x7fffff;
  if (exp == 0xff) return sign | (mant != 0 ? 0x7e00 : 0x7c00);
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    let h = (<u32>(e + 15) << 10) | (mant >> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) h++;
    return sign | h;
  }
  if (e < -25) return sign;
  mant |= 0x800000;
  const drop = <u32>(-e - 1);
  const h = mant >> drop;
  const rest = mant & ((1 << drop) - 1);
  const half = <u32>1 << (drop - 1);
  return sign | (rest > half || (rest == half && (h & 1) != 0) ? h + 1 : h);
}

/** float16 bits → float32. */
export function f16ToF32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp == 0) {
    const v = <f32>mant * reinterpret<f32>(0x33800000); // 2^-24
    return reinterpret<f32>(reinterpret<u32>(v) | sign);
  }
  if (exp == 0x1f) return reinterpret<f32>(sign | 0x7f800000 | (mant << 13));
  return reinterpret<f32>(sign | ((exp + 112) << 23) | (mant << 13));
}

/** x rounded to float16 (kind 1) or bfloat16 (kind 2), as float32; kind 0 leaves it. */
// @ts-ignore: decorator
@inline export function roundKind(x: f32, kind: i32): f32 {
  if (kind == 1) return f16ToF32(f32ToF16(x));
  if (kind == 2) {
    const b = reinterpret<u32>(x);
    if ((b & 0x7f800000) == 0x7f800000 && (b & 0x7fffff) != 0) return x;
    return reinterpret<f32>((b + 0x7fff + ((b >> 16) & 1)) & 0xffff0000);
  }
  return x;
}
