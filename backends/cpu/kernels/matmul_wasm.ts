/**
 * MatMul on the WebAssembly kernels: packed SGEMM for general shapes, GEMV for small M (the
 * decode step). Float32, float16 and bfloat16 operands; B is read in its own dtype (16-bit
 * weights are converted in registers), A is converted to float32 scratch when 16-bit, and a
 * 16-bit output is rounded once from the float32 result.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { sizeOf, type Shape } from '../../../lib/shape.js';
import type { CpuBackend, CpuDataId } from '../backend.js';
import { countCall } from '../config.js';
import type { WasmRuntime } from '../runtime.js';
import { batchOffsets } from './util.js';

// Flag bits of the gemm/gemv exports (backends/cpu/assembly/gemm.ts).
const TRANS_A = 1;
const TRANS_B = 2;
const KIND_SHIFT = 2;

/** Largest M that takes the GEMV path (weights streamed once, no packing); = GEMV_MAX_M in assembly/gemv.ts. */
const GEMV_MAX_M = 8;
/**
 * Below these sizes a job runs on the calling thread. Measured on 2 Zen 5 cores (perf/RESULTS.md):
 * a job reaches a spinning worker in ~1 µs but a sleeping one in ~36–72 µs. GEMM gained from a
 * second thread from ~48³ with the worker spinning and from ~160³ (8 MFLOP) with it asleep;
 * 6 MFLOP splits the difference. GEMV with cache-resident weights gained nothing below 2–4 MiB,
 * but real decode weights stream from DRAM, where one thread reads ~20 GB/s and two ~35 GB/s,
 * so the cut is lower, at 1 MiB.
 */
const GEMM_PARALLEL_MIN_FLOPS = 6e6;
const GEMV_PARALLEL_MIN_BYTES = 1 << 20;
const CONVERT_PARALLEL_MIN = 1 << 18;
/**
 * GEMV splits its rows into this many shares per thread (rows are independent, so more shares
 * cost nothing but a claim each): when a worker is descheduled — an oversubscribed machine —
 * the other threads take its remaining shares instead of waiting for it.
 */
const GEMV_SHARES_PER_THREAD = 4;
const GEMV_MIN_ROWS_PER_SHARE = 64;

/** Element kind code of a float dtype for the kernels: 0 float32, 1 float16, 2 bfloat16. */
function kindOf(dtype: string): number {
  return dtype === 'float32' ? 0 : dtype === 'float16' ? 1 : dtype === 'bfloat16' ? 2 : -1;
}

type MatMulAttrs = { transposeA: boolean; transposeB: boolean; dtype: TensorInfo['dtype']; shape: Shape };

/** Scratch blocks of one call, freed together. */
class Scratch {
  private readonly blocks: [number, number][] = [];
  constructor(private readonly cpu: CpuBackend) {}
  alloc(bytes: number): number {
    const p = this.cpu.allocScratch(bytes);
    this.blocks.push([p, bytes]);
    return p;
  }
  int32(values: Int32Array): number {
    const p = this.alloc(values.byteLength);
    this.cpu.heap.i32.set(values, p >>> 2); // >>>: heap offsets reach 4 GiB
    return p;
  }
  free(): void {
    for (const [p, b] of this.blocks) this.cpu.freeScratch(p, b);
  }
}

/** Runs a 16-bit ↔ float32 conversion of n elements, split over threads when large. */
export function convert(rt: WasmRuntime, kernel: 'halfToF32' | 'f32ToHalf', src: number, dst: number, n: number, kind: number): void {
  rt.run(kernel, n >= CONVERT_PARALLEL_MIN ? rt.threads : 1, [src, dst, n, kind]);
}

/**
 * The WebAssembly MatMul, or null (having allocated nothing) when it does not apply: no runtime,
 * a non-float operand, or an empty product (the reference handles those).
 */
export function matmulWasm(cpu: CpuBackend, a: TensorInfo, b: TensorInfo, attrs: MatMulAttrs): TensorInfo | null {
  const { transposeA, transposeB, dtype, shape } = attrs;
  const ka = kindOf(a.dtype), kb = kindOf(b.dtype), ko = kindOf(dtype);
  if (ka < 0 || kb < 0 || ko < 0) return null;
  const rt = cpu.wasm();
  if (!rt) return null;
  const batchShape = shape.slice(0, -2);
  let M = shape[shape.length - 2];
  const N = shape[shape.length - 1];
  const K = transposeA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
  let batch = sizeOf(batchShape);
  if (M === 0 || N === 0 || K === 0 || batch === 0) return null;

  const out = cpu.makeOutput(shape, dtype);
  const scratch = new Scratch(cpu);
  try {
    // A Linear-style product (B shared by every batch item, A dense) is one tall product.
    const bShared = b.shape.slice(0, -2).every((d) => d === 1);
    const aDense = sizeOf(a.shape.slice(0, -2)) === batch;
    if (bShared && aDense && !transposeA) {
      M *= batch;
      batch = 1;
    }
    let aPtr = ptrOf(a);
    if (ka !== 0) {
      const n = sizeOf(a.shape);
      const p = scratch.alloc(n * 4);
      convert(rt, 'halfToF32', aPtr, p, n, ka);
      aPtr = p;
    }
    const bPtr = ptrOf(b);
    let aOffs = 0, bOffs = 0;
    if (batch > 1) {
      aOffs = scratch.int32(batchOffsets(a, batchShape));
      bOffs = scratch.int32(batchOffsets(b, batchShape));
    }
    const cPtr = ko === 0 ? ptrOf(out) : scratch.alloc(sizeOf(shape) * 4);
    const flags = (transposeA ? TRANS_A : 0) | (transposeB ? TRANS_B : 0) | (kb << KIND_SHIFT);

    if (M <= GEMV_MAX_M && !transposeA) {
      const weightBytes = batch * N * K * (kb === 0 ? 4 : 2);
      const nth = weightBytes >= GEMV_PARALLEL_MIN_BYTES
        ? Math.max(1, Math.min(rt.threads * GEMV_SHARES_PER_THREAD, Math.floor((batch * N) / GEMV_MIN_ROWS_PER_SHARE)))
        : 1;
      const wsStride = Math.ceil(rt.kernels.gemvWorkspaceBytes(K) / 64) * 64;
      const ws = kb === 0 ? 0 : scratch.alloc(nth * wsStride);
      rt.run('gemv', nth, [aPtr, bPtr, cPtr, M, N, K, flags, batch, aOffs, bOffs, ws, wsStride]);
    } else {
      const flops = 2 * batch * M * N * K;
      // One share per thread: every GEMM share packs the whole A block it multiplies, so more
      // shares cost 3–7% at 384–2048 (measured); they would only help when a thread is
      // descheduled mid-job (see GEMV_SHARES_PER_THREAD).
      const nth = flops >= GEMM_PARALLEL_MIN_FLOPS ? rt.threads : 1;
      const wsStride = Math.ceil(rt.kernels.gemmWorkspaceBytes(M, N, K) / 64) * 64;
      const ws = scratch.alloc(nth * wsStride);
      rt.run('gemm', nth, [aPtr, bPtr, cPtr, M, N, K, flags, batch, aOffs, bOffs, ws, wsStride]);
    }
    if (ko !== 0) convert(rt, 'f32ToHalf', cPtr, ptrOf(out), sizeOf(shape), ko);
  } catch (e) {
    cpu.disposeData(out.dataId);
    throw e;
  } finally {
    scratch.free();
  }
  countCall('wasm', 'MatMul');
  return out;
}

function ptrOf(t: TensorInfo): number {
  return (t.dataId as CpuDataId).ptr;
}
