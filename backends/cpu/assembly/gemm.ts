// Single-precision GEMM, BLIS-style: C[M,N] = A[M,K] · B[K,N] with both operands packed into
// cache-sized panels and a 5×8 register-blocked micro-kernel. B may be float32, float16 or
// bfloat16 (converted to float32 while packing) and either operand may be transposed; packing
// absorbs the layout, so one micro-kernel serves every case.
//
// Blocking (measured on Zen 5, 48 KiB L1d, 1 MiB L2): the micro-kernel streams a KC×8 B
// micro-panel from L1 against 5-row A micro-panels from an MC×KC block kept in L2. 5×8 is the
// largest tile V8 keeps in its 15 allocatable xmm registers (10 accumulators, 2 B vectors,
// 1 broadcast): 6×8 and 4×12 spill and run at half speed.

import { load1, load4, madd } from './simd';

export const MR = 5;
export const NR = 8;
export const KC = 256;
export const MC = 120;
export const NC = 2048;

/** Flag bits shared by gemm and gemv: operand layouts and B's element type. */
export const TRANS_A = 1;
export const TRANS_B = 2;
/** B dtype = (flags >> 2) & 3: 0 float32, 1 float16, 2 bfloat16. */
export const B_KIND_SHIFT = 2;

// Workspace of one share: [edge tile | packed A block (MC × KC) | packed B panel (KC × nc)].
const TILE_BYTES = 256;
const PACK_A_BYTES = MC * KC * 4;

/** Bytes of scratch one share of gemm needs for an M×N×K product (an upper bound for any split). */
export function gemmWorkspaceBytes(M: i32, N: i32, K: i32): i32 {
  const nc = min(NC, (N + NR - 1) / NR * NR);
  const kc = min(KC, K);
  M;
  return TILE_BYTES + PACK_A_BYTES + kc * nc * 4;
}

// ---------------------------------------------------------------------------- micro-kernel

/**
 * acc ? C += Ap·Bp : C = Ap·Bp for one 5×8 tile. pa: kc × 5 floats (k-major), pb: kc × 8 floats;
 * c: top-left of the tile, ldc: row pitch in bytes.
 */
function kernel5x8(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, acc: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  // Not unrolled on purpose: TurboFan hoists the broadcasts of an unrolled body and spills.
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    a = v128.load32_splat(pa, 16);
    c40 = madd(a, b0, c40); c41 = madd(a, b1, c41);
    pa += MR * 4;
    pb += NR * 4;
  }
  // Each C vector is loaded, added and stored in turn (loads and stores keep program order in
  // TurboFan), so the epilogue needs no extra registers; loading all ten first made V8 spill
  // two accumulators inside the k loop.
  if (acc) {
    v128.store(c, f32x4.add(c00, v128.load(c))); v128.store(c, f32x4.add(c01, v128.load(c, 16)), 16); c += ldc;
    v128.store(c, f32x4.add(c10, v128.load(c))); v128.store(c, f32x4.add(c11, v128.load(c, 16)), 16); c += ldc;
    v128.store(c, f32x4.add(c20, v128.load(c))); v128.store(c, f32x4.add(c21, v128.load(c, 16)), 16); c += ldc;
    v128.store(c, f32x4.add(c30, v128.load(c))); v128.store(c, f32x4.add(c31, v128.load(c, 16)), 16); c += ldc;
    v128.store(c, f32x4.add(c40, v128.load(c))); v128.store(c, f32x4.add(c41, v128.load(c, 16)), 16);
  } else {
    v128.store(c, c00); v128.store(c, c01, 16); c += ldc;
    v128.store(c, c10); v128.store(c, c11, 16); c += ldc;
    v128.store(c, c20); v128.store(c, c21, 16); c += ldc;
    v128.store(c, c30); v128.store(c, c31, 16); c += ldc;
    v128.store(c, c40); v128.store(c, c41, 16);
  }
}

/** A partial tile (mr < 5 or nr < 8): compute the full tile into `tile`, then copy the valid part. */
function kernelEdge(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, acc: bool, mr: i32, nr: i32, tile: usize): void {
  kernel5x8(kc, pa, pb, tile, NR * 4, false);
  for (let i = 0; i < mr; i++) {
    const crow = c + <usize>i * ldc;
    const trow = tile + <usize>(i * NR * 4);
    for (let j = 0; j < nr; j++) {
      const p = crow + (<usize>j << 2);
      const v = load<f32>(trow + (<usize>j << 2));
      store<f32>(p, acc ? load<f32>(p) + v : v);
    }
  }
}

// ---------------------------------------------------------------------------- packing

/**
 * Packs rows [i0, i0+mc) × columns [k0, k0+kc) of A into 5-row micro-panels, k-major, zero-padding
 * the last panel. A(i, k) lives at a + 4·(i·sI + k·sK).
 */
function packA(a: usize, sI: i32, sK: i32, i0: i32, mc: i32, k0: i32, kc: i32, dst: usize): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const mr = min(MR, mc - ip);
    const panel = dst + <usize>(ip * kc * 4);
    if (sK == 1) {
      // Rows contiguous along k: walk each row, scattering into the panel (stride 5 floats).
      for (let r = 0; r < mr; r++) {
        let src = a + (<usize>(i0 + ip + r) * <usize>sI + <usize>k0) * 4;
        let d = panel + <usize>(r * 4);
        let k = 0;
        for (; k + 4 <= kc; k += 4) {
          const v = v128.load(src);
          v128.store32_lane(d, v, 0);
          v128.store32_lane(d, v, 1, MR * 4);
          v128.store32_lane(d, v, 2, MR * 8);
          v128.store32_lane(d, v, 3, MR * 12);
          src += 16;
          d += MR * 16;
        }
        for (; k < kc; k++) {
          store<f32>(d, load<f32>(src));
          src += 4;
          d += MR * 4;
        }
      }
    } else {
      // Transposed A: the 5 values for one k are (nearly) contiguous.
      for (let k = 0; k < kc; k++) {
        const src = a + (<usize>(k0 + k) * <usize>sK + <usize>(i0 + ip) * <usize>sI) * 4;
        const d = panel + <usize>(k * MR * 4);
        for (let r = 0; r < mr; r++) store<f32>(d + <usize>(r * 4), load<f32>(src + <usize>(r * sI * 4)));
      }
    }
    if (mr < MR) {
      for (let k = 0; k < kc; k++) {
        const d = panel + <usize>(k * MR * 4);
        for (let r = mr; r < MR; r++) store<f32>(d + <usize>(r * 4), 0);
      }
    }
  }
}

/**
 * Packs rows [k0, k0+kc) × columns [j0, j0+nc) of B into 8-column micro-panels, k-major,
 * converting 16-bit floats to float32 and zero-padding the last panel. B(k, j) lives at
 * b + es·(k·sK + j·sJ), es = element size.
 */
function packB<T>(b: usize, sK: i32, sJ: i32, k0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const es = <usize>sizeof<T>();
  for (let jp = 0; jp < nc; jp += NR) {
    const nr = min(NR, nc - jp);
    const panel = dst + <usize>(jp * kc * 4);
    if (nr == NR && sJ == 1) {
      // Row-major B: each k contributes 8 contiguous values.
      let src = b + (<usize>k0 * <usize>sK + <usize>(j0 + jp)) * es;
      const pitch = <usize>sK * es;
      let d = panel;
      for (let k = 0; k < kc; k++) {
        v128.store(d, load4<T>(src));
        v128.store(d, load4<T>(src + 4 * es), 16);
        src += pitch;
        d += NR * 4;
      }
    } else if (nr == NR && sK == 1) {
      // Transposed B ([N, K], e.g. Linear weights): 8 rows each contiguous along k; gather four
      // k at a time from every row and transpose 4×4 blocks in registers.
      const pitch = <usize>sJ * es;
      let s0 = b + (<usize>(j0 + jp) * <usize>sJ + <usize>k0) * es;
      let d = panel;
      let k = 0;
      for (; k + 4 <= kc; k += 4) {
        for (let h = 0; h < 2; h++) {
          const s = s0 + <usize>(h * 4) * pitch;
          const r0 = load4<T>(s), r1 = load4<T>(s + pitch), r2 = load4<T>(s + 2 * pitch), r3 = load4<T>(s + 3 * pitch);
          const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5); // r0k0 r1k0 r0k1 r1k1
          const t1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
          const t2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
          const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
          const dd = d + <usize>(h * 16);
          v128.store(dd, i32x4.shuffle(t0, t1, 0, 1, 4, 5));
          v128.store(dd, i32x4.shuffle(t0, t1, 2, 3, 6, 7), NR * 4);
          v128.store(dd, i32x4.shuffle(t2, t3, 0, 1, 4, 5), NR * 8);
          v128.store(dd, i32x4.shuffle(t2, t3, 2, 3, 6, 7), NR * 12);
        }
        s0 += 4 * es;
        d += NR * 16;
      }
      for (; k < kc; k++) {
        for (let j = 0; j < NR; j++) store<f32>(d + <usize>(j * 4), load1<T>(s0 + <usize>j * pitch));
        s0 += es;
        d += NR * 4;
      }
    } else {
      // Edge panel or unusual strides: element by element, zero-padded.
      for (let k = 0; k < kc; k++) {
        const d = panel + <usize>(k * NR * 4);
        const src = b + (<usize>(k0 + k) * <usize>sK + <usize>(j0 + jp) * <usize>sJ) * es;
        for (let j = 0; j < nr; j++) store<f32>(d + <usize>(j * 4), load1<T>(src + <usize>j * <usize>sJ * es));
        for (let j = nr; j < NR; j++) store<f32>(d + <usize>(j * 4), 0);
      }
    }
  }
}

// ---------------------------------------------------------------------------- block driver

/**
 * C[i0:i1, j0:j1] of one matrix product; ws is this share's workspace. Every C element gets
 * the same sequence of KC-blocked sums whatever [i0, i1) × [j0, j1) is, so results do not
 * depend on how the work is split between threads.
 */
export function gemmBlock(
  a: usize, b: usize, c: usize, M: i32, N: i32, K: i32, flags: i32,
  i0: i32, i1: i32, j0: i32, j1: i32, ws: usize,
): void {
  const kind = (flags >> B_KIND_SHIFT) & 3;
  // Element strides of A(i, k) and B(k, j).
  const aI = flags & TRANS_A ? 1 : K, aK = flags & TRANS_A ? M : 1;
  const bK = flags & TRANS_B ? 1 : N, bJ = flags & TRANS_B ? K : 1;
  const tile = ws;
  const pA = ws + TILE_BYTES;
  const pB = pA + PACK_A_BYTES;
  const ldc = <usize>N * 4;
  for (let jc = j0; jc < j1; jc += NC) {
    const nc = min(NC, j1 - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      if (kind == 0) packB<f32>(b, bK, bJ, pc, kc, jc, nc, pB);
      else if (kind == 1) packB<u16>(b, bK, bJ, pc, kc, jc, nc, pB);
      else packB<i16>(b, bK, bJ, pc, kc, jc, nc, pB);
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = min(MC, i1 - ic);
        packA(a, aI, aK, ic, mc, pc, kc, pA);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const pb = pB + <usize>(jr * kc * 4);
          const cCol = c + (<usize>(jc + jr) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const pa = pA + <usize>(ir * kc * 4);
            const ct = cCol + <usize>(ic + ir) * ldc;
            if (mr == MR && nr == NR) kernel5x8(kc, pa, pb, ct, ldc, pc > 0);
            else kernelEdge(kc, pa, pb, ct, ldc, pc > 0, mr, nr, tile);
          }
        }
      }
    }
  }
}
