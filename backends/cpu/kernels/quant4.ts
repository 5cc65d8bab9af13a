/**
 * CPU reference kernels for the 4-bit formats (FP4/NF4, docs/quantization.md §2) and the 8-bit
 * blockwise quantization used by double quantization. These define the exact semantics; faster
 * kernels must agree with them (bit-exactly for quantization, to rounding for matmul).
 */

import type { Quant4MatMulAttrs } from '../../../lib/kernel_names.js';
import type { TensorInfo } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import { encodeSorted, encoder, type QuantType } from '../../../lib/quant_codes.js';
import { sizeOf, type Shape } from '../../../lib/shape.js';
import type { CpuBackend } from '../backend.js';
import { countCall } from '../config.js';
import { quant4MatMulWasm } from './quant_wasm.js';
import { rounder, Scratch } from './quant_util.js';
import { cpuKernel, readF32, readNum, writeF32 } from './util.js';

const f32 = Math.fround;

cpuKernel('Quantize4bit', ([w], { quantType, blocksize }: { quantType: QuantType; blocksize: number }, cpu) => {
  const n = sizeOf(w.shape);
  const nb = Math.ceil(n / blocksize);
  const packed = cpu.makeOutput([Math.ceil(n / 2), 1], 'uint8');
  const absmax = cpu.makeOutput([nb], 'float32');
  const x = readF32(cpu, w);
  const pv = cpu.viewOf(packed) as Uint8Array;
  const av = cpu.viewOf(absmax) as Float32Array;
  const enc = encoder(quantType);
  pv.fill(0);
  for (let b = 0; b < nb; b++) {
    const start = b * blocksize;
    const end = Math.min(n, start + blocksize);
    let m = 0;
    for (let i = start; i < end; i++) {
      const a = Math.abs(x[i]);
      if (a > m) m = a;
    }
    av[b] = m;
    // Reciprocal first, then multiply. An all-zero block gets the code of 0.0 (the PyTorch
    // fallback's choice; CUDA's 0·inf = NaN gives code 0), so it decodes to exactly 0 even when
    // double quantization restores a nonzero absmax for it.
    const inv = m === 0 ? 0 : f32(1 / m);
    for (let i = start; i < end; i++) {
      const code = enc(f32(x[i] * inv));
      pv[i >> 1] |= i & 1 ? code : code << 4;
    }
  }
  if (n & 1) pv[n >> 1] |= enc(0); // padding nibble: the code of 0.0, as the CUDA kernel writes
  return [packed, absmax];
});

/** Float32 absmax per block of Dequantize4bit's inputs: the stored values, or restored from double quantization. */
function blockAbsmax(cpu: CpuBackend, inputs: readonly TensorInfo[], nested: boolean, offset: number): Float32Array {
  const absmax = inputs[1];
  if (!nested) return readF32(cpu, absmax);
  const q = cpu.viewOf(absmax) as Uint8Array;
  const nestedAbsmax = readF32(cpu, inputs[3]);
  const map = readF32(cpu, inputs[4]);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = f32(f32(map[q[i]] * nestedAbsmax[i >> 8]) + offset);
  return out;
}

cpuKernel('Dequantize4bit', (inputs, attrs: { blocksize: number; shape: Shape; dtype: DType; nested: boolean; offset: number }, cpu) => {
  const { blocksize, shape, dtype, nested, offset } = attrs;
  const out = cpu.makeOutput(shape, dtype);
  const n = sizeOf(shape);
  const packed = cpu.viewOf(inputs[0]) as Uint8Array;
  const absmax = blockAbsmax(cpu, inputs, nested, offset);
  const map = readF32(cpu, inputs[2]);
  writeF32(cpu, out, (o) => {
    for (let i = 0; i < n; i++) {
      const byte = packed[i >> 1];
      o[i] = f32(map[i & 1 ? byte & 15 : byte >> 4] * absmax[(i / blocksize) | 0]);
    }
  });
  return out;
});

cpuKernel('QuantizeBlockwise8', ([x, map], { blocksize }: { blocksize: number }, cpu) => {
  const n = sizeOf(x.shape);
  const nb = Math.ceil(n / blocksize);
  const codes = cpu.makeOutput([n], 'uint8');
  const absmax = cpu.makeOutput([nb], 'float32');
  const xv = readF32(cpu, x);
  const mv = readF32(cpu, map);
  const cv = cpu.viewOf(codes) as Uint8Array;
  const av = cpu.viewOf(absmax) as Float32Array;
  for (let b = 0; b < nb; b++) {
    const start = b * blocksize;
    const end = Math.min(n, start + blocksize);
    let m = 0;
    for (let i = start; i < end; i++) {
      const a = Math.abs(xv[i]);
      if (a > m) m = a;
    }
    av[b] = m;
    const inv = f32(1 / m);
    for (let i = start; i < end; i++) cv[i] = m === 0 ? encodeSorted(0, mv) : encodeSorted(f32(xv[i] * inv), mv);
  }
  return [codes, absmax];
});

cpuKernel('DequantizeBlockwise8', ([codes, absmax, map], { blocksize, offset }: { blocksize: number; offset: number }, cpu) => {
  const n = sizeOf(codes.shape);
  const out = cpu.makeOutput([n], 'float32');
  const cv = cpu.viewOf(codes) as Uint8Array;
  const av = readF32(cpu, absmax);
  const mv = readF32(cpu, map);
  const o = cpu.viewOf(out) as Float32Array;
  for (let i = 0; i < n; i++) o[i] = f32(f32(mv[cv[i]] * av[(i / blocksize) | 0]) + offset);
  return out;
});


/** Quant4MatMul: the WebAssembly kernel where it applies, else the reference. */
cpuKernel('Quant4MatMul', (inputs, attrs: Quant4MatMulAttrs, cpu) => quant4MatMulWasm(cpu, inputs, attrs) ?? quant4MatMulRef(cpu, inputs, attrs));

/**
 * The reference: y[t, n] = Σ_k r(x[t, k]) · f32(r(map[code(n, k)]) · absmax[block(n, k)]) with r =
 * rounding to the compute dtype, accumulated in float64, plus r(bias[n]), rounded once to the
 * compute dtype and stored in `outDtype`. The code table is held in the compute dtype, as
 * bitsandbytes' kernels hold it; the float32 absmax is not rounded (bitsandbytes rounds it and the
 * product too, which only loses precision). So a 16-bit weight here differs from `dequantize4bit(state, dtype)`'s by at most one
 * rounding. One weight row is dequantized at a time into a K-float scratch row.
 */
function quant4MatMulRef(cpu: CpuBackend, inputs: readonly TensorInfo[], attrs: Quant4MatMulAttrs): TensorInfo {
  countCall('js', 'Quant4MatMul');
  const { blocksize, N, K, dtype, nested, offset, hasBias } = attrs;
  const x = inputs[0];
  const T = x.shape[0];
  const out = cpu.makeOutput([T, N], attrs.outDtype ?? dtype);
  const r = rounder(dtype);
  const scratch = new Scratch(cpu);
  const rowId = scratch.alloc(K);
  const needX = x.dtype !== 'float32' || dtype !== 'float32';
  const xId = needX ? scratch.alloc(T * K) : -1;
  const accId = scratch.alloc(T * N);
  try {
    const row = scratch.f32(rowId, K);
    const acc = scratch.f32(accId, T * N);
    let xv: Float32Array;
    if (needX) {
      xv = scratch.f32(xId, T * K);
      const src = readNum(cpu, x);
      for (let i = 0; i < T * K; i++) xv[i] = r(src[i]);
    } else xv = cpu.viewOf(x) as Float32Array;
    const packed = cpu.viewOf(inputs[1]) as Uint8Array;
    const map = readF32(cpu, inputs[3]).map(r);
    const bias = hasBias ? readNum(cpu, inputs[nested ? 6 : 4]) : null;
    let absmax: Float32Array;
    let qabs: Uint8Array | null = null;
    let nestedAbs: Float32Array | null = null;
    let nestedMap: Float32Array | null = null;
    if (nested) {
      qabs = cpu.viewOf(inputs[2]) as Uint8Array;
      nestedAbs = readF32(cpu, inputs[4]);
      nestedMap = readF32(cpu, inputs[5]);
      absmax = new Float32Array(0);
    } else absmax = readF32(cpu, inputs[2]);
    for (let n = 0; n < N; n++) {
      // Dequantize row n block by block (blocks may straddle rows when K % blocksize ≠ 0).
      const base = n * K;
      for (let k = 0; k < K; ) {
        const i0 = base + k;
        const b = (i0 / blocksize) | 0;
        const end = Math.min(K, (b + 1) * blocksize - base);
        const am = qabs ? f32(f32(nestedMap![qabs[b]] * nestedAbs![b >> 8]) + offset) : absmax[b];
        for (; k < end; k++) {
          const i = base + k;
          const byte = packed[i >> 1];
          row[k] = f32(map[i & 1 ? byte & 15 : byte >> 4] * am);
        }
      }
      const bn = bias ? r(bias[n]) : 0;
      for (let t = 0; t < T; t++) {
        let s = 0;
        const xo = t * K;
        for (let k = 0; k < K; k++) s += xv[xo + k] * row[k];
        acc[t * N + n] = r(s + bn);
      }
    }
    writeF32(cpu, out, (o) => o.set(scratch.f32(accId, T * N)));
  } finally {
    scratch.free();
  }
  return out;
}
