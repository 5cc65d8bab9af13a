/**
 * Fused attention on the WebAssembly kernels (assembly/attention.ts): flash, memory-efficient and
 * variable-length calls described by one parameter block and run on the worker pool. Each share
 * takes work items (batch × kv head × query block × key split) round-robin with tile-sized
 * scratch of its own, so memory stays O(threads · tile) — never L×S — and the result does not
 * depend on the thread count. Decode-shaped calls (few query blocks, long S) split the key range
 * and merge the partial softmax states in a second job.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { ArgumentError } from '../../../lib/errors.js';
import { stridesOf } from '../../../lib/shape.js';
import type { CpuBackend, CpuDataId } from '../backend.js';
import { countCall } from '../config.js';

// Parameter block slots; mirror of assembly/attention.ts.
const P = {
  Q: 0, K: 1, V: 2, OUT: 3, LSE: 4, MASK: 5, CUQ: 6, CUK: 7,
  KIND: 8, MASK_KIND: 9, B: 10, HQ: 11, HKV: 12, L: 13, S: 14, E: 15, EV: 16,
  CAUSAL: 17, LOWER_RIGHT: 18, SCALE2: 19,
  QS_B: 20, QS_H: 21, QS_L: 22, KS_B: 23, KS_H: 24, KS_S: 25, VS_B: 26, VS_H: 27, VS_S: 28,
  OS_B: 29, OS_H: 30, OS_L: 31, MS_B: 32, MS_H: 33, MS_L: 34, MS_S: 35,
  BR: 36, BC: 37, NQB: 38, SPLITS: 39, CHUNK: 40, WS: 41, WS_STRIDE: 42, PARTIAL: 43,
  COUNTERS: 44, ITEMS: 45,
} as const;
const P_SLOTS = 48;

/** Tile sizes: Br query rows (a multiple of 8: the score kernel's 8-query panels), Bc keys. */
export interface AttentionTiles {
  br: number;
  bc: number;
}

/** Default tiles per kernel (measured: perf/RESULTS.md, attention section). */
const DEFAULT_TILES: Record<string, AttentionTiles> = {
  SdpaFlash: { br: 80, bc: 80 },
  SdpaEfficient: { br: 80, bc: 80 },
  FlashAttnVarlen: { br: 80, bc: 80 },
};
const tileOverride: Record<string, AttentionTiles | undefined> = {};

/**
 * Overrides the tile sizes of one attention kernel ('SdpaFlash', 'SdpaEfficient',
 * 'FlashAttnVarlen'), or restores the default with null. For tests and tuning: results change
 * only by rounding.
 */
export function setAttentionTiles(kernel: string, tiles: AttentionTiles | null): void {
  if (!(kernel in DEFAULT_TILES)) throw new ArgumentError(`setAttentionTiles: unknown kernel '${kernel}'`);
  if (tiles && (!Number.isInteger(tiles.br) || tiles.br < 8 || tiles.br % 8 !== 0 || !Number.isInteger(tiles.bc) || tiles.bc < 1)) {
    throw new ArgumentError(`setAttentionTiles: br must be a positive multiple of 8 and bc a positive integer, got ${JSON.stringify(tiles)}`);
  }
  tileOverride[kernel] = tiles ?? undefined;
}

/** Work counters of the WebAssembly attention kernels since the last reset (for tests). */
export const attentionWasmStats = { calls: 0, tilesVisited: 0, tilesMasked: 0, splitCalls: 0 };

/** Zeroes `attentionWasmStats`. */
export function resetAttentionWasmStats(): void {
  attentionWasmStats.calls = attentionWasmStats.tilesVisited = attentionWasmStats.tilesMasked = attentionWasmStats.splitCalls = 0;
}

/** Split-KV: used when fewer than this many query blocks exist, so every thread gets work. */
const SPLIT_MIN_ITEMS = 32;
/** …into key ranges of at least this many keys (a merge costs a few rows; a range, a tile loop). */
const SPLIT_MIN_KEYS = 256;
/** Shares per thread: work items are uneven (causal), so several per thread balance the load. */
const SHARES_PER_THREAD = 4;
/** At most this many shares (each holds ~100 KiB of tiles), however many threads there are. */
const MAX_SHARES = 128;
/** Below this many flops the call runs on the calling thread (waking a worker costs ~50 µs). */
const PARALLEL_MIN_FLOPS = 2e6;
const LOG2E = Math.LOG2E;

function kindOf(dtype: string): number {
  return dtype === 'float32' ? 0 : dtype === 'float16' ? 1 : dtype === 'bfloat16' ? 2 : -1;
}

function maskKindOf(dtype: string): number {
  return dtype === 'bool' ? 1 : dtype === 'float32' ? 2 : dtype === 'float16' ? 3 : dtype === 'bfloat16' ? 4 : -1;
}

const ptrOf = (t: TensorInfo) => (t.dataId as CpuDataId).ptr;

/** Element strides of a mask broadcast to (B, H, L, S): 0 on broadcast axes. */
export function maskStrides(shape: readonly number[]): number[] {
  const full = [...new Array(Math.max(0, 4 - shape.length)).fill(1), ...shape];
  const str = stridesOf(full);
  return full.map((d, i) => (d === 1 ? 0 : str[i]));
}

/** Shape of one call, in the kernel's terms. */
interface Call {
  kernel: string;
  q: TensorInfo; k: TensorInfo; v: TensorInfo; out: TensorInfo; lse: TensorInfo | null;
  mask: TensorInfo | null; cuQ: TensorInfo | null; cuK: TensorInfo | null;
  B: number; Hq: number; Hkv: number; L: number; S: number; E: number; Ev: number;
  causal: boolean; lowerRight: boolean; scale: number;
  /** Element strides [batch, head, row] of q, k, v, out. */
  qs: number[]; ks: number[]; vs: number[]; os: number[];
  /** Key positions attended, for the flop estimate (dense: S; varlen: maximum). */
  flopsPerBatch: number;
}

/** Runs a described call on the wasm kernels; false when they cannot (no runtime, dtype). */
function run(cpu: CpuBackend, c: Call): boolean {
  const kind = kindOf(c.q.dtype);
  const mk = c.mask ? maskKindOf(c.mask.dtype) : 0;
  if (kind < 0 || mk < 0) return false;
  const rt = cpu.wasm();
  if (!rt) return false;
  const tiles = tileOverride[c.kernel] ?? DEFAULT_TILES[c.kernel];
  const G = c.Hq / c.Hkv;
  const nQB = Math.ceil((c.L * G) / tiles.br);
  const base = c.B * c.Hkv * nQB;
  let splits = 1;
  let chunk = 2 ** 30;
  if (!c.cuQ && base < SPLIT_MIN_ITEMS && c.S >= 2 * SPLIT_MIN_KEYS) {
    // Thread-count independent, so results do not change with setNumThreads.
    splits = Math.min(Math.ceil(SPLIT_MIN_ITEMS / base), Math.floor(c.S / SPLIT_MIN_KEYS));
    chunk = Math.ceil(Math.ceil(c.S / splits) / tiles.bc) * tiles.bc;
    splits = Math.ceil(c.S / chunk);
  }
  const items = base * splits;
  if (items === 0) return true;
  const parallel = c.B * c.Hq * c.flopsPerBatch >= PARALLEL_MIN_FLOPS;
  const nsh = parallel ? Math.min(items, rt.threads * SHARES_PER_THREAD, MAX_SHARES) : 1;
  const wsStride = Math.ceil(rt.kernels.attnWorkspaceBytes(tiles.br, tiles.bc, c.E, c.Ev) / 64) * 64;
  const evp = Math.ceil(c.Ev / 8) * 8;
  const partialBytes = splits > 1 ? items * tiles.br * (evp + 2) * 4 : 0;
  const sizes = [P_SLOTS * 4, nsh * wsStride, nsh * 8, partialBytes];
  const blocks: [number, number][] = [];
  try {
    for (const bytes of sizes) blocks.push([bytes ? cpu.allocScratch(bytes) : 0, bytes]);
    const [params, ws, counters, partial] = blocks.map(([p]) => p);
    const i32 = cpu.heap.i32;
    i32.fill(0, counters >>> 2, (counters >>> 2) + nsh * 2);
    const slot = (s: number, v: number) => (i32[(params >>> 2) + s] = v);
    slot(P.Q, ptrOf(c.q)); slot(P.K, ptrOf(c.k)); slot(P.V, ptrOf(c.v)); slot(P.OUT, ptrOf(c.out));
    slot(P.LSE, c.lse ? ptrOf(c.lse) : 0); slot(P.MASK, c.mask ? ptrOf(c.mask) : 0);
    slot(P.CUQ, c.cuQ ? ptrOf(c.cuQ) : 0); slot(P.CUK, c.cuK ? ptrOf(c.cuK) : 0);
    slot(P.KIND, kind); slot(P.MASK_KIND, mk); slot(P.B, c.B); slot(P.HQ, c.Hq); slot(P.HKV, c.Hkv);
    slot(P.L, c.L); slot(P.S, c.S); slot(P.E, c.E); slot(P.EV, c.Ev);
    slot(P.CAUSAL, c.causal ? 1 : 0); slot(P.LOWER_RIGHT, c.lowerRight ? 1 : 0);
    cpu.heap.f32[(params >>> 2) + P.SCALE2] = c.scale * LOG2E;
    [c.qs, c.ks, c.vs, c.os].forEach((st, t) => st.forEach((x, j) => slot(P.QS_B + 3 * t + j, x)));
    const ms = c.mask ? maskStrides(c.mask.shape) : [0, 0, 0, 0];
    ms.forEach((x, j) => slot(P.MS_B + j, x));
    slot(P.BR, tiles.br); slot(P.BC, tiles.bc); slot(P.NQB, nQB); slot(P.SPLITS, splits); slot(P.CHUNK, chunk);
    slot(P.WS, ws); slot(P.WS_STRIDE, wsStride); slot(P.PARTIAL, partial); slot(P.COUNTERS, counters); slot(P.ITEMS, items);
    rt.run('attnForward', nsh, [params]);
    if (splits > 1) rt.run('attnMerge', Math.min(nsh, base), [params]);
    const after = cpu.heap.i32;
    for (let s = 0; s < nsh; s++) {
      attentionWasmStats.tilesVisited += after[(counters >>> 2) + 2 * s];
      attentionWasmStats.tilesMasked += after[(counters >>> 2) + 2 * s + 1];
    }
  } finally {
    for (const [p, bytes] of blocks) if (bytes) cpu.freeScratch(p, bytes);
  }
  attentionWasmStats.calls++;
  if (splits > 1) attentionWasmStats.splitCalls++;
  countCall('wasm', c.kernel);
  return true;
}

type SdpaAttrs = { scale: number; causal: string; hasMask: boolean; returnLse: boolean; kvLength?: number };

/**
 * SdpaFlash / SdpaEfficient on the wasm kernels: out (and lse with returnLse), or null — having
 * allocated nothing — when they do not apply here (the TypeScript reference runs instead).
 */
export function sdpaWasm(cpu: CpuBackend, kernel: string, inputs: readonly TensorInfo[], attrs: SdpaAttrs): TensorInfo | TensorInfo[] | null {
  const [q, k, v] = inputs;
  const mask = attrs.hasMask ? inputs[3] : null;
  if (kindOf(q.dtype) < 0 || (mask && maskKindOf(mask.dtype) < 0) || !cpu.wasm()) return null;
  const [B, Hq, L, E] = q.shape;
  const [, Hkv, SAlloc] = k.shape;
  const S = attrs.kvLength ?? SAlloc;
  const Ev = v.shape[3];
  const out = cpu.makeOutput([B, Hq, L, Ev], q.dtype);
  const lse = attrs.returnLse ? cpu.makeOutput([B, Hq, L], 'float32') : null;
  try {
    run(cpu, {
      kernel, q, k, v, out, lse, mask, cuQ: null, cuK: null, B, Hq, Hkv, L, S, E, Ev,
      causal: attrs.causal !== 'none', lowerRight: attrs.causal === 'lowerRight', scale: attrs.scale,
      qs: [Hq * L * E, L * E, E], ks: [Hkv * SAlloc * E, SAlloc * E, E], vs: [Hkv * SAlloc * Ev, SAlloc * Ev, Ev], os: [Hq * L * Ev, L * Ev, Ev],
      flopsPerBatch: 2 * L * S * (E + Ev),
    });
  } catch (e) {
    cpu.disposeData(out.dataId);
    if (lse) cpu.disposeData(lse.dataId);
    throw e;
  }
  return lse ? [out, lse] : out;
}

/** FlashAttnVarlen on the wasm kernels, or null (nothing allocated) when they do not apply. */
export function varlenWasm(
  cpu: CpuBackend, inputs: readonly TensorInfo[], attrs: { scale: number; causal: boolean; maxSeqlenQ: number; maxSeqlenK: number },
): TensorInfo | null {
  const [q, k, v, cuQ, cuK] = inputs;
  if (kindOf(q.dtype) < 0 || !cpu.wasm()) return null;
  const [, H, E] = q.shape;
  const [, Hkv] = k.shape;
  const Ev = v.shape[2];
  const out = cpu.makeOutput([q.shape[0], H, Ev], q.dtype);
  try {
    run(cpu, {
      kernel: 'FlashAttnVarlen', q, k, v, out, lse: null, mask: null, cuQ, cuK,
      B: cuQ.shape[0] - 1, Hq: H, Hkv, L: attrs.maxSeqlenQ, S: attrs.maxSeqlenK, E, Ev,
      causal: attrs.causal, lowerRight: true, scale: attrs.scale,
      qs: [0, E, H * E], ks: [0, E, Hkv * E], vs: [0, Ev, Hkv * Ev], os: [0, Ev, H * Ev],
      flopsPerBatch: 2 * attrs.maxSeqlenQ * attrs.maxSeqlenK * (E + Ev),
    });
  } catch (e) {
    cpu.disposeData(out.dataId);
    throw e;
  }
  return out;
}
