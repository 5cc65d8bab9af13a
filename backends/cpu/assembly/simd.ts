// Shared SIMD helpers for the kernels: multiply-add (fused when built with relaxed SIMD),
// horizontal sums, and 16-bit float conversions done with integer SIMD ops. No static data:
// every constant is an immediate, so the module has no data segments to re-apply when each
// worker instantiates it on the shared memory.

/** c + a·b: one fused instruction in the relaxed-SIMD build, mul then add otherwise. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/**
 * Four float16 values held in the low 16 bits of each u32 lane → float32. Exact for every input:
 * (h & 0x7fff) << 13 read as a float32 is h's magnitude scaled by 2^-112 (subnormals included,
 * since the float32 subnormal encoding lines up), so one multiply by 2^112 fixes the exponent;
 * Inf/NaN (exponent 31) then get the all-ones float32 exponent or-ed in.
 */
// @ts-ignore: decorator
@inline export function f16x4ToF32(h: v128): v128 {
  const em = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const mag = f32x4.mul(em, f32x4.splat(reinterpret<f32>(0x77800000))); // × 2^112
  const infNan = v128.and(i32x4.gt_s(em, i32x4.splat(0x0f7fffff)), i32x4.splat(0x7f800000));
  return v128.or(v128.or(mag, infNan), sign);
}

/** Four bfloat16 values in the low 16 bits of each u32 lane → float32 (a shift). */
// @ts-ignore: decorator
@inline export function bf16x4ToF32(h: v128): v128 {
  return i32x4.shl(h, 16);
}

/** Loads 4 consecutive 16-bit floats at p and widens them to float32 (kind 1 = f16, 2 = bf16). */
// @ts-ignore: decorator
@inline export function load4Half(p: usize, kind: i32): v128 {
  const h = v128.load16x4_u(p);
  return kind == 1 ? f16x4ToF32(h) : bf16x4ToF32(h);
}

/** One 16-bit float at p → float32 (scalar path for tails). */
// @ts-ignore: decorator
@inline export function loadHalf(p: usize, kind: i32): f32 {
  const h = i32x4.splat(<i32>load<u16>(p));
  return f32x4.extract_lane(kind == 1 ? f16x4ToF32(h) : bf16x4ToF32(h), 0);
}

// Kernels that read float32 or 16-bit weights are generic over a tag type T chosen at compile
// time, so the inner loops carry no dtype branch: f32 = float32, u16 = float16, i16 = bfloat16.

/** Four consecutive elements of tag type T at p, as f32x4. */
// @ts-ignore: decorator
@inline export function load4<T>(p: usize): v128 {
  if (isFloat<T>()) return v128.load(p);
  const h = v128.load16x4_u(p);
  return isSigned<T>() ? bf16x4ToF32(h) : f16x4ToF32(h);
}

/** One element of tag type T at p, as f32. */
// @ts-ignore: decorator
@inline export function load1<T>(p: usize): f32 {
  if (isFloat<T>()) return load<f32>(p);
  return loadHalf(p, isSigned<T>() ? 2 : 1);
}

/** Sum of the four lanes. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.add(s, i32x4.shuffle(s, s, 1, 0, 3, 2)), 0);
}

/** [Σa, Σb, Σc, Σd]: the four horizontal sums packed into one vector (transpose-and-add). */
// @ts-ignore: decorator
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab0 = i32x4.shuffle(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
  const ab1 = i32x4.shuffle(a, b, 2, 6, 3, 7); // a2 b2 a3 b3
  const cd0 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const cd1 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  const ab = f32x4.add(ab0, ab1); // a0+a2 b0+b2 a1+a3 b1+b3
  const cd = f32x4.add(cd0, cd1);
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/**
 * The four float16 values in lanes 0–3 (lo) or 4–7 (hi) of 8 packed halves → float32, for
 * finite inputs only (Inf/NaN come out finite; check blocks with f16x8NonFinite and redo them
 * with f16x4ToF32, tracking them with f16x8Track). Interleaving with zero puts each half in the top 16 bits of a lane (one
 * unpack); an arithmetic shift by 3 lines the exponent and mantissa up with float32's while the
 * sign stays in bit 31; masking the sign copies and one multiply by 2^112 rebias it. Four
 * operations per four values instead of nine.
 */
// @ts-ignore: decorator
@inline export function f16x8LoFinite(v: v128): v128 {
  return f16TopToF32(i16x8.shuffle(i16x8.splat(0), v, 0, 8, 1, 9, 2, 10, 3, 11));
}

// @ts-ignore: decorator
@inline export function f16x8HiFinite(v: v128): v128 {
  return f16TopToF32(i16x8.shuffle(i16x8.splat(0), v, 4, 12, 5, 13, 6, 14, 7, 15));
}

// @ts-ignore: decorator
@inline function f16TopToF32(x: v128): v128 {
  return f32x4.mul(f16TopScaled(x), f32x4.splat(reinterpret<f32>(0x77800000)));
}

/** A float16 in the top half of each lane → float32 holding that value × 2^-112 (exact; see f16x8LoScaled). */
// @ts-ignore: decorator
@inline function f16TopScaled(x: v128): v128 {
  return v128.and(i32x4.shr_s(x, 3), i32x4.splat(0x8fffe000));
}

/**
 * Like f16x8LoFinite/HiFinite without the final multiply: each value comes out × 2^-112
 * (exactly: float16 subnormals become float32 subnormals with the same bits). Multiplying by
 * x·2^112 instead of x gives the same real product, so sums are bit-identical, for one
 * operation less per 4 weights; valid while |x| < 2^16 (x·2^112 must stay finite).
 */
// @ts-ignore: decorator
@inline export function f16x8LoScaled(v: v128): v128 {
  return f16TopScaled(i16x8.shuffle(i16x8.splat(0), v, 0, 8, 1, 9, 2, 10, 3, 11));
}

// @ts-ignore: decorator
@inline export function f16x8HiScaled(v: v128): v128 {
  return f16TopScaled(i16x8.shuffle(i16x8.splat(0), v, 4, 12, 5, 13, 6, 14, 7, 15));
}

/**
 * Inf/NaN tracking for f16x8*Finite: `seen = f16x8Track(seen, v)` per vector of 8 halves (two
 * operations: shift the sign out, unsigned max), then f16x8AnyNonFinite(seen) once per block.
 */
// @ts-ignore: decorator
@inline export function f16x8Track(seen: v128, v: v128): v128 {
  return i16x8.max_u(seen, i16x8.shl(v, 1));
}

/** Whether any value folded into `seen` by f16x8Track was Inf or NaN (exponent bits all ones). */
// @ts-ignore: decorator
@inline export function f16x8AnyNonFinite(seen: v128): bool {
  return v128.any_true(i16x8.ge_u(seen, i16x8.splat(<i16>0xf800)));
}

/** Lanes 0–3 / 4–7 of 8 packed bfloat16 values → float32 (exact: one unpack). */
// @ts-ignore: decorator
@inline export function bf16x8Lo(v: v128): v128 {
  return i16x8.shuffle(i16x8.splat(0), v, 0, 8, 1, 9, 2, 10, 3, 11);
}

// @ts-ignore: decorator
@inline export function bf16x8Hi(v: v128): v128 {
  return i16x8.shuffle(i16x8.splat(0), v, 4, 12, 5, 13, 6, 14, 7, 15);
}

/**
 * Converts `rows` rows of K 16-bit floats (tag T: u16 = float16, i16 = bfloat16) at src (row
 * pitch in bytes) into dense float32 rows at dst (pitch K·4). Exact for every input: float16
 * rows take the fast finite path and are redone exactly when they hold an Inf or NaN.
 */
export function halfRowsToF32<T>(src: usize, pitch: usize, dst: usize, rows: i32, K: i32): void {
  const k8 = K & ~7;
  for (let r = 0; r < rows; r++) {
    const s = src + <usize>r * pitch;
    const d = dst + <usize>r * <usize>K * 4;
    let bad = i16x8.splat(0);
    for (let k = 0; k < k8; k += 8) {
      const v = v128.load(s + (<usize>k << 1));
      const o = d + (<usize>k << 2);
      if (isSigned<T>()) {
        v128.store(o, bf16x8Lo(v));
        v128.store(o, bf16x8Hi(v), 16);
      } else {
        bad = f16x8Track(bad, v);
        v128.store(o, f16x8LoFinite(v));
        v128.store(o, f16x8HiFinite(v), 16);
      }
    }
    if (!isSigned<T>() && f16x8AnyNonFinite(bad)) {
      for (let k = 0; k < k8; k += 4) v128.store(d + (<usize>k << 2), f16x4ToF32(v128.load16x4_u(s + (<usize>k << 1))));
    }
    for (let k = k8; k < K; k++) store<f32>(d + (<usize>k << 2), load1<T>(s + (<usize>k << 1)));
  }
}
