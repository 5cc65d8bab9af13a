// Fused attention (FlashAttention-2 forward) for the worker pool: flash, memory-efficient and
// variable-length calls all run this loop; the JS side describes the call in a parameter block.
//
// Work item = (batch b, kv head g, query block qb, key split sp). A query block is Br "rows",
// where row R of kv head g is query position ⌊R/G⌋ of query head g·G + R mod G (G = Hq/Hkv):
// the G query heads sharing a kv head are processed together, so each K/V tile is converted and
// packed once for all of them (at decode, L = 1, one block holds all G heads). For each key
// tile of Bc keys: pack K and V (16-bit → float32), scores = K·(scale·log2e·Q)ᵀ (attention_tile.ts;
// kept transposed, 4 queries per vector), optional mask, online softmax (running max m and sum l
// per query, exp2), O = alpha·O + P·V; O / l once at the end. Blocks of ≤ 4 rows (decode) score
// keys by dot products instead (attention_rows.ts). Causal tiles entirely above the diagonal are
// never visited; tiles entirely below it take the unmasked softmax path. Shares take items
// round-robin, so an item's arithmetic does not depend on the thread count. With splits > 1
// (decode: few items, long S) each item covers one key range and writes (acc, m, l) to a
// partial buffer that attnMerge combines.

import { applyMask, convertRows, packK, packQ, packV, storeRow, zeroRow } from './attention_pack';
import { pv1, scores1, scores4 } from './attention_rows';
import { exp2Neg, exp2NegScalar, log2Pos, tilePV, tileQK } from './attention_tile';

// Parameter block: i32 slots (float slots hold float32 bits). Mirrored in
// backends/cpu/kernels/attention_wasm.ts — keep the two in step.
const P_Q = 0, P_K = 1, P_V = 2, P_OUT = 3, P_LSE = 4, P_MASK = 5, P_CUQ = 6, P_CUK = 7;
const P_KIND = 8, P_MASK_KIND = 9, P_B = 10, P_HQ = 11, P_HKV = 12, P_L = 13, P_S = 14, P_E = 15, P_EV = 16;
const P_CAUSAL = 17, P_LOWER_RIGHT = 18, P_SCALE2 = 19;
const P_QS_B = 20, P_QS_H = 21, P_QS_L = 22, P_KS_B = 23, P_KS_H = 24, P_KS_S = 25, P_VS_B = 26, P_VS_H = 27, P_VS_S = 28;
const P_OS_B = 29, P_OS_H = 30, P_OS_L = 31, P_MS_B = 32, P_MS_H = 33, P_MS_L = 34, P_MS_S = 35;
const P_BR = 36, P_BC = 37, P_NQB = 38, P_SPLITS = 39, P_CHUNK = 40, P_WS = 41, P_WS_STRIDE = 42, P_PARTIAL = 43;
const P_COUNTERS = 44, P_ITEMS = 45;

// @ts-ignore: decorator
@inline function pi(p: usize, slot: i32): i32 {
  return load<i32>(p + (<usize>slot << 2));
}

// @ts-ignore: decorator
@inline function up(n: i32, m: i32): i32 {
  return (n + m - 1) / m * m;
}

// Workspace of one share, in 64-byte-aligned sections (tiles Br × Bc, ⌈x⌉ₙ = x rounded up to a
// multiple of n, evp = ⌈Ev⌉₈): QP packed Q (Br·⌈E⌉₄ floats); KP packed K (⌈Bc⌉₅·⌈E⌉₄; the few-row
// path keeps dense rows there); VP packed V (Bc·evp); ST the score/P tile (Br/4 groups of ⌈Bc⌉₅
// keys × 4 queries); OA the output accumulator (Br·evp); eight Br-slot tables (m, l, alpha, lim,
// and the query / output / mask / logsumexp row pointers); 4 i32 of the current sequence.
// @ts-ignore: decorator
@inline function up64(n: i32): usize {
  return <usize>((n + 63) & ~63);
}
// @ts-ignore: decorator
@inline function secKP(Br: i32, E: i32): usize { return up64(Br * up(E, 4) * 4); }
// @ts-ignore: decorator
@inline function secVP(Br: i32, Bc: i32, E: i32): usize { return secKP(Br, E) + up64(up(Bc, 5) * up(E, 4) * 4); }
// @ts-ignore: decorator
@inline function secST(Br: i32, Bc: i32, E: i32, evp: i32): usize { return secVP(Br, Bc, E) + up64(Bc * evp * 4); }
// @ts-ignore: decorator
@inline function secOA(Br: i32, Bc: i32, E: i32, evp: i32): usize { return secST(Br, Bc, E, evp) + up64(up(Bc, 5) * Br * 4); }
// @ts-ignore: decorator
@inline function secTables(Br: i32, Bc: i32, E: i32, evp: i32): usize { return secOA(Br, Bc, E, evp) + up64(Br * evp * 4); }
const T_M = 0, T_L = 1, T_ALPHA = 2, T_LIM = 3, T_QROWS = 4, T_OROWS = 5, T_MROWS = 6, T_LSEROWS = 7, T_COUNT = 8;

/** Workspace bytes one share needs for tiles Br × Bc (Br a multiple of 8). */
export function attnWorkspaceBytes(Br: i32, Bc: i32, E: i32, Ev: i32): i32 {
  return <i32>(secTables(Br, Bc, E, up(Ev, 8)) + <usize>T_COUNT * up64(Br * 4) + 64);
}

// Current sequence (at the end of the workspace): length of queries and keys, first rows.
const SEQ_LB = 0, SEQ_SB = 4, SEQ_QROW0 = 8, SEQ_KROW0 = 12;

/** Writes batch item b's sequence facts (varlen: from cu_seqlens; dense: L, S, 0, 0) at `seq`. */
function loadSeq(p: usize, b: i32, seq: usize): void {
  const cuQ = <usize>pi(p, P_CUQ);
  if (cuQ) {
    const cuK = <usize>pi(p, P_CUK);
    const q0 = load<i32>(cuQ + (<usize>b << 2)), k0 = load<i32>(cuK + (<usize>b << 2));
    store<i32>(seq + SEQ_QROW0, q0);
    store<i32>(seq + SEQ_KROW0, k0);
    store<i32>(seq + SEQ_LB, load<i32>(cuQ + (<usize>(b + 1) << 2)) - q0);
    store<i32>(seq + SEQ_SB, load<i32>(cuK + (<usize>(b + 1) << 2)) - k0);
  } else {
    store<i32>(seq + SEQ_QROW0, 0);
    store<i32>(seq + SEQ_KROW0, 0);
    store<i32>(seq + SEQ_LB, pi(p, P_L));
    store<i32>(seq + SEQ_SB, pi(p, P_S));
  }
}

/**
 * Fills the row tables for rows [R0, R0 + nr) of kv head g (see the workspace layout): query,
 * output, mask and logsumexp addresses, and each row's causal limit (keys < lim are visible;
 * padding rows get a negative limit so they see nothing).
 */
function rowTables(p: usize, tb: usize, tstride: usize, seq: usize, b: i32, g: i32, R0: i32, nr: i32): void {
  const G = pi(p, P_HQ) / pi(p, P_HKV);
  const es: usize = pi(p, P_KIND) == 0 ? 4 : 2;
  const mk = pi(p, P_MASK_KIND);
  const mes: usize = mk == 1 ? 1 : mk == 2 ? 4 : 2;
  const Lb = load<i32>(seq + SEQ_LB), Sb = load<i32>(seq + SEQ_SB), qRow0 = load<i32>(seq + SEQ_QROW0);
  const causal = pi(p, P_CAUSAL);
  const off = pi(p, P_LOWER_RIGHT) ? Sb - Lb : 0;
  const lse = <usize>pi(p, P_LSE);
  const Br = pi(p, P_BR);
  const lim = tb + T_LIM * tstride;
  for (let q = 0; q < Br; q++) {
    const at = <usize>q << 2;
    if (q >= nr) {
      store<i32>(lim + at, -0x40000000);
      continue;
    }
    const R = R0 + q;
    const pos = R / G, h = g * G + R % G;
    const row = qRow0 + pos;
    store<usize>(tb + T_QROWS * tstride + at, <usize>pi(p, P_Q) + es * <usize>(b * pi(p, P_QS_B) + h * pi(p, P_QS_H) + row * pi(p, P_QS_L)));
    store<usize>(tb + T_OROWS * tstride + at, <usize>pi(p, P_OUT) + es * <usize>(b * pi(p, P_OS_B) + h * pi(p, P_OS_H) + row * pi(p, P_OS_L)));
    if (mk) store<usize>(tb + T_MROWS * tstride + at, <usize>pi(p, P_MASK) + mes * <usize>(b * pi(p, P_MS_B) + h * pi(p, P_MS_H) + pos * pi(p, P_MS_L)));
    if (lse) store<usize>(tb + T_LSEROWS * tstride + at, lse + 4 * <usize>((b * pi(p, P_HQ) + h) * pi(p, P_L) + pos));
    store<i32>(lim + at, causal ? pos + off + 1 : Sb);
  }
}

/**
 * Online-softmax update of one tile, 4 queries per vector: groups [0, ncols/4) of the score
 * tile (group g at st + g·gs, one 16-byte vector per key) become P in place; m, l and alpha
 * (this tile's rescale factor) are updated. Keys at or past a query's count (causal limit − kb,
 * clamped to [0, nk]) are −∞; groups whose four counts are all nk (tiles below the diagonal)
 * skip the masking.
 */
function softmaxTile(st: usize, gs: usize, ncols: i32, nk: i32, kb: i32, lim: usize, m: usize, l: usize, alpha: usize): void {
  const NEG_INF = f32x4.splat(-Infinity);
  const vnk = i32x4.splat(nk);
  const end = <usize>nk << 4;
  for (let c = 0; c < ncols; c += 4) {
    const at = <usize>c << 2;
    const cnt = i32x4.min_s(i32x4.max_s(i32x4.sub(v128.load(lim + at), i32x4.splat(kb)), i32x4.splat(0)), vnk);
    const full = i32x4.all_true(i32x4.eq(cnt, vnk));
    const col = st + <usize>(c >> 2) * gs;
    let mx = NEG_INF;
    if (full) {
      for (let o: usize = 0; o < end; o += 16) mx = f32x4.pmax(mx, v128.load(col + o));
    } else {
      let kk = i32x4.splat(0);
      for (let o: usize = 0; o < end; o += 16) {
        mx = f32x4.pmax(mx, v128.bitselect(v128.load(col + o), NEG_INF, i32x4.gt_s(cnt, kk)));
        kk = i32x4.add(kk, i32x4.splat(1));
      }
    }
    const mOld = v128.load(m + at);
    const mNew = f32x4.pmax(mOld, mx);
    // Rows that have seen only −∞ so far use 0 as reference, so −∞ − (−∞) never happens.
    const ref = v128.andnot(mNew, f32x4.eq(mNew, NEG_INF));
    const a = exp2Neg(f32x4.sub(mOld, ref));
    let sum = f32x4.splat(0);
    if (full) {
      for (let o: usize = 0; o < end; o += 16) {
        const e = exp2Neg(f32x4.sub(v128.load(col + o), ref));
        v128.store(col + o, e);
        sum = f32x4.add(sum, e);
      }
    } else {
      let kk = i32x4.splat(0);
      for (let o: usize = 0; o < end; o += 16) {
        const x = v128.bitselect(v128.load(col + o), NEG_INF, i32x4.gt_s(cnt, kk));
        const e = exp2Neg(f32x4.sub(x, ref));
        v128.store(col + o, e);
        sum = f32x4.add(sum, e);
        kk = i32x4.add(kk, i32x4.splat(1));
      }
    }
    v128.store(m + at, mNew);
    v128.store(l + at, f32x4.add(f32x4.mul(v128.load(l + at), a), sum));
    v128.store(alpha + at, a);
  }
}

/** Packs one K/V tile of the given dtype kind. */
function packKV(kind: i32, k: usize, kPitch: usize, v: usize, vPitch: usize, nk: i32, E: i32, Ev: i32, kp: usize, vp: usize, vPanel: usize): void {
  if (kind == 0) { packK<f32>(k, kPitch, nk, E, kp); packV<f32>(v, vPitch, nk, Ev, vp, vPanel); }
  else if (kind == 1) { packK<u16>(k, kPitch, nk, E, kp); packV<u16>(v, vPitch, nk, Ev, vp, vPanel); }
  else { packK<i16>(k, kPitch, nk, E, kp); packV<i16>(v, vPitch, nk, Ev, vp, vPanel); }
}

/** Natural-log logsumexp from the running max (log2 units) and sum. */
// @ts-ignore: decorator
@inline function lseOf(m: f32, l: f32): f32 {
  return <f32>((<f64>m + log2Pos(<f64>l)) * 0.6931471805599453);
}

/**
 * Writes rows [0, nr) of a finished block: acc / l in the output dtype, logsumexp; rows with
 * l = 0 saw no key (fully masked, or above a bottom-right diagonal) and get 0 and +∞.
 */
function finishRows(p: usize, tb: usize, tstride: usize, nr: i32, oa: usize, ldo: usize): void {
  const Ev = pi(p, P_EV), kind = pi(p, P_KIND), hasLse = pi(p, P_LSE) != 0;
  for (let q = 0; q < nr; q++) {
    const at = <usize>q << 2;
    const l = load<f32>(tb + T_L * tstride + at);
    const dst = load<usize>(tb + T_OROWS * tstride + at);
    const lse = hasLse ? load<usize>(tb + T_LSEROWS * tstride + at) : 0;
    if (l == 0) {
      zeroRow(dst, Ev, kind);
      if (lse) store<f32>(lse, Infinity);
    } else {
      storeRow(oa + <usize>q * ldo, l, dst, Ev, kind);
      if (lse) store<f32>(lse, lseOf(load<f32>(tb + T_M * tstride + at), l));
    }
  }
}

/** Blocks of at most this many rows take the few-row path (attention_rows.ts). */
const FEW_ROWS = 4;

/** Query rows for the few-row path: 4 dense rows of ep floats (rows past nr and columns past E zero), times scale. */
function rowsQ(kind: i32, rowPtrs: usize, nr: i32, E: i32, ep: i32, scale: f32, dst: usize): void {
  memory.fill(dst, 0, <usize>(4 * ep * 4));
  for (let r = 0; r < nr; r++) {
    const src = load<usize>(rowPtrs + (<usize>r << 2));
    const d = dst + <usize>(r * ep * 4);
    if (kind == 0) convertRows<f32>(src, 0, 1, E, ep, d);
    else if (kind == 1) convertRows<u16>(src, 0, 1, E, ep, d);
    else convertRows<i16>(src, 0, 1, E, ep, d);
    for (let e = 0; e < ep; e += 4) v128.store(d + (<usize>e << 2), f32x4.mul(v128.load(d + (<usize>e << 2)), f32x4.splat(scale)));
  }
}

/** Runs one work item (see the file comment); ws: this share's workspace; counters: its [visited, masked] tiles or 0. */
function runItem(p: usize, item: i32, ws: usize, counters: usize): void {
  const splits = pi(p, P_SPLITS), nQB = pi(p, P_NQB), Hkv = pi(p, P_HKV);
  const sp = item % splits;
  let t = item / splits;
  const qb = t % nQB;
  t /= nQB;
  const g = t % Hkv, b = t / Hkv;
  const G = pi(p, P_HQ) / Hkv;
  const Br = pi(p, P_BR), Bc = pi(p, P_BC), E = pi(p, P_E), Ev = pi(p, P_EV), kind = pi(p, P_KIND);
  const evp = up(Ev, 8);
  const tb = ws + secTables(Br, Bc, E, evp), tstride = up64(Br * 4);
  const seq = tb + T_COUNT * tstride;
  loadSeq(p, b, seq);
  const Sb = load<i32>(seq + SEQ_SB);
  const R0 = qb * Br;
  const nr = min(Br, load<i32>(seq + SEQ_LB) * G - R0);
  if (nr <= 0) return; // a block past this sequence's end (varlen)
  rowTables(p, tb, tstride, seq, b, g, R0, nr);
  const qp = ws, kp = ws + secKP(Br, E), vp = ws + secVP(Br, Bc, E), st = ws + secST(Br, Bc, E, evp), oa = ws + secOA(Br, Bc, E, evp);
  const lim = tb + T_LIM * tstride;
  const es: usize = kind == 0 ? 4 : 2;

  // Keys this block can see: all of S, or up to its last row's causal limit; then this split's share.
  const causal = pi(p, P_CAUSAL);
  const firstLim = load<i32>(lim), lastLim = load<i32>(lim + (<usize>(nr - 1) << 2));
  const keyEnd = causal ? min(max(lastLim, 0), Sb) : Sb;
  const chunk = pi(p, P_CHUNK);
  const k0 = sp * chunk;
  const k1 = min(k0 + chunk, keyEnd);

  const scale2 = reinterpret<f32>(pi(p, P_SCALE2));
  const few = nr <= FEW_ROWS;
  const ep = up(E, 4);
  if (few) rowsQ(kind, tb + T_QROWS * tstride, nr, E, ep, scale2, qp);
  else if (kind == 0) packQ<f32>(tb + T_QROWS * tstride, nr, E, scale2, qp);
  else if (kind == 1) packQ<u16>(tb + T_QROWS * tstride, nr, E, scale2, qp);
  else packQ<i16>(tb + T_QROWS * tstride, nr, E, scale2, qp);
  for (let q = 0; q < Br; q++) {
    store<f32>(tb + T_M * tstride + (<usize>q << 2), -Infinity);
    store<f32>(tb + T_L * tstride + (<usize>q << 2), 0);
  }
  memory.fill(oa, 0, <usize>(Br * evp * 4));

  const kRow0 = load<i32>(seq + SEQ_KROW0);
  const kBase = <usize>pi(p, P_K) + es * <usize>(b * pi(p, P_KS_B) + g * pi(p, P_KS_H) + kRow0 * pi(p, P_KS_S));
  const vBase = <usize>pi(p, P_V) + es * <usize>(b * pi(p, P_VS_B) + g * pi(p, P_VS_H) + kRow0 * pi(p, P_VS_S));
  const kPitch = es * <usize>pi(p, P_KS_S), vPitch = es * <usize>pi(p, P_VS_S);
  const gs = <usize>up(Bc, 5) << 4; // bytes per 4-query group of the score tile
  const ldo = <usize>evp << 2;
  const vPanel = <usize>Bc << 5;
  const mk = pi(p, P_MASK_KIND);
  const mStep = <usize>pi(p, P_MS_S) * (mk == 1 ? 1 : mk == 2 ? 4 : 2);
  const n8 = up(nr, 8), n4 = up(nr, 4);
  let visited = 0, masked = 0;
  for (let kb = k0; kb < k1; kb += Bc) {
    const nk = min(Bc, k1 - kb);
    const kt = kBase + <usize>kb * kPitch, vt = vBase + <usize>kb * vPitch;
    if (few) {
      if (kind == 0) { convertRows<f32>(kt, kPitch, nk, E, ep, kp); packV<f32>(vt, vPitch, nk, Ev, vp, vPanel); }
      else if (kind == 1) { convertRows<u16>(kt, kPitch, nk, E, ep, kp); packV<u16>(vt, vPitch, nk, Ev, vp, vPanel); }
      else { convertRows<i16>(kt, kPitch, nk, E, ep, kp); packV<i16>(vt, vPitch, nk, Ev, vp, vPanel); }
      if (nr == 1) scores1(qp, kp, nk, ep, st);
      else scores4(qp, kp, nk, ep, st);
    } else {
      packKV(kind, kt, kPitch, vt, vPitch, nk, E, Ev, kp, vp, vPanel);
      const k5 = up(nk, 5);
      for (let qc = 0; qc < n8; qc += 8) {
        const pb = qp + <usize>(qc * E * 4);
        const c = st + <usize>(qc >> 2) * gs;
        for (let kr = 0; kr < k5; kr += 5) tileQK(E, kp + <usize>(kr * E * 4), pb, c + (<usize>kr << 4), gs);
      }
    }
    visited++;
    if (causal && kb + nk > firstLim) masked++;
    if (mk) applyMask(st, gs, nr, nk, tb + T_MROWS * tstride, <usize>kb * mStep, mStep, mk);
    softmaxTile(st, gs, n4, nk, kb, lim, tb + T_M * tstride, tb + T_L * tstride, tb + T_ALPHA * tstride);
    if (nr == 1) {
      pv1(nk, st, vp, vPanel, evp, oa, load<f32>(tb + T_ALPHA * tstride));
      continue;
    }
    for (let r = 0; r < n4; r += 4) {
      const pa = st + <usize>(r >> 2) * gs;
      const oRow = oa + <usize>r * ldo;
      const al = tb + T_ALPHA * tstride + (<usize>r << 2);
      for (let c = 0; c < evp; c += 8) tilePV(nk, pa, vp + <usize>(c >> 3) * vPanel, oRow + (<usize>c << 2), ldo, al);
    }
  }
  if (counters) {
    store<i32>(counters, load<i32>(counters) + visited);
    store<i32>(counters, load<i32>(counters, 4) + masked, 4);
  }
  if (splits == 1) {
    finishRows(p, tb, tstride, nr, oa, ldo);
    return;
  }
  // Partial result of this key range: per row [m, l, acc (evp floats)], merged by attnMerge.
  const rowBytes = <usize>(evp + 2) << 2;
  const part = <usize>pi(p, P_PARTIAL) + <usize>item * <usize>Br * rowBytes;
  for (let q = 0; q < nr; q++) {
    const d = part + <usize>q * rowBytes;
    store<f32>(d, load<f32>(tb + T_M * tstride + (<usize>q << 2)));
    store<f32>(d, load<f32>(tb + T_L * tstride + (<usize>q << 2)), 4);
    memory.copy(d + 8, oa + <usize>q * ldo, ldo);
  }
}

/** Forward pass, one share: items tid, tid + nth, … (params: the parameter block). */
export function attnForward(tid: i32, nth: i32, params: usize): void {
  const ws = <usize>pi(params, P_WS) + <usize>tid * <usize>pi(params, P_WS_STRIDE);
  const cPtr = <usize>pi(params, P_COUNTERS);
  const counters = cPtr ? cPtr + (<usize>tid << 3) : 0;
  const n = pi(params, P_ITEMS);
  for (let item = tid; item < n; item += nth) runItem(params, item, ws, counters);
}

/**
 * Combines the key splits of each (batch, kv head, query block), one share: acc =
 * Σ 2^(m_s − M)·acc_s, l = Σ 2^(m_s − M)·l_s with M = max m_s, splits in order; out = acc / l.
 */
export function attnMerge(tid: i32, nth: i32, params: usize): void {
  const p = params;
  const splits = pi(p, P_SPLITS), nQB = pi(p, P_NQB), Hkv = pi(p, P_HKV), G = pi(p, P_HQ) / Hkv;
  const Br = pi(p, P_BR), Bc = pi(p, P_BC), E = pi(p, P_E), Ev = pi(p, P_EV), kind = pi(p, P_KIND);
  const evp = up(Ev, 8);
  const ws = <usize>pi(p, P_WS) + <usize>tid * <usize>pi(p, P_WS_STRIDE);
  const tb = ws + secTables(Br, Bc, E, evp), tstride = up64(Br * 4);
  const seq = tb + T_COUNT * tstride;
  const acc = ws + secOA(Br, Bc, E, evp);
  const rowBytes = <usize>(evp + 2) << 2;
  const splitBytes = <usize>Br * rowBytes;
  const hasLse = pi(p, P_LSE) != 0;
  const n = pi(p, P_ITEMS) / splits;
  for (let blk = tid; blk < n; blk += nth) {
    const qb = blk % nQB, g = (blk / nQB) % Hkv, b = blk / nQB / Hkv;
    loadSeq(p, b, seq);
    const R0 = qb * Br;
    const nr = min(Br, load<i32>(seq + SEQ_LB) * G - R0);
    if (nr <= 0) continue;
    rowTables(p, tb, tstride, seq, b, g, R0, nr);
    const base = <usize>pi(p, P_PARTIAL) + <usize>(blk * splits) * splitBytes;
    for (let q = 0; q < nr; q++) {
      let M: f32 = -Infinity;
      for (let sp = 0; sp < splits; sp++) M = max(M, load<f32>(base + <usize>sp * splitBytes + <usize>q * rowBytes));
      const at = <usize>q << 2;
      const dst = load<usize>(tb + T_OROWS * tstride + at);
      const lse = hasLse ? load<usize>(tb + T_LSEROWS * tstride + at) : 0;
      if (M == -Infinity) {
        zeroRow(dst, Ev, kind);
        if (lse) store<f32>(lse, Infinity);
        continue;
      }
      memory.fill(acc, 0, <usize>evp << 2);
      let l: f32 = 0;
      for (let sp = 0; sp < splits; sp++) {
        const r = base + <usize>sp * splitBytes + <usize>q * rowBytes;
        const ms = load<f32>(r);
        if (ms == -Infinity) continue;
        const a = exp2NegScalar(ms - M);
        l += a * load<f32>(r, 4);
        const av = f32x4.splat(a);
        for (let e = 0; e < evp; e += 4) {
          const o = acc + (<usize>e << 2);
          v128.store(o, f32x4.add(v128.load(o), f32x4.mul(av, v128.load(r + 8 + (<usize>e << 2)))));
        }
      }
      storeRow(acc, l, dst, Ev, kind);
      if (lse) store<f32>(lse, lseOf(M, l));
    }
  }
}
