// Elementwise kernels for float32 / float16 / bfloat16 tensors: binary arithmetic (same shape,
// a row broadcast such as a bias or per-channel weight, or a scalar), unary math and casts, and
// SwiGLU (silu(gate)·up). Math is float32 with one rounding to the output type per stored
// value, which for + − × ÷ of 16-bit inputs is the correctly rounded result (float32 has more
// than 2p+2 bits for p = 11 or 8, so rounding twice is harmless), as PyTorch computes it.
//
// Element kinds: 0 float32, 1 float16, 2 bfloat16. Loops are generic over a tag type
// (f32 / u16 / i16, see simd.ts) and an operation tag, so inner loops carry no branches.

import { load4 } from './simd';
import { gelu4, load1v, roundTo, sigmoid4, silu4, exp4, store1, store4 } from './vmath';

/** Start of share `tid` of n elements cut into nth ranges starting at multiples of 8. */
// @ts-ignore: decorator
@inline export function shareStart(tid: i32, nth: i32, n: i32): i32 {
  const chunks = (n + 7) >> 3;
  return min(n, <i32>((<i64>tid * chunks) / nth) << 3);
}

/** Start of share `tid` of n rows (no alignment). */
// @ts-ignore: decorator
@inline export function rowStart(tid: i32, nth: i32, n: i32): i32 {
  return <i32>((<i64>tid * n) / nth);
}

// @ts-ignore: decorator
@inline function es<T>(): usize {
  return isFloat<T>() ? 4 : 2;
}

// Binary operation tags: i8 add, u8 sub, i16 mul, u16 div, i32 rsub (b − a), u32 rdiv (b / a).
// @ts-ignore: decorator
@inline function bop<O>(x: v128, y: v128): v128 {
  if (sizeof<O>() == 1) return isSigned<O>() ? f32x4.add(x, y) : f32x4.sub(x, y);
  if (sizeof<O>() == 2) return isSigned<O>() ? f32x4.mul(x, y) : f32x4.div(x, y);
  return isSigned<O>() ? f32x4.sub(y, x) : f32x4.div(y, x);
}

/** out[i] = a[i] op b[i] (bStep 1) or a[i] op b[0] (bStep 0) for i in [i0, i1). */
function binRange<T, O>(a: usize, b: usize, out: usize, i0: i32, i1: i32, bStep: i32): void {
  const e = es<T>();
  let i = i0;
  if (bStep == 0) {
    const y = f32x4.splat(load<f32>(b)); // scalars come as float32 (exact: 0.5, scale factors)
    for (; i + 4 <= i1; i += 4) store4<T>(out + <usize>i * e, bop<O>(load4<T>(a + <usize>i * e), y));
    for (; i < i1; i++) store1<T>(out + <usize>i * e, bop<O>(load1v<T>(a + <usize>i * e), y));
  } else {
    for (; i + 4 <= i1; i += 4) store4<T>(out + <usize>i * e, bop<O>(load4<T>(a + <usize>i * e), load4<T>(b + <usize>i * e)));
    for (; i < i1; i++) store1<T>(out + <usize>i * e, bop<O>(load1v<T>(a + <usize>i * e), load1v<T>(b + <usize>i * e)));
  }
}

function binaryT<T, O>(tid: i32, nth: i32, a: usize, b: usize, out: usize, n: i32, bn: i32): void {
  if (bn == n || bn == 1) {
    binRange<T, O>(a, b, out, shareStart(tid, nth, n), shareStart(tid + 1, nth, n), bn == 1 ? 0 : 1);
    return;
  }
  // Row broadcast: b is one row of bn elements repeated over n / bn rows.
  const rows = n / bn;
  const r1 = rowStart(tid + 1, nth, rows);
  const rowBytes = <usize>bn * es<T>();
  for (let r = rowStart(tid, nth, rows); r < r1; r++) {
    const off = <usize>r * rowBytes;
    binRange<T, O>(a + off, b, out + off, 0, bn, 1);
  }
}

function binaryK<T>(tid: i32, nth: i32, a: usize, b: usize, out: usize, n: i32, bn: i32, op: i32): void {
  switch (op) {
    case 0: binaryT<T, i8>(tid, nth, a, b, out, n, bn); break;
    case 1: binaryT<T, u8>(tid, nth, a, b, out, n, bn); break;
    case 2: binaryT<T, i16>(tid, nth, a, b, out, n, bn); break;
    case 3: binaryT<T, u16>(tid, nth, a, b, out, n, bn); break;
    case 4: binaryT<T, i32>(tid, nth, a, b, out, n, bn); break;
    default: binaryT<T, u32>(tid, nth, a, b, out, n, bn); break;
  }
}

/**
 * out = a op b, a, b and out of element kind `kind`. a and out hold n elements; b holds n
 * (same shape), 1 (a scalar, always given as float32) or bn dividing n (b repeats along the
 * leading axes: row broadcast).
 * op: 0 add, 1 sub, 2 mul, 3 div, 4 b − a, 5 b / a.
 */
export function binary(tid: i32, nth: i32, a: usize, b: usize, out: usize, n: i32, bn: i32, op: i32, kind: i32): void {
  if (kind == 0) binaryK<f32>(tid, nth, a, b, out, n, bn, op);
  else if (kind == 1) binaryK<u16>(tid, nth, a, b, out, n, bn, op);
  else binaryK<i16>(tid, nth, a, b, out, n, bn, op);
}

// Unary operation tags: i8 identity (cast), u8 silu, i16 gelu, u16 relu, i32 neg, u32 exp, i64 sigmoid.
// @ts-ignore: decorator
@inline function uop<O>(x: v128): v128 {
  if (sizeof<O>() == 1) return isSigned<O>() ? x : silu4(x);
  if (sizeof<O>() == 2) return isSigned<O>() ? gelu4(x) : v128.bitselect(f32x4.splat(0), x, f32x4.lt(x, f32x4.splat(0)));
  if (sizeof<O>() == 4) return isSigned<O>() ? f32x4.neg(x) : exp4(x);
  return sigmoid4(x);
}

function unaryT<TI, TO, O>(tid: i32, nth: i32, x: usize, out: usize, n: i32): void {
  const ei = es<TI>(), eo = es<TO>();
  const i1 = shareStart(tid + 1, nth, n);
  let i = shareStart(tid, nth, n);
  for (; i + 4 <= i1; i += 4) store4<TO>(out + <usize>i * eo, uop<O>(load4<TI>(x + <usize>i * ei)));
  for (; i < i1; i++) store1<TO>(out + <usize>i * eo, uop<O>(load1v<TI>(x + <usize>i * ei)));
}

function unaryK<T>(tid: i32, nth: i32, x: usize, out: usize, n: i32, op: i32): void {
  switch (op) {
    case 1: unaryT<T, T, u8>(tid, nth, x, out, n); break;
    case 2: unaryT<T, T, i16>(tid, nth, x, out, n); break;
    case 3: unaryT<T, T, u16>(tid, nth, x, out, n); break;
    case 4: unaryT<T, T, i32>(tid, nth, x, out, n); break;
    case 5: unaryT<T, T, u32>(tid, nth, x, out, n); break;
    default: unaryT<T, T, i64>(tid, nth, x, out, n); break;
  }
}

function castFrom<TI>(tid: i32, nth: i32, x: usize, out: usize, n: i32, kout: i32): void {
  if (kout == 0) unaryT<TI, f32, i8>(tid, nth, x, out, n);
  else if (kout == 1) unaryT<TI, u16, i8>(tid, nth, x, out, n);
  else unaryT<TI, i16, i8>(tid, nth, x, out, n);
}

/**
 * out = f(x) for n elements. op: 0 cast (kinds may differ), 1 silu, 2 gelu (erf), 3 relu,
 * 4 neg, 5 exp, 6 sigmoid (ops other than cast need kin == kout).
 */
export function unary(tid: i32, nth: i32, x: usize, out: usize, n: i32, op: i32, kin: i32, kout: i32): void {
  if (op == 0) {
    if (kin == 0) castFrom<f32>(tid, nth, x, out, n, kout);
    else if (kin == 1) castFrom<u16>(tid, nth, x, out, n, kout);
    else castFrom<i16>(tid, nth, x, out, n, kout);
  } else if (kin == 0) unaryK<f32>(tid, nth, x, out, n, op);
  else if (kin == 1) unaryK<u16>(tid, nth, x, out, n, op);
  else unaryK<i16>(tid, nth, x, out, n, op);
}

function swigluT<T>(tid: i32, nth: i32, gate: usize, up: usize, out: usize, rows: i32, cols: i32, pitch: i32): void {
  const e = es<T>();
  const r1 = rowStart(tid + 1, nth, rows);
  for (let r = rowStart(tid, nth, rows); r < r1; r++) {
    const g = gate + <usize>r * <usize>pitch * e, u = up + <usize>r * <usize>pitch * e, o = out + <usize>r * <usize>cols * e;
    let c = 0;
    // silu(gate) is rounded to T before the product, as when it is a tensor of its own.
    for (; c + 4 <= cols; c += 4) {
      const off = <usize>c * e;
      store4<T>(o + off, f32x4.mul(roundTo<T>(silu4(load4<T>(g + off))), load4<T>(u + off)));
    }
    for (; c < cols; c++) {
      const off = <usize>c * e;
      store1<T>(o + off, f32x4.mul(roundTo<T>(silu4(load1v<T>(g + off))), load1v<T>(u + off)));
    }
  }
}

/**
 * out[r, c] = silu(gate[r·pitch + c]) · up[r·pitch + c] for rows × cols outputs (dense), kind
 * as in `binary`. pitch = cols for two tensors; 2·cols with up = gate + cols for one fused
 * (rows, 2·cols) gate|up product.
 */
export function swiglu(tid: i32, nth: i32, gate: usize, up: usize, out: usize, rows: i32, cols: i32, pitch: i32, kind: i32): void {
  if (rows == 1 && nth > 1) {
    // One long row (decode): split its columns instead.
    const c0 = shareStart(tid, nth, cols), c1 = shareStart(tid + 1, nth, cols);
    const e: usize = kind == 0 ? 4 : 2;
    const off = <usize>c0 * e;
    swiglu(0, 1, gate + off, up + off, out + off, 1, c1 - c0, pitch, kind);
    return;
  }
  if (kind == 0) swigluT<f32>(tid, nth, gate, up, out, rows, cols, pitch);
  else if (kind == 1) swigluT<u16>(tid, nth, gate, up, out, rows, cols, pitch);
  else swigluT<i16>(tid, nth, gate, up, out, rows, cols, pitch);
}
