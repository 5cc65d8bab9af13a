/**
 * IEEE binary16 (float16) and bfloat16 codecs. Both directions round to nearest, ties to even,
 * and are exact on every one of the 65,536 bit patterns: NaN stays NaN (quiet), ±Inf, ±0 and
 * subnormals round-trip.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Decodes one float16 bit pattern to a number. */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero or subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

/**
 * Table of all 65,536 float16 values: decoding is one indexed load. NaNs are written as float32
 * bits so they keep their sign and payload (quieted), like bfloat16 decoding and hardware
 * conversions do; a JavaScript NaN would lose the sign.
 */
export const F16_TO_F32: Float32Array = (() => {
  const t = new Float32Array(65536);
  const bits = new Uint32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) bits[h] = ((h & 0x8000) << 16) | 0x7fc00000 | ((h & 0x3ff) << 13);
    else t[h] = f16BitsToNumber(h);
  }
  return t;
})();

/**
 * Float32 bits of `x` rounded to odd: exact when x is a float32, else the neighbour whose last
 * bit is 1. Rounding that to a format with at least 2 fewer significand bits (float16: 11,
 * bfloat16: 8) gives the correctly rounded result of x itself, without double-rounding errors.
 */
function f32BitsRoundToOdd(x: number): number {
  f32[0] = x;
  let b = u32[0];
  if (f32[0] !== x && x === x && !(b & 1) && Math.abs(x) < 3.4028234663852886e38) {
    b = Math.abs(f32[0]) > Math.abs(x) ? b - 1 : b + 1;
  }
  return b >>> 0;
}

/**
 * Encodes a number to float16 bits with round-to-nearest-even. Overflow goes to ±Inf, NaN to
 * the quiet NaN 0x7e00 (sign kept).
 */
export function numberToF16Bits(x: number): number {
  const b = f32BitsRoundToOdd(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  // Unbiased exponent e = exp - 127; float16 normal range is e in [-14, 15].
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal: keep 10 of 23 mantissa bits, round the 13 dropped ones to nearest even.
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // carry may bump the exponent: correct
    return sign | h;
  }
  if (e < -25) return sign; // below half the smallest subnormal: ±0
  // Subnormal: the float16 integer significand is (1.mant)·2^(e+24), i.e. the 24-bit float32
  // significand shifted right by -e-1 bits (14 … 24).
  mant |= 0x800000;
  const dropBits = -e - 1;
  const h = mant >>> dropBits;
  const rest = mant & ((1 << dropBits) - 1);
  const half = 1 << (dropBits - 1);
  return sign | (rest > half || (rest === half && (h & 1)) ? h + 1 : h);
}

/** Decodes one bfloat16 bit pattern to a number. */
export function bf16BitsToNumber(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** Encodes a number to bfloat16 bits (round to nearest even on the float32 bits; NaN stays NaN). */
export function numberToBf16Bits(x: number): number {
  const b = f32BitsRoundToOdd(x);
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Decodes a float16 array into float32. */
export function decodeF16(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) dst[i] = F16_TO_F32[src[i]];
  return dst;
}

/** Encodes float32 values into float16 bits. */
export function encodeF16(src: ArrayLike<number>, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = numberToF16Bits(src[i]);
  return dst;
}

/** Decodes a bfloat16 array into float32. */
export function decodeBf16(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
  return dst;
}

/** Encodes float32 values into bfloat16 bits. */
export function encodeBf16(src: ArrayLike<number>, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = numberToBf16Bits(src[i]);
  return dst;
}
