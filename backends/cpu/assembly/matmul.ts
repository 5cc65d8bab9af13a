// Exported matmul entry points. Each runs one share `tid` of `nth` (the worker pool calls every
// export as f(tid, nth, ...args)) and picks its slice of the work deterministically, so the
// result is bit-identical for any thread count.
//
// Common arguments: a, b, c: byte pointers to batch item 0; M, N, K; flags (gemm.ts); batch:
// number of products; aOffs, bOffs: pointers to `batch` i32 element offsets of each item's A
// and B (0 when batch == 1); C items are dense, M·N apart.

import { gemmBlock, MR, NR, TRANS_A, TRANS_B, B_KIND_SHIFT } from './gemm';
import { GEMV_MAX_M, gemvN, gemvT } from './gemv';

/** [lo, hi) of share tid when n items are cut into nth ranges whose starts are multiples of `align`. */
// @ts-ignore: decorator
@inline function lo(tid: i32, nth: i32, n: i32, align: i32): i32 {
  const chunks = (n + align - 1) / align;
  return min(n, <i32>((<i64>tid * chunks) / nth) * align);
}

// @ts-ignore: decorator
@inline function itemPtr(base: usize, offs: usize, i: i32, es: usize): usize {
  return offs == 0 ? base : base + <usize>load<i32>(offs + (<usize>i << 2)) * es;
}

/** Splitting whole batch items balances well when there are many, or a multiple of nth. */
// @ts-ignore: decorator
@inline function splitBatch(batch: i32, nth: i32): bool {
  return nth == 1 || batch >= 4 * nth || (batch >= nth && batch % nth == 0);
}

/**
 * Packed GEMM, one share. ws: workspace base, wsStride: bytes per share (gemmWorkspaceBytes()).
 */
export function gemm(
  tid: i32, nth: i32, a: usize, b: usize, c: usize, M: i32, N: i32, K: i32, flags: i32,
  batch: i32, aOffs: usize, bOffs: usize, ws: usize, wsStride: i32,
): void {
  const es: usize = ((flags >> B_KIND_SHIFT) & 3) == 0 ? 4 : 2;
  const cStride = <usize>M * <usize>N * 4;
  const w = ws + <usize>tid * <usize>wsStride;
  if (splitBatch(batch, nth)) {
    const b1 = lo(tid + 1, nth, batch, 1);
    for (let i = lo(tid, nth, batch, 1); i < b1; i++) {
      gemmBlock(itemPtr(a, aOffs, i, 4), itemPtr(b, bOffs, i, es), c + <usize>i * cStride, M, N, K, flags, 0, M, 0, N, w);
    }
    return;
  }
  // Few items: split each one, by columns when there are enough, else by rows.
  const byCols = (N + NR - 1) / NR >= 2 * nth;
  for (let i = 0; i < batch; i++) {
    const ai = itemPtr(a, aOffs, i, 4), bi = itemPtr(b, bOffs, i, es), ci = c + <usize>i * cStride;
    if (byCols) gemmBlock(ai, bi, ci, M, N, K, flags, 0, M, lo(tid, nth, N, NR), lo(tid + 1, nth, N, NR), w);
    else gemmBlock(ai, bi, ci, M, N, K, flags, lo(tid, nth, M, MR), lo(tid + 1, nth, M, MR), 0, N, w);
  }
}

function gemvItem(trans: bool, kind: i32, a: usize, b: usize, c: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32, ws: usize): void {
  if (trans) {
    if (kind == 0) gemvT<f32>(a, b, c, M, N, K, n0, n1, ws);
    else if (kind == 1) gemvT<u16>(a, b, c, M, N, K, n0, n1, ws);
    else gemvT<i16>(a, b, c, M, N, K, n0, n1, ws);
  } else {
    if (kind == 0) gemvN<f32>(a, b, c, M, N, K, n0, n1);
    else if (kind == 1) gemvN<u16>(a, b, c, M, N, K, n0, n1);
    else gemvN<i16>(a, b, c, M, N, K, n0, n1);
  }
}

/**
 * Matrix-vector product for small M, one share: A must be row-major float32 (not transposed);
 * B is [N, K] when TRANS_B is set, else [K, N]. Work is split over N only. ws/wsStride: as for
 * gemm, with gemvWorkspaceBytes(K) bytes per share.
 */
export function gemv(
  tid: i32, nth: i32, a: usize, b: usize, c: usize, M: i32, N: i32, K: i32, flags: i32,
  batch: i32, aOffs: usize, bOffs: usize, ws: usize, wsStride: i32,
): void {
  const w = ws + <usize>tid * <usize>wsStride;
  const kind = (flags >> B_KIND_SHIFT) & 3;
  const es: usize = kind == 0 ? 4 : 2;
  const cStride = <usize>M * <usize>N * 4;
  const trans = (flags & TRANS_B) != 0;
  if (flags & TRANS_A || M > GEMV_MAX_M) unreachable();
  const align = trans ? 4 : 16;
  if (splitBatch(batch, nth)) {
    const b1 = lo(tid + 1, nth, batch, 1);
    for (let i = lo(tid, nth, batch, 1); i < b1; i++) {
      const ai = itemPtr(a, aOffs, i, 4), bi = itemPtr(b, bOffs, i, es), ci = c + <usize>i * cStride;
      gemvItem(trans, kind, ai, bi, ci, M, N, K, 0, N, w);
    }
    return;
  }
  const n0 = lo(tid, nth, N, align), n1 = lo(tid + 1, nth, N, align);
  for (let i = 0; i < batch; i++) {
    const ai = itemPtr(a, aOffs, i, 4), bi = itemPtr(b, bOffs, i, es), ci = c + <usize>i * cStride;
    gemvItem(trans, kind, ai, bi, ci, M, N, K, n0, n1, w);
  }
}
