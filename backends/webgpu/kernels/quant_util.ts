/**
 * WGSL shared by the quantization kernels: a correctly rounded float32 division (WGSL's `/` may be
 * off by 2.5 ulp, and a reciprocal off by one ulp changes codes at the thresholds), 4-bit and
 * 8-bit code access, and the encoders (thresholds come in as uniforms, so no float literal is
 * re-parsed).
 */

import { FP4_CODE, NF4_THRESHOLDS, FP4_THRESHOLDS, type QuantType } from '../../../lib/quant_codes.js';
import type { Uniforms } from '../program.js';

export const QUANT_WGSL = /* wgsl */ `
// a / b rounded to nearest even, for a, b > 0 normal with a normal quotient; other inputs fall
// back to the hardware division. Restoring long division of the 24-bit significands.
fn div_rn(a: f32, b: f32) -> f32 {
  let ab = bitcast<u32>(a); let bb = bitcast<u32>(b);
  let ea = i32((ab >> 23u) & 0xffu); let eb = i32((bb >> 23u) & 0xffu);
  if (ea == 0 || eb == 0 || ea == 255 || eb == 255 || (ab >> 31u) != 0u || (bb >> 31u) != 0u) { return a / b; }
  let B = (bb & 0x7fffffu) | 0x800000u;
  var r = (ab & 0x7fffffu) | 0x800000u;
  var e = ea - eb;
  if (r < B) { r = r << 1u; e = e - 1; }
  var q = 0u;
  for (var i = 0u; i < 25u; i++) { q = q << 1u; if (r >= B) { r = r - B; q = q | 1u; } r = r << 1u; }
  var m = q >> 1u;
  if ((q & 1u) == 1u && (r != 0u || (m & 1u) == 1u)) { m = m + 1u; }
  if (m == 0x1000000u) { m = m >> 1u; e = e + 1; }
  let be = e + 127;
  if (be <= 0 || be >= 255) { return a / b; }
  return bitcast<f32>((u32(be) << 23u) | (m & 0x7fffffu));
}
// Byte i of a uint8/int8 buffer viewed as u32 words.
fn byte_at(w: u32, i: u32) -> u32 { return (w >> (8u * (i & 3u))) & 0xffu; }
`;

/** `fn code4(i: u32) -> u32`: the 4-bit code of element i (element 2j in the high nibble) from binding `buf`. */
export function code4Fn(buf: string): string {
  return `fn code4(i: u32) -> u32 { let byte = byte_at(${buf}[i >> 3u], i >> 1u); return select(byte >> 4u, byte & 15u, (i & 1u) == 1u); }`;
}

/** Adds the encoder's thresholds (and FP4's codes) to a uniform block. */
export function encoderUniforms(u: Uniforms, quantType: QuantType): Uniforms {
  if (quantType === 'nf4') return u.f32('thr', Array.from(NF4_THRESHOLDS));
  // FP4: magnitude thresholds largest first; the magnitude code above each is the code of the
  // next-largest level (codes 0–7 sorted by |level| descending).
  const order = [0, 1, 2, 3, 4, 5, 6, 7].sort((a, b) => FP4_CODE[b] - FP4_CODE[a]);
  return u.f32('thr', Array.from(FP4_THRESHOLDS)).u32('fcode', order.slice(0, FP4_THRESHOLDS.length));
}

/** `fn enc4(s: f32) -> u32`: NF4 (nearest level, ties down, NaN → 0) or FP4 (sign bit + magnitude thresholds, ties down). */
export function enc4Fn(quantType: QuantType): string {
  if (quantType === 'nf4') {
    return `fn enc4(s: f32) -> u32 { var c = 0u; for (var t = 0u; t < ${NF4_THRESHOLDS.length}u; t++) { if (s > u_thr(t)) { c = c + 1u; } } return c; }`;
  }
  return (
    `fn enc4(s: f32) -> u32 { let sign = select(0u, 8u, s < 0.0); let a = abs(s);\n` +
    `  for (var t = 0u; t < ${FP4_THRESHOLDS.length}u; t++) { if (a > u_thr(t)) { return sign | u_fcode(t); } }\n  return sign; }`
  );
}
