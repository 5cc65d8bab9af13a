/**
 * CPU reference kernels for LLM.int8 (docs/quantization.md §1): row-wise weight quantization,
 * activation quantization with outlier columns, the int8 × int8 → int32 product with row/column
 * scale dequantization, and weight-column dequantization for the 16-bit outlier stream.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import { numberToF16Bits } from '../../../lib/float16.js';
import { int8Scale, INT8_MM_DEQUANT, INT8_W_DEQUANT, rne } from '../../../lib/quant_codes.js';
import type { CpuBackend } from '../backend.js';
import { countCall } from '../config.js';
import { int8MatMulWasm, int8VectorQuantWasm } from './quant_wasm.js';
import { roundF16 } from './quant_util.js';
import { cpuKernel, readF32, readNum, storeNumbers } from './util.js';

const f32 = Math.fround;

cpuKernel('QuantizeInt8Rowwise', ([w], _attrs, cpu) => {
  const [N, K] = w.shape;
  const cb = cpu.makeOutput([N, K], 'int8');
  const scb = cpu.makeOutput([N], 'float32');
  const wv = readF32(cpu, w);
  const cv = cpu.viewOf(cb) as Int8Array;
  const sv = cpu.viewOf(scb) as Float32Array;
  const row = new Float32Array(K);
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let k = 0; k < K; k++) {
      const v = w.dtype === 'float16' ? wv[n * K + k] : roundF16(wv[n * K + k]); // bnb casts W to float16 first
      row[k] = v;
      const a = Math.abs(v);
      if (a > m) m = a;
    }
    sv[n] = m;
    if (m === 0) {
      cv.fill(0, n * K, (n + 1) * K);
      continue;
    }
    const scale = int8Scale(m);
    for (let k = 0; k < K; k++) cv[n * K + k] = rne(f32(row[k] * scale));
  }
  return [cb, scb];
});

/** Int8VectorQuant: the WebAssembly kernel for float32 activations, else the reference. */
cpuKernel('Int8VectorQuant', ([x], { threshold }: { threshold: number }, cpu) => int8VectorQuantWasm(cpu, x, threshold) ?? int8VectorQuantRef(cpu, x, threshold));

/** The reference Int8VectorQuant. */
function int8VectorQuantRef(cpu: CpuBackend, x: TensorInfo, threshold: number): TensorInfo[] {
  countCall('js', 'Int8VectorQuant');
  const [T, K] = x.shape;
  const xv = readF32(cpu, x);
  // Values as float16 (bnb quantizes a float16 copy of the activations).
  const h = new Float32Array(T * K);
  for (let i = 0; i < T * K; i++) h[i] = x.dtype === 'float16' ? xv[i] : roundF16(xv[i]);
  const isOutlierCol = new Uint8Array(K);
  let nOut = 0;
  if (threshold > 0) {
    for (let i = 0; i < T * K; i++) {
      if (Math.abs(h[i]) >= threshold && !isOutlierCol[i % K]) {
        isOutlierCol[i % K] = 1;
        nOut++;
      }
    }
  }
  const ca = cpu.makeOutput([T, K], 'int8');
  const sca = cpu.makeOutput([T], 'float32');
  const cols = cpu.makeOutput([nOut], 'int32');
  const cv = cpu.viewOf(ca) as Int8Array;
  const sv = cpu.viewOf(sca) as Float32Array;
  const ov = cpu.viewOf(cols) as Int32Array;
  for (let k = 0, j = 0; k < K; k++) if (isOutlierCol[k]) ov[j++] = k;
  for (let t = 0; t < T; t++) {
    const o = t * K;
    // Row absmax ignores the outlier elements themselves (values in outlier columns below the threshold still count).
    let m = 0;
    for (let k = 0; k < K; k++) {
      const a = Math.abs(h[o + k]);
      if (a > m && !(threshold > 0 && a >= threshold)) m = a;
    }
    sv[t] = m;
    const scale = m === 0 ? 0 : int8Scale(m);
    for (let k = 0; k < K; k++) cv[o + k] = isOutlierCol[k] || m === 0 ? 0 : rne(f32(h[o + k] * scale));
  }
  return [ca, sca, cols];
}

/** Int8MatMul: the WebAssembly kernel where it applies, else the reference. */
cpuKernel('Int8MatMul', (inputs, { hasBias }: { hasBias: boolean }, cpu) => int8MatMulWasm(cpu, inputs, hasBias) ?? int8MatMulRef(cpu, inputs, hasBias));

/** The reference Int8MatMul. */
function int8MatMulRef(cpu: CpuBackend, inputs: readonly TensorInfo[], hasBias: boolean): TensorInfo {
  countCall('js', 'Int8MatMul');
  const [ca, cb, sca, scb] = inputs;
  const [T, K] = ca.shape;
  const N = cb.shape[0];
  const out = cpu.makeOutput([T, N], 'float16');
  const av = cpu.viewOf(ca) as Int8Array;
  const bv = cpu.viewOf(cb) as Int8Array;
  const sa = readF32(cpu, sca);
  const sb = readF32(cpu, scb);
  const bias = hasBias ? readNum(cpu, inputs[4]) : null;
  const o = cpu.viewOf(out) as Uint16Array;
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let acc = 0; // exact: |acc| ≤ K·127² fits a double (and an int32 for K ≤ 133,144)
      const ao = t * K;
      const bo = n * K;
      for (let k = 0; k < K; k++) acc += av[ao + k] * bv[bo + k];
      const v = f32(f32(f32(acc) * sa[t]) * sb[n]);
      o[t * N + n] = numberToF16Bits(f32(v * INT8_MM_DEQUANT + (bias ? bias[n] : 0)));
    }
  }
  return out;
}

cpuKernel('DequantizeInt8', (inputs, attrs: { dtype: DType; hasCols: boolean; hasStored: boolean }, cpu) => {
  const { dtype, hasCols, hasStored } = attrs;
  const [cb, scb] = inputs;
  const [N, K] = cb.shape;
  const colsInfo = hasCols ? inputs[2] : null;
  const m = colsInfo ? colsInfo.shape[0] : K;
  const out = cpu.makeOutput([N, m], dtype);
  const cv = cpu.viewOf(cb) as Int8Array;
  const sv = readF32(cpu, scb);
  const cols = colsInfo ? (cpu.viewOf(colsInfo) as Int32Array) : null;
  // Column j's position among the stored 16-bit copies, or −1.
  const storedAt = new Int32Array(m).fill(-1);
  let stored: ArrayLike<number> | null = null;
  let S = 0;
  if (hasStored) {
    const sc = cpu.viewOf(inputs[3]) as Int32Array;
    S = sc.length;
    const pos = new Map<number, number>();
    for (let s = 0; s < S; s++) pos.set(sc[s], s);
    for (let j = 0; j < m; j++) storedAt[j] = pos.get(cols ? cols[j] : j) ?? -1;
    stored = readNum(cpu, inputs[4]);
  }
  const res = new Float32Array(N * m);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < m; j++) {
      const s = storedAt[j];
      res[n * m + j] = s >= 0 ? stored![n * S + s] : f32(f32(cv[n * K + (cols ? cols[j] : j)] * sv[n]) * INT8_W_DEQUANT);
    }
  }
  storeNumbers(cpu, out, res);
  return out;
});
