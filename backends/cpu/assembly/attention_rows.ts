// The few-row path of the attention kernel: blocks of at most 4 query rows (decode: L = 1, one
// row per query head of a kv head). The tiled path's 8-query score panels and 4-query P·V
// panels would be mostly padding there, and its K packing would cost more than the products, so
// K rows are only converted to float32 and scored by dot products, and a single row gets its
// own P·V. The score tile keeps the tiled path's layout (group 0: key j at 16·j, row r at 4·r),
// so the softmax, mask and (for 2–4 rows) P·V code is shared.

import { hsum, hsum4, madd } from './simd';

/**
 * Scores of rows [0, 4) (q: 4 rows of ep floats, scaled; rows past the real ones are zero) for
 * keys [0, nk) (k: rows of ep floats) into the score tile: st + 16·j holds the 4 rows' scores.
 */
export function scores4(q: usize, k: usize, nk: i32, ep: i32, st: usize): void {
  const rb = <usize>ep << 2;
  for (let j = 0; j < nk; j++) {
    const kj = k + <usize>j * rb;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let o: usize = 0; o < rb; o += 16) {
      const kv = v128.load(kj + o);
      a0 = madd(v128.load(q + o), kv, a0);
      a1 = madd(v128.load(q + rb + o), kv, a1);
      a2 = madd(v128.load(q + 2 * rb + o), kv, a2);
      a3 = madd(v128.load(q + 3 * rb + o), kv, a3);
    }
    v128.store(st + (<usize>j << 4), hsum4(a0, a1, a2, a3));
  }
}

/** Scores of one row q (ep floats, scaled) for keys [0, nk), 4 keys per pass, into lane 0 of st + 16·j. */
export function scores1(q: usize, k: usize, nk: i32, ep: i32, st: usize): void {
  const rb = <usize>ep << 2;
  let j = 0;
  for (; j + 4 <= nk; j += 4) {
    const k0 = k + <usize>j * rb;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let o: usize = 0; o < rb; o += 16) {
      const qv = v128.load(q + o);
      a0 = madd(qv, v128.load(k0 + o), a0);
      a1 = madd(qv, v128.load(k0 + rb + o), a1);
      a2 = madd(qv, v128.load(k0 + 2 * rb + o), a2);
      a3 = madd(qv, v128.load(k0 + 3 * rb + o), a3);
    }
    const s = hsum4(a0, a1, a2, a3);
    const d = st + (<usize>j << 4);
    v128.store32_lane(d, s, 0);
    v128.store32_lane(d, s, 1, 16);
    v128.store32_lane(d, s, 2, 32);
    v128.store32_lane(d, s, 3, 48);
  }
  for (; j < nk; j++) {
    const kj = k + <usize>j * rb;
    let a = f32x4.splat(0);
    for (let o: usize = 0; o < rb; o += 16) a = madd(v128.load(q + o), v128.load(kj + o), a);
    store<f32>(st + (<usize>j << 4), hsum(a));
  }
}

/**
 * One row's O = alpha·O + Σ_j P[j]·V[j]: p = P of key j at p + 16·j (the score tile's lane 0);
 * vp: packed V panels (8 columns, key-major, panelBytes apart); o: the row's evp accumulators.
 * Four panels (32 columns, 8 accumulators) per pass over the keys.
 */
export function pv1(nk: i32, p: usize, vp: usize, panelBytes: usize, evp: i32, o: usize, alpha: f32): void {
  const al = f32x4.splat(alpha);
  let c = 0;
  for (; c + 32 <= evp; c += 32) {
    const v0 = vp + <usize>(c >> 3) * panelBytes;
    const v1 = v0 + panelBytes, v2 = v1 + panelBytes, v3 = v2 + panelBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
    for (let j = 0; j < nk; j++) {
      const w = v128.load32_splat(p + (<usize>j << 4));
      const at = <usize>j << 5;
      a0 = madd(w, v128.load(v0 + at), a0); a1 = madd(w, v128.load(v0 + at, 16), a1);
      a2 = madd(w, v128.load(v1 + at), a2); a3 = madd(w, v128.load(v1 + at, 16), a3);
      a4 = madd(w, v128.load(v2 + at), a4); a5 = madd(w, v128.load(v2 + at, 16), a5);
      a6 = madd(w, v128.load(v3 + at), a6); a7 = madd(w, v128.load(v3 + at, 16), a7);
    }
    const d = o + (<usize>c << 2);
    v128.store(d, madd(v128.load(d), al, a0)); v128.store(d, madd(v128.load(d, 16), al, a1), 16);
    v128.store(d, madd(v128.load(d, 32), al, a2), 32); v128.store(d, madd(v128.load(d, 48), al, a3), 48);
    v128.store(d, madd(v128.load(d, 64), al, a4), 64); v128.store(d, madd(v128.load(d, 80), al, a5), 80);
    v128.store(d, madd(v128.load(d, 96), al, a6), 96); v128.store(d, madd(v128.load(d, 112), al, a7), 112);
  }
  for (; c < evp; c += 8) {
    const v0 = vp + <usize>(c >> 3) * panelBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
    for (let j = 0; j < nk; j++) {
      const w = v128.load32_splat(p + (<usize>j << 4));
      a0 = madd(w, v128.load(v0 + (<usize>j << 5)), a0);
      a1 = madd(w, v128.load(v0 + (<usize>j << 5), 16), a1);
    }
    const d = o + (<usize>c << 2);
    v128.store(d, madd(v128.load(d), al, a0));
    v128.store(d, madd(v128.load(d, 16), al, a1), 16);
  }
}
