// Moving data in and out of an attention tile: packing Q, K and V (converting 16-bit floats to
// float32 on the way), adding a broadcast mask to the score tile, and storing output rows with
// one rounding to the output dtype. Element types are tag types (simd.ts): f32 = float32,
// u16 = float16, i16 = bfloat16.

import { bf16x8Hi, bf16x8Lo, f16x8AnyNonFinite, f16x8HiFinite, f16x8LoFinite, f16x8Track, load1, load4 } from './simd';
import { f32ToBf16x4, f32ToF16x4 } from './convert';

/**
 * Packs `nr` query rows (row q at rowPtr[q], an array of byte pointers) into 8-query panels,
 * e-major (dst[panel][e][q % 8]), times `scale`; pads the last panel with zeros.
 */
export function packQ<T>(rowPtrs: usize, nr: i32, E: i32, scale: f32, dst: usize): void {
  const es = <usize>sizeof<T>();
  const sc = f32x4.splat(scale);
  const e4 = E & ~3;
  const n8 = (nr + 7) & ~7;
  for (let q = 0; q < n8; q++) {
    let d = dst + <usize>((q >> 3) * E * 32 + (q & 7) * 4);
    if (q >= nr) {
      for (let e = 0; e < E; e++) store<f32>(d + <usize>(e * 32), 0);
      continue;
    }
    const src = load<usize>(rowPtrs + (<usize>q << 2));
    let e = 0;
    for (; e < e4; e += 4) {
      const v = f32x4.mul(load4<T>(src + <usize>e * es), sc);
      v128.store32_lane(d, v, 0);
      v128.store32_lane(d, v, 1, 32);
      v128.store32_lane(d, v, 2, 64);
      v128.store32_lane(d, v, 3, 96);
      d += 128;
    }
    for (; e < E; e++) {
      store<f32>(d, load1<T>(src + <usize>e * es) * scale);
      d += 32;
    }
  }
}

// 16-bit rows are converted 8 values per load on the fast path (simd.ts: exact for finite
// float16, always exact for bfloat16); a float16 row holding an Inf or NaN is redone with the
// exact 4-wide conversion, so results never depend on the path.

/** The first / second 4 of 8 values at p as float32 (T: f32 reads two vectors; 16-bit types unpack one). */
// @ts-ignore: decorator
@inline function lo8<T>(p: usize, v: v128): v128 {
  if (isFloat<T>()) return v128.load(p);
  return isSigned<T>() ? bf16x8Lo(v) : f16x8LoFinite(v);
}
// @ts-ignore: decorator
@inline function hi8<T>(p: usize, v: v128): v128 {
  if (isFloat<T>()) return v128.load(p, 16);
  return isSigned<T>() ? bf16x8Hi(v) : f16x8HiFinite(v);
}
/** The raw vector of 8 16-bit values at p (unused for f32). */
// @ts-ignore: decorator
@inline function raw8<T>(p: usize): v128 {
  return isFloat<T>() ? i32x4.splat(0) : v128.load(p);
}
/** Folds v into the Inf/NaN tracker (float16 only). */
// @ts-ignore: decorator
@inline function track<T>(bad: v128, v: v128): v128 {
  return !isFloat<T>() && !isSigned<T>() ? f16x8Track(bad, v) : bad;
}
// @ts-ignore: decorator
@inline function anyBad<T>(bad: v128): bool {
  return !isFloat<T>() && !isSigned<T>() && f16x8AnyNonFinite(bad);
}

/** Packs key row s (E values) into a 5-key panel column at d (value e at d + 20·e). */
function packKRow<T>(s: usize, E: i32, d: usize, exact: bool): bool {
  const es = <usize>sizeof<T>();
  let e = 0;
  let bad = i32x4.splat(0);
  if (!exact) {
    for (; e + 8 <= E; e += 8) {
      const p = s + <usize>e * es;
      const v = raw8<T>(p);
      bad = track<T>(bad, v);
      const a = lo8<T>(p, v), b = hi8<T>(p, v);
      v128.store32_lane(d, a, 0); v128.store32_lane(d, a, 1, 20); v128.store32_lane(d, a, 2, 40); v128.store32_lane(d, a, 3, 60);
      v128.store32_lane(d, b, 0, 80); v128.store32_lane(d, b, 1, 100); v128.store32_lane(d, b, 2, 120); v128.store32_lane(d, b, 3, 140);
      d += 160;
    }
  }
  for (; e + 4 <= E; e += 4) {
    const v = load4<T>(s + <usize>e * es);
    v128.store32_lane(d, v, 0); v128.store32_lane(d, v, 1, 20); v128.store32_lane(d, v, 2, 40); v128.store32_lane(d, v, 3, 60);
    d += 80;
  }
  for (; e < E; e++) {
    store<f32>(d, load1<T>(s + <usize>e * es));
    d += 20;
  }
  return anyBad<T>(bad);
}

/**
 * Packs keys [0, nk) (key j at src + j·pitch bytes) into 5-key panels, e-major
 * (dst[panel][e][j % 5]); the rows that pad the last panel are zero.
 */
export function packK<T>(src: usize, pitch: usize, nk: i32, E: i32, dst: usize): void {
  const n5 = (nk + 4) / 5 * 5;
  for (let j = 0; j < n5; j++) {
    const d = dst + <usize>((j / 5) * E * 20 + (j % 5) * 4);
    if (j >= nk) {
      for (let e = 0; e < E; e++) store<f32>(d + <usize>(e * 20), 0);
      continue;
    }
    const s = src + <usize>j * pitch;
    if (packKRow<T>(s, E, d, false)) packKRow<T>(s, E, d, true);
  }
}

/** Packs value row s (Ev values) into key slot d of the 8-column panels (panel stride panelBytes). */
function packVRow<T>(s: usize, Ev: i32, d: usize, panelBytes: usize, exact: bool): bool {
  const es = <usize>sizeof<T>();
  const full = Ev >> 3;
  let bad = i32x4.splat(0);
  for (let p = 0; p < full; p++) {
    const sp = s + <usize>(p * 8) * es;
    if (exact) {
      v128.store(d, load4<T>(sp));
      v128.store(d, load4<T>(sp + 4 * es), 16);
    } else {
      const v = raw8<T>(sp);
      bad = track<T>(bad, v);
      v128.store(d, lo8<T>(sp, v));
      v128.store(d, hi8<T>(sp, v), 16);
    }
    d += panelBytes;
  }
  if (Ev & 7) {
    for (let c = 0; c < 8; c++) {
      const col = full * 8 + c;
      store<f32>(d + <usize>(c * 4), col < Ev ? load1<T>(s + <usize>col * es) : 0);
    }
  }
  return anyBad<T>(bad);
}

/**
 * Packs values of keys [0, nk) (key j at src + j·pitch bytes, Ev elements) into 8-column
 * panels, key-major (dst[panel][j][c], panel stride panelBytes); columns past Ev are zero.
 */
export function packV<T>(src: usize, pitch: usize, nk: i32, Ev: i32, dst: usize, panelBytes: usize): void {
  for (let j = 0; j < nk; j++) {
    const s = src + <usize>j * pitch;
    const d = dst + <usize>(j * 32);
    if (packVRow<T>(s, Ev, d, panelBytes, false)) packVRow<T>(s, Ev, d, panelBytes, true);
  }
}

/**
 * Converts rows [0, n) (row j at src + j·pitch bytes, E values) to dense float32 rows of
 * `ep` ≥ E floats at dst (zero past E), for the few-row (decode) path.
 */
export function convertRows<T>(src: usize, pitch: usize, n: i32, E: i32, ep: i32, dst: usize): void {
  const es = <usize>sizeof<T>();
  for (let j = 0; j < n; j++) {
    const s = src + <usize>j * pitch;
    const d = dst + <usize>(j * ep * 4);
    let e = 0;
    let bad = i32x4.splat(0);
    for (; e + 8 <= E; e += 8) {
      const p = s + <usize>e * es;
      const v = raw8<T>(p);
      bad = track<T>(bad, v);
      v128.store(d + (<usize>e << 2), lo8<T>(p, v));
      v128.store(d + (<usize>e << 2), hi8<T>(p, v), 16);
    }
    if (anyBad<T>(bad)) e = 0; // redo the row exactly
    for (; e + 4 <= E; e += 4) v128.store(d + (<usize>e << 2), load4<T>(s + <usize>e * es));
    for (; e < E; e++) store<f32>(d + (<usize>e << 2), load1<T>(s + <usize>e * es));
    for (; e < ep; e++) store<f32>(d + (<usize>e << 2), 0);
  }
}

/**
 * Adds mask values to the scores of queries [0, nr) for keys [0, nk) (score tile: query q's
 * score for key j at st + (q/4)·gs + 16·j + 4·(q%4)): query q's mask row starts at rowPtrs[q]
 * (a byte pointer to key 0), the tile's first key is kOff bytes further, and each key step is
 * `kStep` bytes (0 when the key axis broadcasts). kind: 1 bool (false → −∞, a select so masked scores cannot leak), 2 float32,
 * 3 float16, 4 bfloat16 (added times log2e, since scores are in log2 units).
 */
export function applyMask(st: usize, gs: usize, nr: i32, nk: i32, rowPtrs: usize, kOff: usize, kStep: usize, kind: i32): void {
  const LOG2E: f32 = 1.4426950408889634;
  const F32_MAX: f32 = 3.4028234663852886e38;
  for (let q = 0; q < nr; q++) {
    let m = load<usize>(rowPtrs + (<usize>q << 2)) + kOff;
    let s = st + <usize>(q >> 2) * gs + (<usize>(q & 3) << 2);
    if (kind == 1) {
      for (let j = 0; j < nk; j++) {
        if (!load<u8>(m)) store<f32>(s, -Infinity);
        m += kStep;
        s += 16;
      }
    } else {
      for (let j = 0; j < nk; j++) {
        const b = kind == 2 ? load<f32>(m) : kind == 3 ? load1<u16>(m) : load1<i16>(m);
        // A finite bias must stay finite in log2 units: float32's min (a "soft" mask, not −∞)
        // times log2e would overflow to −∞ and turn a uniform row into a fully masked one.
        const b2 = Mathf.abs(b) < Infinity ? min(max(b * LOG2E, -F32_MAX), F32_MAX) : b;
        store<f32>(s, load<f32>(s) + b2);
        m += kStep;
        s += 16;
      }
    }
  }
}

/**
 * Stores Ev float32 values src[i] / l at dst in the output dtype (kind 0 float32, 1 float16,
 * 2 bfloat16), rounding once.
 */
export function storeRow(src: usize, l: f32, dst: usize, Ev: i32, kind: i32): void {
  const sc = f32x4.splat(l);
  const e4 = Ev & ~3;
  let e = 0;
  if (kind == 0) {
    for (; e < e4; e += 4) v128.store(dst + (<usize>e << 2), f32x4.div(v128.load(src + (<usize>e << 2)), sc));
    for (; e < Ev; e++) store<f32>(dst + (<usize>e << 2), load<f32>(src + (<usize>e << 2)) / l);
    return;
  }
  for (; e < e4; e += 4) {
    const v = f32x4.div(v128.load(src + (<usize>e << 2)), sc);
    const h = kind == 1 ? f32ToF16x4(v) : f32ToBf16x4(v);
    v128.store64_lane(dst + (<usize>e << 1), i16x8.narrow_i32x4_u(h, h), 0);
  }
  for (; e < Ev; e++) {
    const v = f32x4.splat(load<f32>(src + (<usize>e << 2)) / l);
    const h = kind == 1 ? f32ToF16x4(v) : f32ToBf16x4(v);
    store<u16>(dst + (<usize>e << 1), <u16>i32x4.extract_lane(h, 0));
  }
}

/** Writes Ev zeros in the output dtype (a row that attends no key). */
export function zeroRow(dst: usize, Ev: i32, kind: i32): void {
  memory.fill(dst, 0, <usize>Ev * (kind == 0 ? 4 : 2));
}
