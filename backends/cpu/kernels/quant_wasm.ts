/**
 * The quantized kernels on WebAssembly (backends/cpu/assembly/quant_int8.ts, quant_4bit.ts) with the worker pool:
 * LLM.int8 activation quantization and int8 × int8 product, and the 4-bit weight matmul. Each
 * returns null (having allocated nothing) when it does not apply, and the TypeScript reference
 * kernel runs instead.
 */

import type { Quant4MatMulAttrs } from '../../../lib/kernel_names.js';
import type { TensorInfo } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import type { CpuBackend, CpuDataId } from '../backend.js';
import { countCall } from '../config.js';
import { convert } from './matmul_wasm.js';
import { rounder } from './quant_util.js';
import { readNum } from './util.js';

/** Work below these sizes stays on the calling thread (waking workers costs more than it saves). */
const PARALLEL_MIN_WEIGHT_BYTES = 256 * 1024;
const PARALLEL_MIN_ELEMENTS = 1 << 16;
/**
 * Parallel jobs split their output columns into this many shares per thread (claimed dynamically),
 * so a descheduled worker's shares go to the others; each share keeps at least MIN_ROWS_PER_SHARE rows.
 */
const SHARES_PER_THREAD = 4;
const MIN_ROWS_PER_SHARE = 64;

/** Shares for a job over N output columns: 1 when small, else up to SHARES_PER_THREAD per thread. */
function sharesFor(threads: number, N: number, parallel: boolean): number {
  if (!parallel || threads === 1) return 1;
  return Math.max(1, Math.min(threads * SHARES_PER_THREAD, Math.floor(N / MIN_ROWS_PER_SHARE)));
}

const ptr = (t: TensorInfo): number => (t.dataId as CpuDataId).ptr;
const kindOf = (d: DType): number => (d === 'float32' ? 0 : d === 'float16' ? 1 : d === 'bfloat16' ? 2 : -1);

/** Scratch blocks of one call, freed together. */
class Blocks {
  private readonly list: [number, number][] = [];
  constructor(private readonly cpu: CpuBackend) {}
  alloc(bytes: number): number {
    const b = Math.max(64, Math.ceil(bytes / 64) * 64);
    const p = this.cpu.allocScratch(b);
    this.list.push([p, b]);
    return p;
  }
  free(): void {
    for (const [p, b] of this.list) this.cpu.freeScratch(p, b);
  }
}

/** Int8VectorQuant on WebAssembly (float32 x only): [CA, SCA, outlierCols] or null. */
export function int8VectorQuantWasm(cpu: CpuBackend, x: TensorInfo, threshold: number): TensorInfo[] | null {
  if (x.dtype !== 'float32') return null;
  const rt = cpu.wasm();
  if (!rt) return null;
  const [T, K] = x.shape;
  if (T === 0 || K === 0) return null;
  const nth = T * K >= PARALLEL_MIN_ELEMENTS ? rt.threads : 1;
  const blocks = new Blocks(cpu);
  const flags = blocks.alloc(K);
  cpu.heap.u8.fill(0, flags, flags + K);
  const ca = cpu.makeOutput([T, K], 'int8');
  const sca = cpu.makeOutput([T], 'float32');
  try {
    rt.run('int8RowStats', nth, [ptr(x), T, K, threshold, flags, ptr(sca)], 1 << 3);
    rt.run('int8RowQuant', nth, [ptr(x), T, K, flags, ptr(sca), ptr(ca)]);
    const f = cpu.heap.u8.subarray(flags, flags + K);
    let m = 0;
    for (let k = 0; k < K; k++) m += f[k];
    const cols = cpu.makeOutput([m], 'int32');
    const f2 = cpu.heap.u8.subarray(flags, flags + K); // the heap may have grown
    const cv = cpu.viewOf(cols) as Int32Array;
    for (let k = 0, j = 0; k < K; k++) if (f2[k]) cv[j++] = k;
    countCall('wasm', 'Int8VectorQuant');
    return [ca, sca, cols];
  } catch (e) {
    cpu.disposeData(ca.dataId);
    cpu.disposeData(sca.dataId);
    throw e;
  } finally {
    blocks.free();
  }
}

/** Int8MatMul on WebAssembly: float16 [T, N] or null. */
export function int8MatMulWasm(cpu: CpuBackend, inputs: readonly TensorInfo[], hasBias: boolean): TensorInfo | null {
  const [ca, cb, sca, scb] = inputs;
  const bias = hasBias ? inputs[4] : null;
  if (bias && bias.dtype !== 'float32') return null;
  const rt = cpu.wasm();
  if (!rt) return null;
  const [T, K] = ca.shape;
  const N = cb.shape[0];
  if (T === 0 || N === 0 || K === 0) return null;
  const out = cpu.makeOutput([T, N], 'float16');
  const nth = sharesFor(rt.threads, N, N * K >= PARALLEL_MIN_WEIGHT_BYTES || T * N * K >= 4e6);
  try {
    rt.run('int8Gemm', nth, [ptr(ca), ptr(cb), ptr(sca), ptr(scb), bias ? ptr(bias) : 0, ptr(out), T, N, K]);
  } catch (e) {
    cpu.disposeData(out.dataId);
    throw e;
  }
  countCall('wasm', 'Int8MatMul');
  return out;
}


/** Quant4MatMul on WebAssembly: [T, N] in `outDtype`, or null (K % 16 ≠ 0, no runtime). */
export function quant4MatMulWasm(cpu: CpuBackend, inputs: readonly TensorInfo[], attrs: Quant4MatMulAttrs): TensorInfo | null {
  const { blocksize, N, K, dtype, nested, offset, hasBias } = attrs;
  const outDtype = attrs.outDtype ?? dtype;
  const kind = kindOf(dtype);
  const outKind = kindOf(outDtype);
  if (kind < 0 || outKind < 0 || K % 16 !== 0) return null;
  const rt = cpu.wasm();
  if (!rt) return null;
  const x = inputs[0];
  const T = x.shape[0];
  if (T === 0 || N === 0) return null;
  const blocks = new Blocks(cpu);
  const out = cpu.makeOutput([T, N], outDtype);
  try {
    // x as float32 (16-bit widened exactly), then rounded to the compute dtype through the 16-bit format.
    let xp = ptr(x);
    const kx = kindOf(x.dtype);
    const n = T * K;
    if (kx < 0) {
      xp = blocks.alloc(n * 4);
      const src = readNum(cpu, x);
      const r = rounder(dtype);
      const dst = new Float32Array(cpu.heap.memory.buffer, xp, n);
      for (let i = 0; i < n; i++) dst[i] = r(src[i]);
    } else {
      if (kx !== 0) {
        xp = blocks.alloc(n * 4);
        convert(rt, 'halfToF32', ptr(x), xp, n, kx);
      }
      if (kind !== 0 && kx !== kind) {
        const h = blocks.alloc(n * 2);
        const f = kx === 0 ? blocks.alloc(n * 4) : xp;
        convert(rt, 'f32ToHalf', xp, h, n, kind);
        convert(rt, 'halfToF32', h, f, n, kind);
        xp = f;
      }
    }
    let bp = 0;
    if (hasBias) {
      const b = inputs[nested ? 6 : 4];
      if (b.dtype === 'float32') bp = ptr(b);
      else {
        bp = blocks.alloc(N * 4);
        new Float32Array(cpu.heap.memory.buffer, bp, N).set(readNum(cpu, b));
      }
    }
    // The code table in the compute dtype (the semantics of quant4MatMulRef).
    let mp = ptr(inputs[3]);
    if (kind !== 0) {
      const r = rounder(dtype);
      const src = readNum(cpu, inputs[3]);
      mp = blocks.alloc(16 * 4);
      const dst = new Float32Array(cpu.heap.memory.buffer, mp, 16);
      for (let c = 0; c < 16; c++) dst[c] = r(src[c]);
    }
    // The kernel writes float32 values already rounded to the compute dtype.
    const yp = outKind === 0 ? ptr(out) : blocks.alloc(T * N * 4);
    const weightBytes = (N * K) / 2;
    const nth = sharesFor(rt.threads, N, weightBytes >= PARALLEL_MIN_WEIGHT_BYTES / 4 || T * N * K >= 4e6);
    const wsStride = Math.ceil(rt.kernels.q4GemmWorkspaceBytes(K) / 64) * 64;
    const ws = blocks.alloc(nth * wsStride);
    const flags = (nested ? 1 : 0) | (hasBias ? 2 : 0) | (kind << 2);
    rt.run('q4Gemm', nth, [
      xp, ptr(inputs[1]), ptr(inputs[2]), mp, nested ? ptr(inputs[4]) : 0, nested ? ptr(inputs[5]) : 0, offset,
      bp, yp, T, N, K, blocksize, flags, ws, wsStride,
    ], 1 << 6);
    if (outKind !== 0) convert(rt, 'f32ToHalf', yp, ptr(out), T * N, outKind);
  } catch (e) {
    cpu.disposeData(out.dataId);
    throw e;
  } finally {
    blocks.free();
  }
  countCall('wasm', 'Quant4MatMul');
  return out;
}
