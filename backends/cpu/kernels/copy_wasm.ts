/**
 * Data movement as copies of contiguous runs (WebAssembly `memory.copy` per run, split over the
 * pool when large): Transpose when the last axis stays last (the head layout swap
 * (B, T, H, D) ↔ (B, H, T, D)), Slice, WriteSlice and Concat, for every dtype (bits are moved,
 * never converted). A region is described by its shape and element strides on both sides;
 * size-1 axes are dropped, contiguous axes merged, and what is left must be a run plus at most
 * three outer axes — otherwise the TypeScript reference runs.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { bytesPerElement } from '../../../lib/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../../../lib/shape.js';
import type { CpuBackend } from '../backend.js';
import { countCall } from '../config.js';
import { cpuFastPath, ptrOf } from './util.js';

/** Bytes from which a copy is split over the pool (one thread copies ~10–20 GB/s: 256 KiB ≈ 15 µs). */
const COPY_PARALLEL_MIN_BYTES = 1 << 18;

/** A copy as n0·n1·n2 runs of `run` elements, with element strides per outer axis. */
interface CopyPlan {
  run: number;
  dims: [number, number, number];
  dst: [number, number, number];
  src: [number, number, number];
}

/** Plans a strided copy of a region of shape `size`; null when it needs more than three outer axes. */
export function planCopy(size: Shape, dstStrides: readonly number[], srcStrides: readonly number[]): CopyPlan | null {
  let dims: number[] = [], ds: number[] = [], ss: number[] = [];
  for (let i = 0; i < size.length; i++) {
    if (size[i] === 1) continue;
    dims.push(size[i]);
    ds.push(dstStrides[i]);
    ss.push(srcStrides[i]);
  }
  // Innermost axes contiguous on both sides form the run.
  let run = 1;
  while (dims.length && ds[ds.length - 1] === run && ss[ss.length - 1] === run) {
    run *= dims.pop()!;
    ds.pop();
    ss.pop();
  }
  // Merge outer axes that step exactly over the axis inside them.
  const md: number[] = [], mds: number[] = [], mss: number[] = [];
  for (let i = 0; i < dims.length; i++) {
    const k = md.length - 1;
    if (k >= 0 && mds[k] === dims[i] * ds[i] && mss[k] === dims[i] * ss[i]) {
      md[k] *= dims[i];
      mds[k] = ds[i];
      mss[k] = ss[i];
    } else {
      md.push(dims[i]);
      mds.push(ds[i]);
      mss.push(ss[i]);
    }
  }
  if (md.length > 3) return null;
  while (md.length < 3) {
    md.unshift(1);
    mds.unshift(0);
    mss.unshift(0);
  }
  [dims, ds, ss] = [md, mds, mss];
  return { run, dims: dims as CopyPlan['dims'], dst: ds as CopyPlan['dst'], src: ss as CopyPlan['src'] };
}

/** Runs a planned copy from byte address src to dst with elements of `es` bytes; false when no WebAssembly. */
function runCopy(cpu: CpuBackend, p: CopyPlan, dst: number, src: number, es: number): boolean {
  const runs = p.dims[0] * p.dims[1] * p.dims[2];
  const bytes = runs * p.run * es;
  if (bytes === 0) return true;
  if (runs === 1) {
    // One contiguous block: the engine's own memmove.
    cpu.heap.u8.copyWithin(dst, src, src + bytes);
    return true;
  }
  const rt = cpu.wasm();
  if (!rt) return false;
  const nth = bytes >= COPY_PARALLEL_MIN_BYTES ? Math.min(rt.threads, runs) : 1;
  rt.run('copyRuns', nth, [dst, src, p.run * es, ...p.dims, ...p.dst.map((s) => s * es), ...p.src.map((s) => s * es)]);
  return true;
}

function offsetOf(begin: readonly number[], strides: readonly number[]): number {
  let o = 0;
  for (let i = 0; i < begin.length; i++) o += begin[i] * strides[i];
  return o;
}

cpuFastPath('Transpose', ([x], { perm, shape }: { perm: number[]; shape: Shape }, cpu: CpuBackend) => {
  const xs = stridesOf(x.shape);
  const plan = planCopy(shape, stridesOf(shape), perm.map((p) => xs[p]));
  if (!plan || plan.run === 1 || !cpu.wasm()) return null;
  const out = cpu.makeOutput(shape, x.dtype);
  runCopy(cpu, plan, ptrOf(out), ptrOf(x), bytesPerElement(x.dtype));
  countCall('wasm', 'Transpose');
  return out;
});

cpuFastPath('Slice', ([x], { begin, size }: { begin: number[]; size: Shape }, cpu: CpuBackend) => {
  const xs = stridesOf(x.shape);
  const plan = planCopy(size, stridesOf(size), xs);
  if (!plan || !cpu.wasm()) return null;
  const es = bytesPerElement(x.dtype);
  const out = cpu.makeOutput(size, x.dtype);
  runCopy(cpu, plan, ptrOf(out), ptrOf(x) + offsetOf(begin, xs) * es, es);
  countCall('wasm', 'Slice');
  return out;
});

cpuFastPath('WriteSlice', ([dst, src], { begin }: { begin: number[] }, cpu: CpuBackend) => {
  const ds = stridesOf(dst.shape);
  const plan = planCopy(src.shape, ds, stridesOf(src.shape));
  if (!plan || !cpu.wasm()) return null;
  const es = bytesPerElement(dst.dtype);
  runCopy(cpu, plan, ptrOf(dst) + offsetOf(begin, ds) * es, ptrOf(src), es);
  countCall('wasm', 'WriteSlice');
  return [];
});

cpuFastPath('Concat', (xs: readonly TensorInfo[], { axis, shape }: { axis: number; shape: Shape }, cpu: CpuBackend) => {
  const os = stridesOf(shape);
  const plans = xs.map((x) => planCopy(x.shape, os, stridesOf(x.shape)));
  if (plans.some((p) => !p) || !cpu.wasm() || sizeOf(shape) === 0) return null;
  const es = bytesPerElement(xs[0].dtype);
  const out = cpu.makeOutput(shape, xs[0].dtype);
  let at = 0;
  xs.forEach((x, i) => {
    runCopy(cpu, plans[i]!, ptrOf(out) + at * os[axis] * es, ptrOf(x), es);
    at += x.shape[axis];
  });
  countCall('wasm', 'Concat');
  return out;
});
