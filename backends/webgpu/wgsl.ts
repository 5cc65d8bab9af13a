/**
 * WGSL snippets for storage formats. Every tensor is bound as `array<u32>` words unless a kernel
 * asks for a vector view: float32/int32 are one element per word, float16/bfloat16 two (raw bits,
 * element 2w in the low half), int8/uint8/bool four (element 4w in the low byte). Kernels that
 * write 16- or 8-bit outputs own whole words, so no two invocations ever write the same word.
 */

import type { DType } from '../../lib/dtype.js';
import { isFloat } from '../../lib/dtype.js';

/** Elements per 32-bit word for a dtype's storage. */
export function perWord(dtype: DType): 1 | 2 | 4 {
  switch (dtype) {
    case 'float16': case 'bfloat16': return 2;
    case 'int8': case 'uint8': case 'bool': return 4;
    default: return 1;
  }
}

/** The WGSL type a kernel computes in for a dtype: floats in f32, everything else in i32. */
export function computeType(dtype: DType): 'f32' | 'i32' {
  return isFloat(dtype) ? 'f32' : 'i32';
}

/** Shared helpers: NaN test by bits (immune to fast-math), float→half/bfloat16 bits, wrapping casts. */
export const COMMON = /* wgsl */ `
fn inf_f() -> f32 { var b = 0x7f800000u; return bitcast<f32>(b); }
fn nan_f() -> f32 { var b = 0x7fc00000u; return bitcast<f32>(b); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn f16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  let s = (b >> 16u) & 0x8000u;
  if ((b & 0x7fffffffu) > 0x7f800000u) { return s | 0x7e00u; }
  if (abs(x) >= 65520.0) { return s | 0x7c00u; }
  return pack2x16float(vec2<f32>(x, 0.0)) & 0xffffu;
}
fn bf16_bits(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  if ((b & 0x7fffffffu) > 0x7f800000u) { return ((b >> 16u) | 0x40u) & 0xffffu; }
  return ((b + 0x7fffu + ((b >> 16u) & 1u)) >> 16u) & 0xffffu;
}
fn f16_val(h: u32) -> f32 { return unpack2x16float(h & 0xffffu).x; }
fn bf16_val(h: u32) -> f32 { return bitcast<f32>((h & 0xffffu) << 16u); }
fn f2i_wrap(x: f32) -> i32 {
  if ((bitcast<u32>(x) & 0x7fffffffu) >= 0x7f800000u) { return 0; }
  let t = trunc(x);
  if (abs(t) < 2147483648.0) { return i32(t); }
  let hi = floor(t / 4294967296.0);
  return bitcast<i32>(u32(t - hi * 4294967296.0));
}
fn wrap_i8(v: i32) -> i32 { return (v << 24u) >> 24u; }
// An integer as f32 rounded to odd: exact when it fits 24 bits, else the neighbour with an odd
// last bit. Rounding that to float16/bfloat16 then gives the correctly rounded integer (no double
// rounding through a nearest-even f32).
fn i2f_odd(x: i32) -> f32 {
  let m = select(bitcast<u32>(x), bitcast<u32>(-x), x < 0);
  var f: f32;
  if (m < 16777216u) { f = f32(m); } else {
    let shift = 8u - countLeadingZeros(m);
    var mant = m >> shift;
    if ((m & ((1u << shift) - 1u)) != 0u) { mant = mant | 1u; }
    f = ldexp(f32(mant), i32(shift));
  }
  return select(f, -f, x < 0);
}
fn wrap_u8(v: i32) -> i32 { return v & 0xff; }
`;

/**
 * `fn <fn>(i: u32) -> <ct>`: element i of binding `buf` (an array<u32>) of `dtype`, converted to the
 * compute type `ct`.
 */
export function loadFn(fn: string, buf: string, dtype: DType, ct: 'f32' | 'i32'): string {
  let raw: string; // expression of the storage dtype's natural WGSL type
  let rawType: 'f32' | 'i32';
  switch (dtype) {
    case 'float32': raw = `bitcast<f32>(${buf}[i])`; rawType = 'f32'; break;
    case 'float16': raw = `unpack2x16float(${buf}[i >> 1u])[i & 1u]`; rawType = 'f32'; break;
    case 'bfloat16': raw = `bitcast<f32>(((${buf}[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu) << 16u)`; rawType = 'f32'; break;
    case 'int32': raw = `bitcast<i32>(${buf}[i])`; rawType = 'i32'; break;
    case 'int8': raw = `bitcast<i32>(${buf}[i >> 2u] << (24u - 8u * (i & 3u))) >> 24u`; rawType = 'i32'; break;
    case 'uint8': case 'bool': raw = `i32((${buf}[i >> 2u] >> (8u * (i & 3u))) & 0xffu)`; rawType = 'i32'; break;
  }
  const conv = rawType === ct ? raw : ct === 'f32' ? `f32(${raw})` : `i32(${raw})`;
  return `fn ${fn}(i: u32) -> ${ct} { return ${conv}; }`;
}

/** `fn <fn>(x: <ct>) -> u32`: one element's storage bits (low bits) for `dtype`, with PyTorch-like casts (NaN → bool is true). */
export function bitsFn(fn: string, dtype: DType, ct: 'f32' | 'i32'): string {
  // Integers go to 16-bit floats through a round-to-odd f32 (one correct rounding).
  const f = ct === 'f32' ? 'x' : dtype === 'float16' || dtype === 'bfloat16' ? 'i2f_odd(x)' : 'f32(x)';
  const i = ct === 'i32' ? 'x' : 'f2i_wrap(x)';
  let body: string;
  switch (dtype) {
    case 'float32': body = `bitcast<u32>(${f})`; break;
    case 'float16': body = `f16_bits(${f})`; break;
    case 'bfloat16': body = `bf16_bits(${f})`; break;
    case 'int32': body = `bitcast<u32>(${i})`; break;
    case 'int8': case 'uint8': body = `bitcast<u32>(${i}) & 0xffu`; break;
    case 'bool': body = ct === 'f32' ? `select(0u, 1u, x != 0.0 || is_nan(x))` : `select(0u, 1u, x != 0)`; break;
  }
  return `fn ${fn}(x: ${ct}) -> u32 { return ${body}; }`;
}

/**
 * Code that stores a word of an output: `values(j)` is the WGSL expression of element j of the word
 * (j < perWord), `bits` the bits function from `bitsFn`. Elements past `n` (the tensor size) are
 * written as 0 (they are padding).
 */
export function packWord(dtype: DType, bits: string, values: (j: number) => string, base: string, n: string): string {
  const k = perWord(dtype);
  if (k === 1) return `${bits}(${values(0)})`;
  const parts: string[] = [];
  for (let j = 0; j < k; j++) {
    const shift = (32 / k) * j;
    const guard = j === 0 ? '' : `select(0u, `;
    const v = `${bits}(${values(j)})${shift ? ` << ${shift}u` : ''}`;
    parts.push(j === 0 ? v : `${guard}${v}, ${base} + ${j}u < ${n})`);
  }
  return parts.join(' | ');
}
