/**
 * Fused attention kernels for the dispatcher (SdpaFlash, SdpaEfficient), the variable-length entry
 * point (FlashAttnVarlen). Their WebGPU-specific eligibility reasons live in ../sdpa_checks.ts.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { type DType } from '../../../lib/dtype.js';
import { sizeOf, stridesOf } from '../../../lib/shape.js';
import type { WebGPUBackend } from '../backend.js';
import { type Program } from '../program.js';
import { attnBody, attnUniforms, qkvBindings, type AttnConfig, type AttnDims } from './attention_wgsl.js';
import { viaWide } from './map.js';
import { gpuKernel } from './util.js';

/** Largest private head dim of the memory-efficient kernel (q and the output row live in registers). */
export const EFFICIENT_MAX_HEAD_DIM = 512;
const BLOCKS = [64, 32, 16, 8];
/** Smallest key block a flash tile may use. */
export const MIN_BC = 8;

const vec4s = (d: number) => Math.ceil(d / 4);
/**
 * On software adapters, unroll the head-dim loops only for calls with at least this many
 * multiply-adds (B·H·L·S·E): there the 2.5× faster loop repays a compile of seconds.
 */
const UNROLL_WORK_SOFTWARE = 1 << 25;

/** Whether to compile the unrolled variant for a call of `work` multiply-adds. */
function unrollFor(gpu: WebGPUBackend, work: number): boolean {
  return !gpu.info.isFallback || work >= UNROLL_WORK_SOFTWARE;
}

/** Bytes of workgroup memory one key of a flash K/V tile takes. */
export function bytesPerKey(E: number, Ev: number, tileF16: boolean): number {
  return (vec4s(E) + vec4s(Ev)) * (tileF16 ? 8 : 16);
}

/** Key-block size for flash tiles that fits the device's workgroup memory (0 when none does). */
export function flashBlock(gpu: WebGPUBackend, E: number, Ev: number, tileF16: boolean): number {
  const budget = gpu.workgroupMemoryBudget;
  return BLOCKS.find((bc) => bc * bytesPerKey(E, Ev, tileF16) <= budget) ?? 0;
}

export function useF16Tiles(gpu: WebGPUBackend, dtype: DType): boolean {
  return dtype === 'float16' && gpu.info.f16 && gpu.nativeF16;
}

/** Invocations sharing one decoding row in split mode: 16, fewer when the merge buffer would not fit. */
function splitLanes(gpu: WebGPUBackend, Ev: number): number {
  let n = 16;
  while (n > 2 && n * (vec4s(Ev) * 16 + 8) + 16 > gpu.workgroupMemoryBudget) n >>= 1;
  return n;
}

/** Decoding-sized calls (few query rows, many keys) run in split mode. */
export const SPLIT_MAX_L = 4;
export const SPLIT_MIN_S = 64;

/**
 * Rows per flash workgroup: 64 on GPUs; 256 on software adapters, where every workgroup barrier
 * is a coroutine switch and fewer, larger workgroups pay fewer of them (measured ~10% on lavapipe);
 * fewer when the packed row space is small.
 */
function rowsPerGroup(gpu: WebGPUBackend, rows: number): number {
  const max = Math.min(gpu.info.isFallback ? 256 : 64, gpu.limits.maxComputeInvocationsPerWorkgroup);
  return Math.max(8, Math.min(max, 2 ** Math.ceil(Math.log2(Math.max(rows, 1)))));
}

function config(
  gpu: WebGPUBackend, mode: 'flash' | 'efficient' | 'split', q: TensorInfo, E: number, Ev: number, extra: Partial<AttnConfig>, outDtype: DType, rows: number, work: number,
): AttnConfig {
  const tileF16 = mode === 'flash' && useF16Tiles(gpu, q.dtype);
  return {
    mode, varlen: false, dtype: q.dtype, outDtype, E, Ev, aligned: E % 4 === 0 && Ev % 4 === 0, causal: false, maskDtype: null, returnLse: false,
    BR: mode === 'flash' ? rowsPerGroup(gpu, rows) : mode === 'split' ? splitLanes(gpu, Ev) : 64, BC: mode === 'flash' ? flashBlock(gpu, E, Ev, tileF16) : 16, tileF16,
    unroll: unrollFor(gpu, work), ...extra,
  };
}

function program(c: AttnConfig, d: AttnDims, grid: [number, number, number], nIn: number, name: string): Program {
  const key = JSON.stringify(c);
  const inputs = [...qkvBindings(c), ...Array(nIn - 3).fill('u32')];
  return { name, key, inputs, outputs: c.returnLse ? ['u32', 'f32'] : ['u32'], uniforms: attnUniforms(d), body: () => attnBody(c), f16: c.tileF16, grid };
}

/** Strides of a mask broadcast to (B, H, L, S): 0 on broadcast axes. */
function maskStrides(mask: TensorInfo): [number, number, number, number] {
  const shape = [...new Array(Math.max(0, 4 - mask.shape.length)).fill(1), ...mask.shape];
  const str = stridesOf(shape);
  return shape.map((d, i) => (d === 1 ? 0 : str[i])) as [number, number, number, number];
}

interface SdpaAttrs {
  scale: number;
  causal: 'none' | 'upperLeft' | 'lowerRight';
  enableGqa: boolean;
  hasMask: boolean;
  returnLse: boolean;
  /** Key positions taking part (≤ the allocated S of k/v); default all. */
  kvLength?: number;
}

function fused(mode: 'flash' | 'efficient') {
  return (inputs: readonly TensorInfo[], attrs: SdpaAttrs, gpu: WebGPUBackend): TensorInfo | TensorInfo[] => {
    const [q, k, v] = inputs;
    const mask = attrs.hasMask ? inputs[3] : null;
    const [B, Hq, L, E] = q.shape;
    const [, Hkv, SAlloc] = k.shape;
    const S = attrs.kvLength ?? SAlloc;
    const Ev = v.shape[3];
    const G = Hq / Hkv;
    const outShape = [B, Hq, L, Ev];
    const packedOdd = (q.dtype === 'float16' || q.dtype === 'bfloat16') && Ev % 2 === 1;
    const lse = attrs.returnLse ? gpu.makeOutput([B, Hq, L], 'float32') : null;
    const out = viaWide(gpu, outShape, q.dtype, packedOdd, (o) => {
      // Decoding (a few query rows against many keys): split each row's keys across a workgroup.
      const kind = L <= SPLIT_MAX_L && S >= SPLIT_MIN_S ? 'split' : mode;
      const rows = kind === 'flash' ? G * L : L;
      const c = config(gpu, kind, q, E, Ev, { causal: attrs.causal !== 'none', maskDtype: mask?.dtype ?? null, returnLse: !!lse }, o.dtype, rows, B * Hq * L * S * Math.max(E, Ev));
      const d: AttnDims = {
        e4: vec4s(E), v4: vec4s(Ev), bc: c.BC,
        Hq, Hkv, L, S, scale: attrs.scale, coff: attrs.causal === 'lowerRight' ? S - L : 0, G,
        q: [Hq * L * E, L * E, E], k: [Hkv * SAlloc * E, SAlloc * E, E], v: [Hkv * SAlloc * Ev, SAlloc * Ev, Ev], o: [Hq * L * Ev, L * Ev, Ev],
        m: mask ? maskStrides(mask) : [0, 0, 0, 0],
      };
      const grid: [number, number, number] = kind === 'flash' ? [Math.ceil(rows / c.BR), Hkv, B] : kind === 'split' ? [L, Hq, B] : [Math.ceil(L / c.BR), Hq, B];
      const ins = mask ? [q, k, v, mask] : [q, k, v];
      gpu.run(program(c, d, grid, ins.length, mode === 'flash' ? 'SdpaFlash' : 'SdpaEfficient'), ins, lse ? [o, lse] : [o]);
    });
    return lse ? [out, lse] : out;
  };
}

gpuKernel('SdpaFlash', fused('flash'));
gpuKernel('SdpaEfficient', fused('efficient'));

gpuKernel('FlashAttnVarlen', ([q, k, v, cuQ, cuK], { scale, causal, maxSeqlenQ, maxSeqlenK }: { scale: number; causal: boolean; maxSeqlenQ: number; maxSeqlenK: number }, gpu) => {
  const [, H, E] = q.shape;
  const [, Hkv] = k.shape;
  const Ev = v.shape[2];
  const G = H / Hkv;
  const B = sizeOf(cuQ.shape) - 1;
  const outShape = [q.shape[0], H, Ev];
  const packedOdd = (q.dtype === 'float16' || q.dtype === 'bfloat16') && Ev % 2 === 1;
  return viaWide(gpu, outShape, q.dtype, packedOdd, (o) => {
    if (B <= 0 || sizeOf(outShape) === 0) return;
    const tiles = flashBlock(gpu, E, Ev, useF16Tiles(gpu, q.dtype)) > 0;
    const mode = tiles ? 'flash' : 'efficient';
    const rows = tiles ? G * maxSeqlenQ : maxSeqlenQ;
    const c = config(gpu, mode, q, E, Ev, { varlen: true, causal }, o.dtype, rows, q.shape[0] * H * maxSeqlenK * Math.max(E, Ev));
    const d: AttnDims = {
      Hq: H, Hkv, L: 0, S: 0, scale, coff: 0, G,
      q: [0, E, H * E], k: [0, E, Hkv * E], v: [0, Ev, Hkv * Ev], o: [0, Ev, H * Ev], m: [0, 0, 0, 0],
      e4: vec4s(E), v4: vec4s(Ev), bc: c.BC,
    };
    const grid: [number, number, number] = [Math.max(1, Math.ceil(rows / c.BR)), tiles ? Hkv : H, B];
    gpu.run(program(c, d, grid, 5, 'FlashAttnVarlen'), [q, k, v, cuQ, cuK], [o]);
  });
});
