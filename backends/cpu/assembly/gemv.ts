// Matrix-vector products for small M (the decode step of a language model): y[M,N] = x[M,K]·Wᵀ
// with W [N, K] (PyTorch Linear orientation), or y = x·B with B [K, N]. Memory-bound: every
// weight is read once and nothing is packed. x must be row-major float32 ([M, K], contiguous).
//
// Weights may be float32 or 16-bit (tag type T, see simd.ts). With M = 1 16-bit weights are
// converted in registers as they stream by; with M ≥ 2 each block of 4 weight rows is converted
// once into the share's workspace (float32, L2-resident) and fed to the float32 kernel, so the
// conversion is not repeated for every row of x.

import {
  f16x8AnyNonFinite, f16x8HiFinite, f16x8HiScaled, f16x8LoFinite, f16x8LoScaled, f16x8Track, bf16x8Hi, bf16x8Lo, halfRowsToF32, hsum, hsum4, load1,
  load4, madd,
} from './simd';

/** Rows of W per block: 4 accumulators per row of x, reduced together by hsum4. */
const ROWS = 4;
/**
 * Columns of a 16-bit block converted at a time for M ≥ 2: 4 rows × 1024 float32 = 16 KiB,
 * which stays in L1 (converting whole 4×K rows into a 64 KiB buffer ran at a third the speed).
 */
const KCHUNK = 1024;
/** Largest M for gemv (the accumulator area holds this many rows of x). */
export const GEMV_MAX_M = 8;
const ACC_BYTES = GEMV_MAX_M * ROWS * 16;

const X_SCALED_OFFSET = ROWS * KCHUNK * 4 + ACC_BYTES;

/** Bytes of workspace one share of gemv needs: a converted chunk, the partial sums, x × 2^112. */
export function gemvWorkspaceBytes(K: i32): i32 {
  return X_SCALED_OFFSET + K * 4;
}

/**
 * Writes x·2^112 (K values) to xs for the float16 M = 1 path, unless some finite |x| ≥ 2^16
 * would overflow (then returns false and that path is not used). Exact: a power-of-two scale.
 */
function scaleX(x: usize, xs: usize, K: i32): bool {
  let big = i32x4.splat(0);
  const k4 = K & ~3;
  for (let k = 0; k < k4; k += 4) {
    const v = v128.load(x + (<usize>k << 2));
    const a = v128.and(v, i32x4.splat(0x7fffffff));
    // 2^16 ≤ |x| < Inf, compared as integers (NaN and Inf propagate correctly through the scaled path).
    big = v128.or(big, v128.and(i32x4.ge_s(a, i32x4.splat(0x47800000)), i32x4.lt_s(a, i32x4.splat(0x7f800000))));
    v128.store(xs + (<usize>k << 2), f32x4.mul(v, f32x4.splat(reinterpret<f32>(0x77800000))));
  }
  if (v128.any_true(big)) return false;
  for (let k = k4; k < K; k++) {
    const v = load<f32>(x + (<usize>k << 2));
    if (Mathf.abs(v) >= 65536 && Mathf.abs(v) < Infinity) return false;
    store<f32>(xs + (<usize>k << 2), v * reinterpret<f32>(0x77800000));
  }
  return true;
}

/**
 * Weight rows [n0, n1) of W [N, K] (rows `pitch` bytes apart, row n at w + n·pitch):
 * y[m, n] = Σ_k x[m, k]·W[n, k]. ws: this share's workspace (gemvWorkspaceBytes(K)).
 */
export function gemvT<T>(x: usize, w: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, ws: usize): void {
  const es = <usize>sizeof<T>();
  const pitch = <usize>K * es;
  const yN = y + (<usize>n0 << 2);
  const w0 = w + <usize>n0 * pitch;
  const rows = n1 - n0;
  if (isFloat<T>()) {
    rowsF32(x, w0, pitch, yN, M, N, K, rows);
    return;
  }
  const xs = ws + X_SCALED_OFFSET;
  const scaled = !isSigned<T>() && M == 1 && rows >= ROWS && scaleX(x, xs, K);
  // Blocks of 4 rows taken from the range's four quarters (see rowsF32: long streams for the
  // prefetchers); the 0–3 rows left over at the end go through the generic path.
  const q = rows >> 2;
  const rs = <usize>q * pitch;
  const ys = <usize>q << 2;
  for (let i = 0; i < q; i++) {
    const wr = w0 + <usize>i * pitch;
    const yr = yN + (<usize>i << 2);
    if (M == 1 && (scaled ? f16BlockM1Scaled(x, xs, wr, rs, yr, ys, K) : halfBlockM1<T>(x, wr, rs, yr, ys, K))) continue;
    halfBlockChunked<T>(x, wr, rs, yr, ys, M, N, K, ws);
  }
  const r = q << 2;
  if (r < rows) leftoverRows<T>(x, w0 + <usize>r * pitch, pitch, yN + (<usize>r << 2), M, N, K, rows - r);
}

/**
 * Four 16-bit weight rows, M ≥ 1 rows of x: converts KCHUNK columns at a time into ws and runs
 * the float32 inner loop on them, carrying the 4·M partial-sum vectors across chunks in ws.
 * Every sum sees the same sequence of operations as in rowsF32 (and halfBlockM1), so results
 * match the single-row path bit for bit.
 */
function halfBlockChunked<T>(x: usize, w0: usize, pitch: usize, y: usize, ys: usize, M: i32, N: i32, K: i32, ws: usize): void {
  const xPitch = <usize>K * 4;
  const yPitch = <usize>N * 4;
  const acc = ws + <usize>(ROWS * KCHUNK * 4);
  const k4 = K & ~3;
  for (let i = 0; i < M * ROWS; i++) v128.store(acc + (<usize>i << 4), f32x4.splat(0));
  for (let k0 = 0; k0 < k4; k0 += KCHUNK) {
    const kc = min(KCHUNK, k4 - k0);
    const cp = <usize>kc * 4; // converted row pitch
    convertChunk4<T>(w0 + (<usize>k0 << 1), pitch, ws, cp, kc);
    let m = 0;
    for (; m + 2 <= M; m += 2) {
      const xa = x + <usize>m * xPitch + (<usize>k0 << 2), xb = xa + xPitch;
      const pa = acc + (<usize>m << 6), pb = pa + 64;
      let a0 = v128.load(pa), a1 = v128.load(pa, 16), a2 = v128.load(pa, 32), a3 = v128.load(pa, 48);
      let b0 = v128.load(pb), b1 = v128.load(pb, 16), b2 = v128.load(pb, 32), b3 = v128.load(pb, 48);
      let wp = ws;
      for (let k = 0; k < kc; k += 4) {
        const xv = v128.load(xa + (<usize>k << 2));
        const xw = v128.load(xb + (<usize>k << 2));
        let v = v128.load(wp);
        a0 = madd(xv, v, a0); b0 = madd(xw, v, b0);
        v = v128.load(wp + cp);
        a1 = madd(xv, v, a1); b1 = madd(xw, v, b1);
        v = v128.load(wp + 2 * cp);
        a2 = madd(xv, v, a2); b2 = madd(xw, v, b2);
        v = v128.load(wp + 3 * cp);
        a3 = madd(xv, v, a3); b3 = madd(xw, v, b3);
        wp += 16;
      }
      v128.store(pa, a0); v128.store(pa, a1, 16); v128.store(pa, a2, 32); v128.store(pa, a3, 48);
      v128.store(pb, b0); v128.store(pb, b1, 16); v128.store(pb, b2, 32); v128.store(pb, b3, 48);
    }
    if (m < M) {
      const xa = x + <usize>m * xPitch + (<usize>k0 << 2);
      const pa = acc + (<usize>m << 6);
      let a0 = v128.load(pa), a1 = v128.load(pa, 16), a2 = v128.load(pa, 32), a3 = v128.load(pa, 48);
      let wp = ws;
      for (let k = 0; k < kc; k += 4) {
        const xv = v128.load(xa + (<usize>k << 2));
        a0 = madd(xv, v128.load(wp), a0);
        a1 = madd(xv, v128.load(wp + cp), a1);
        a2 = madd(xv, v128.load(wp + 2 * cp), a2);
        a3 = madd(xv, v128.load(wp + 3 * cp), a3);
        wp += 16;
      }
      v128.store(pa, a0); v128.store(pa, a1, 16); v128.store(pa, a2, 32); v128.store(pa, a3, 48);
    }
  }
  for (let m = 0; m < M; m++) {
    const pa = acc + (<usize>m << 6);
    let sums = hsum4(v128.load(pa), v128.load(pa, 16), v128.load(pa, 32), v128.load(pa, 48));
    const xa = x + <usize>m * xPitch;
    for (let k = k4; k < K; k++) {
      const p = w0 + (<usize>k << 1);
      const wv = f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(load1<T>(p)),
        1, load1<T>(p + pitch)), 2, load1<T>(p + 2 * pitch)), 3, load1<T>(p + 3 * pitch));
      sums = madd(f32x4.splat(load<f32>(xa + (<usize>k << 2))), wv, sums);
    }
    store4Strided(y + <usize>m * yPitch, ys, sums);
  }
}

/**
 * Converts columns [0, kc) (kc a multiple of 4) of 4 rows of 16-bit weights at src (row pitch
 * in bytes) into float32 rows at dst (pitch cp). The 4 rows are read side by side, 16 bytes of
 * each per step: converting one row's chunk after another ran at under half the bandwidth
 * (the prefetcher loses a stream at every 2 KiB jump).
 */
function convertChunk4<T>(src: usize, pitch: usize, dst: usize, cp: usize, kc: i32): void {
  const k8 = kc & ~7;
  let bad = i16x8.splat(0);
  for (let k = 0; k < k8; k += 8) {
    const s = src + (<usize>k << 1), d = dst + (<usize>k << 2);
    const v0 = v128.load(s), v1 = v128.load(s + pitch), v2 = v128.load(s + 2 * pitch), v3 = v128.load(s + 3 * pitch);
    if (isSigned<T>()) {
      v128.store(d, bf16x8Lo(v0)); v128.store(d, bf16x8Hi(v0), 16);
      v128.store(d + cp, bf16x8Lo(v1)); v128.store(d + cp, bf16x8Hi(v1), 16);
      v128.store(d + 2 * cp, bf16x8Lo(v2)); v128.store(d + 2 * cp, bf16x8Hi(v2), 16);
      v128.store(d + 3 * cp, bf16x8Lo(v3)); v128.store(d + 3 * cp, bf16x8Hi(v3), 16);
    } else {
      bad = f16x8Track(f16x8Track(bad, v0), v1);
      bad = f16x8Track(f16x8Track(bad, v2), v3);
      v128.store(d, f16x8LoFinite(v0)); v128.store(d, f16x8HiFinite(v0), 16);
      v128.store(d + cp, f16x8LoFinite(v1)); v128.store(d + cp, f16x8HiFinite(v1), 16);
      v128.store(d + 2 * cp, f16x8LoFinite(v2)); v128.store(d + 2 * cp, f16x8HiFinite(v2), 16);
      v128.store(d + 3 * cp, f16x8LoFinite(v3)); v128.store(d + 3 * cp, f16x8HiFinite(v3), 16);
    }
  }
  // Inf/NaN present (float16 only), or a 4-column tail: convert exactly, 4 at a time.
  const from = !isSigned<T>() && f16x8AnyNonFinite(bad) ? 0 : k8;
  for (let r = 0; r < ROWS; r++) {
    for (let k = from; k < kc; k += 4) v128.store(dst + <usize>r * cp + (<usize>k << 2), load4<T>(src + <usize>r * pitch + (<usize>k << 1)));
  }
}

/** y[m, j] for `rows` float32 weight rows at w (pitch bytes apart); y points at column 0 of the block. */
function rowsF32(x: usize, w: usize, pitch: usize, y: usize, M: i32, N: i32, K: i32, rows: i32): void {
  const xPitch = <usize>K * 4;
  const yPitch = <usize>N * 4;
  const k4 = K & ~3;
  // A block's four rows come from the four quarters of the range (rows i, q + i, 2q + i,
  // 3q + i), so each accumulator walks one long contiguous stretch of memory: with short rows
  // (K = 768: 3 KiB) four adjacent rows made four streams that restarted every 12 KiB, and
  // the hardware prefetchers never got going (single-thread GEMV at K = 768 read ~11 GB/s vs
  // ~20 GB/s at K = 4096). Each row's sum is computed exactly as before: results unchanged.
  const q = rows >> 2;
  const rs = <usize>q * pitch; // distance between a block's rows
  const ys = <usize>q << 2; // and between their outputs
  for (let i = 0; i < q; i++) {
    const w0 = w + <usize>i * pitch;
    const yc = y + (<usize>i << 2);
    let m = 0;
    for (; m + 2 <= M; m += 2) {
      const xa = x + <usize>m * xPitch, xb = xa + xPitch;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      let wp = w0;
      for (let k = 0; k < k4; k += 4) {
        const xv = v128.load(xa + (<usize>k << 2));
        const xw = v128.load(xb + (<usize>k << 2));
        let v = v128.load(wp);
        a0 = madd(xv, v, a0); b0 = madd(xw, v, b0);
        v = v128.load(wp + rs);
        a1 = madd(xv, v, a1); b1 = madd(xw, v, b1);
        v = v128.load(wp + 2 * rs);
        a2 = madd(xv, v, a2); b2 = madd(xw, v, b2);
        v = v128.load(wp + 3 * rs);
        a3 = madd(xv, v, a3); b3 = madd(xw, v, b3);
        wp += 16;
      }
      store4Strided(yc + <usize>m * yPitch, ys, tail4(hsum4(a0, a1, a2, a3), xa, w0, rs, k4, K));
      store4Strided(yc + <usize>(m + 1) * yPitch, ys, tail4(hsum4(b0, b1, b2, b3), xb, w0, rs, k4, K));
    }
    if (m < M) {
      const xa = x + <usize>m * xPitch;
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let wp = w0;
      for (let k = 0; k < k4; k += 4) {
        const xv = v128.load(xa + (<usize>k << 2));
        a0 = madd(xv, v128.load(wp), a0);
        a1 = madd(xv, v128.load(wp + rs), a1);
        a2 = madd(xv, v128.load(wp + 2 * rs), a2);
        a3 = madd(xv, v128.load(wp + 3 * rs), a3);
        wp += 16;
      }
      store4Strided(yc + <usize>m * yPitch, ys, tail4(hsum4(a0, a1, a2, a3), xa, w0, rs, k4, K));
    }
  }
  const r = q << 2;
  leftoverRows<f32>(x, w + <usize>r * pitch, pitch, y + (<usize>r << 2), M, N, K, rows - r);
}

/** Lanes 0–3 of v to p, p + stride, p + 2·stride, p + 3·stride. */
// @ts-ignore: decorator
@inline function store4Strided(p: usize, stride: usize, v: v128): void {
  v128.store32_lane(p, v, 0);
  v128.store32_lane(p + stride, v, 1);
  v128.store32_lane(p + 2 * stride, v, 2);
  v128.store32_lane(p + 3 * stride, v, 3);
}

/**
 * Rows that do not fill a block of 4 (at most 3, at the end of N): one dot product each,
 * summed in the same order as a lane of the 4-row paths.
 */
function leftoverRows<T>(x: usize, w: usize, pitch: usize, y: usize, M: i32, N: i32, K: i32, rows: i32): void {
  const es = <usize>sizeof<T>();
  const xPitch = <usize>K * 4;
  const yPitch = <usize>N * 4;
  const k4 = K & ~3;
  for (let r = 0; r < rows; r++) {
    const wr = w + <usize>r * pitch;
    for (let m = 0; m < M; m++) {
      const xa = x + <usize>m * xPitch;
      let acc = f32x4.splat(0);
      for (let k = 0; k < k4; k += 4) acc = madd(v128.load(xa + (<usize>k << 2)), load4<T>(wr + <usize>k * es), acc);
      let s = f32x4.replace_lane(f32x4.splat(0), 0, hsum(acc));
      for (let k = k4; k < K; k++) s = madd(f32x4.splat(load<f32>(xa + (<usize>k << 2))), f32x4.splat(load1<T>(wr + <usize>k * es)), s);
      store<f32>(y + <usize>m * yPitch + (<usize>r << 2), f32x4.extract_lane(s, 0));
    }
  }
}

/** Adds the K % 4 trailing products of 4 float32 weight rows to their sums (lane r = row r). */
// @ts-ignore: decorator
@inline function tail4(sums: v128, xa: usize, w0: usize, pitch: usize, k4: i32, K: i32): v128 {
  for (let k = k4; k < K; k++) {
    const p = w0 + (<usize>k << 2);
    const wv = f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(load<f32>(p)),
      1, load<f32>(p + pitch)), 2, load<f32>(p + 2 * pitch)), 3, load<f32>(p + 3 * pitch));
    sums = madd(f32x4.splat(load<f32>(xa + (<usize>k << 2))), wv, sums);
  }
  return sums;
}

/**
 * M = 1, four 16-bit weight rows converted in registers, 8 weights per row per step. Sums in
 * the same order as rowsF32 on the converted rows. Returns false, having written nothing, when
 * a float16 row holds Inf/NaN (the fast conversion does not handle them): the caller then
 * takes the exact path.
 */
function halfBlockM1<T>(x: usize, w0: usize, pitch: usize, y: usize, ys: usize, K: i32): bool {
  const k8 = K & ~7;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let bad = i16x8.splat(0);
  let wp = w0;
  for (let k = 0; k < k8; k += 8) {
    const xl = v128.load(x + (<usize>k << 2)), xh = v128.load(x + (<usize>k << 2), 16);
    const v0 = v128.load(wp), v1 = v128.load(wp + pitch), v2 = v128.load(wp + 2 * pitch), v3 = v128.load(wp + 3 * pitch);
    if (isSigned<T>()) {
      a0 = madd(xh, bf16x8Hi(v0), madd(xl, bf16x8Lo(v0), a0));
      a1 = madd(xh, bf16x8Hi(v1), madd(xl, bf16x8Lo(v1), a1));
      a2 = madd(xh, bf16x8Hi(v2), madd(xl, bf16x8Lo(v2), a2));
      a3 = madd(xh, bf16x8Hi(v3), madd(xl, bf16x8Lo(v3), a3));
    } else {
      bad = f16x8Track(f16x8Track(bad, v0), v1);
      bad = f16x8Track(f16x8Track(bad, v2), v3);
      a0 = madd(xh, f16x8HiFinite(v0), madd(xl, f16x8LoFinite(v0), a0));
      a1 = madd(xh, f16x8HiFinite(v1), madd(xl, f16x8LoFinite(v1), a1));
      a2 = madd(xh, f16x8HiFinite(v2), madd(xl, f16x8LoFinite(v2), a2));
      a3 = madd(xh, f16x8HiFinite(v3), madd(xl, f16x8LoFinite(v3), a3));
    }
    wp += 16;
  }
  if (!isSigned<T>() && f16x8AnyNonFinite(bad)) return false;
  return halfBlockM1Tail<T>(x, w0, pitch, y, ys, K, k8, a0, a1, a2, a3);
}

/** Columns [k8, K) of a 4-row 16-bit block (exact conversion), the horizontal sums, the store. */
// @ts-ignore: decorator
@inline function halfBlockM1Tail<T>(x: usize, w0: usize, pitch: usize, y: usize, ys: usize, K: i32, k8: i32, a0: v128, a1: v128, a2: v128, a3: v128): bool {
  let k = k8;
  const wp = w0 + (<usize>k8 << 1);
  if (k + 4 <= K) {
    const xv = v128.load(x + (<usize>k << 2));
    a0 = madd(xv, load4<T>(wp), a0);
    a1 = madd(xv, load4<T>(wp + pitch), a1);
    a2 = madd(xv, load4<T>(wp + 2 * pitch), a2);
    a3 = madd(xv, load4<T>(wp + 3 * pitch), a3);
    k += 4;
  }
  let sums = hsum4(a0, a1, a2, a3);
  for (; k < K; k++) {
    const p = w0 + (<usize>k << 1);
    const wv = f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(load1<T>(p)),
      1, load1<T>(p + pitch)), 2, load1<T>(p + 2 * pitch)), 3, load1<T>(p + 3 * pitch));
    sums = madd(f32x4.splat(load<f32>(x + (<usize>k << 2))), wv, sums);
  }
  store4Strided(y, ys, sums);
  return true;
}

/**
 * halfBlockM1 for float16 weights with x pre-scaled by 2^112 (xs, see scaleX): the weights are
 * left × 2^-112, saving the rebias multiply; products and sums are identical. Returns false
 * when a row holds Inf/NaN.
 */
function f16BlockM1Scaled(x: usize, xs: usize, w0: usize, pitch: usize, y: usize, ys: usize, K: i32): bool {
  const k8 = K & ~7;
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
  let bad = i16x8.splat(0);
  let wp = w0;
  for (let k = 0; k < k8; k += 8) {
    const xl = v128.load(xs + (<usize>k << 2)), xh = v128.load(xs + (<usize>k << 2), 16);
    const v0 = v128.load(wp), v1 = v128.load(wp + pitch), v2 = v128.load(wp + 2 * pitch), v3 = v128.load(wp + 3 * pitch);
    bad = f16x8Track(f16x8Track(bad, v0), v1);
    bad = f16x8Track(f16x8Track(bad, v2), v3);
    a0 = madd(xh, f16x8HiScaled(v0), madd(xl, f16x8LoScaled(v0), a0));
    a1 = madd(xh, f16x8HiScaled(v1), madd(xl, f16x8LoScaled(v1), a1));
    a2 = madd(xh, f16x8HiScaled(v2), madd(xl, f16x8LoScaled(v2), a2));
    a3 = madd(xh, f16x8HiScaled(v3), madd(xl, f16x8LoScaled(v3), a3));
    wp += 16;
  }
  if (f16x8AnyNonFinite(bad)) return false;
  return halfBlockM1Tail<u16>(x, w0, pitch, y, ys, K, k8, a0, a1, a2, a3);
}

/** y[m, n0:n1] for B [K, N] row-major: 16 columns of accumulators swept down all K rows. */
export function gemvN<T>(x: usize, b: usize, y: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const es = <usize>sizeof<T>();
  const pitch = <usize>N * es;
  const xPitch = <usize>K * 4;
  const yPitch = <usize>N * 4;
  for (let m = 0; m < M; m++) {
    const xr = x + <usize>m * xPitch;
    const yr = y + <usize>m * yPitch;
    let n = n0;
    for (; n + 16 <= n1; n += 16) {
      let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
      let bp = b + <usize>n * es;
      for (let k = 0; k < K; k++) {
        const xv = v128.load32_splat(xr + (<usize>k << 2));
        a0 = madd(xv, load4<T>(bp), a0);
        a1 = madd(xv, load4<T>(bp + 4 * es), a1);
        a2 = madd(xv, load4<T>(bp + 8 * es), a2);
        a3 = madd(xv, load4<T>(bp + 12 * es), a3);
        bp += pitch;
      }
      const yp = yr + (<usize>n << 2);
      v128.store(yp, a0); v128.store(yp, a1, 16); v128.store(yp, a2, 32); v128.store(yp, a3, 48);
    }
    for (; n < n1; n++) {
      let acc = f32x4.splat(0);
      let bp = b + <usize>n * es;
      for (let k = 0; k < K; k++) {
        acc = madd(f32x4.splat(load<f32>(xr + (<usize>k << 2))), f32x4.splat(load1<T>(bp)), acc);
        bp += pitch;
      }
      store<f32>(yr + (<usize>n << 2), f32x4.extract_lane(acc, 0));
    }
  }
}
