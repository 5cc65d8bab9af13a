/**
 * The WebAssembly MatMul against a float64 product of the same inputs, and against the
 * TypeScript reference kernel, on shapes chosen to hit every edge of the packed GEMM (partial
 * 5×8 tiles, K not a multiple of 4/8/16, K and N spanning several cache blocks), the GEMV path
 * (M ≤ 8), transposes, broadcast batches, and float16/bfloat16 operands.
 */

import { expect } from 'chai';
import * as ft from '../../../index.js';
import { Random } from '../../../lib/random.js';
import type { Tensor } from '../../../lib/tensor.js';

const rng = new Random(1234);

function randTensor(shape: number[], dtype: ft.DType = 'float32', scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (rng.nextUint32() / 2 ** 32 - 0.5) * 2 * scale;
  return ft.tensor(v, shape, dtype);
}

interface Case { a: number[]; b: number[]; ta?: boolean; tb?: boolean }

/** float64 product of op(a)·op(b) with broadcast batches, plus Σ|a||b| per element (for the error bound). */
function product64(a: Tensor, b: Tensor, ta: boolean, tb: boolean): { shape: number[]; c: Float64Array; mag: Float64Array } {
  const av = a.dataSync(), bv = b.dataSync();
  const [am, ak] = ta ? [a.shape[a.rank - 1], a.shape[a.rank - 2]] : [a.shape[a.rank - 2], a.shape[a.rank - 1]];
  const [bk, bn] = tb ? [b.shape[b.rank - 1], b.shape[b.rank - 2]] : [b.shape[b.rank - 2], b.shape[b.rank - 1]];
  expect(ak).to.equal(bk);
  const aBatch = a.shape.slice(0, -2), bBatch = b.shape.slice(0, -2);
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (s: number[]) => [...new Array(rank - s.length).fill(1), ...s];
  const pa = pad(aBatch), pb = pad(bBatch);
  const batch = pa.map((d, i) => Math.max(d, pb[i]));
  const nb = batch.reduce((x, y) => x * y, 1);
  const M = am, N = bn, K = ak;
  const c = new Float64Array(nb * M * N), mag = new Float64Array(nb * M * N);
  for (let bi = 0; bi < nb; bi++) {
    // Batch index → offsets in a and b (broadcast dims of size 1 stay at 0).
    let rem = bi, offA = 0, offB = 0, strA = 1, strB = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const i = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
      if (pa[d] !== 1) offA += i * strA;
      if (pb[d] !== 1) offB += i * strB;
      strA *= pa[d];
      strB *= pb[d];
    }
    offA *= M * K;
    offB *= K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0, m = 0;
        for (let k = 0; k < K; k++) {
          const x = av[offA + (ta ? k * M + i : i * K + k)];
          const y = bv[offB + (tb ? j * K + k : k * N + j)];
          s += x * y;
          m += Math.abs(x * y);
        }
        c[bi * M * N + i * N + j] = s;
        mag[bi * M * N + i * N + j] = m;
      }
    }
  }
  return { shape: [...batch, M, N], c, mag };
}

/** Float32 accumulation error bound (any summation order, with or without FMA) plus one output rounding. */
function expectClose(got: ArrayLike<number>, ref: Float64Array, mag: Float64Array, K: number, outDtype: ft.DType, what: string): void {
  const outUlp = outDtype === 'float16' ? 2 ** -10 : outDtype === 'bfloat16' ? 2 ** -7 : 0;
  expect(got.length).to.equal(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const tol = (K + 4) * 2 ** -23 * mag[i] * 1.01 + outUlp * Math.abs(ref[i]) + 1e-30;
    const err = Math.abs(got[i] - ref[i]);
    if (!(err <= tol)) throw new Error(`${what}: element ${i}: got ${got[i]}, expected ${ref[i]} (error ${err} > bound ${tol})`);
  }
}

function runCase(c: Case, dA: ft.DType, dB: ft.DType): void {
  const K = c.ta ? c.a[c.a.length - 2] : c.a[c.a.length - 1];
  const a = randTensor(c.a, dA), b = randTensor(c.b, dB);
  const ref = product64(a, b, !!c.ta, !!c.tb);
  ft.resetCpuStats();
  const out = ft.matmul(a, b, { transposeA: c.ta, transposeB: c.tb });
  expect(ft.cpuStats().wasm.MatMul, 'served by WebAssembly').to.equal(1);
  expect(out.shape).to.deep.equal(ref.shape);
  const what = `[${c.a}]${c.ta ? 'ᵀ' : ''} ${dA} · [${c.b}]${c.tb ? 'ᵀ' : ''} ${dB}`;
  expectClose(out.dataSync(), ref.c, ref.mag, K, out.dtype, what);
  ft.dispose([a, b, out]);
}

const SHAPES: Case[] = [
  // GEMV (M ≤ 8), both B layouts, K and N odd, N not a multiple of 4 or 16
  { a: [1, 1], b: [1, 1] },
  { a: [1, 7], b: [7, 5] },
  { a: [1, 7], b: [5, 7], tb: true },
  { a: [1, 1029], b: [37, 1029], tb: true },
  { a: [1, 2051], b: [2051, 35] },
  { a: [3, 1030], b: [19, 1030], tb: true },
  { a: [8, 4100], b: [13, 4100], tb: true },
  { a: [2, 9], b: [9, 33] },
  // packed GEMM: partial tiles in M and N, K across KC = 256 blocks, N across NC
  { a: [9, 3], b: [3, 7] },
  { a: [129, 67], b: [67, 33] },
  { a: [33, 513], b: [513, 17] },
  { a: [11, 300], b: [41, 300], tb: true },
  { a: [300, 11], b: [300, 41], ta: true },
  { a: [70, 129], b: [53, 70], ta: true, tb: true },
  { a: [64, 64], b: [64, 64] },
  { a: [10, 20], b: [20, 2100] },
  // batched, broadcast batch dims, and the Linear fold (B shared by every batch item)
  { a: [2, 3, 9, 13], b: [3, 13, 6] },
  { a: [2, 1, 5, 7], b: [1, 4, 7, 3] },
  { a: [4, 1, 12], b: [4, 12, 10] },
  { a: [2, 5, 31], b: [17, 31], tb: true },
  { a: [3, 2, 16], b: [3, 9, 16], tb: true },
];

describe('cpu WebAssembly MatMul', () => {
  before(() => ft.setCpuKernels('wasm'));

  it('runs the WebAssembly kernels here (SIMD available)', () => {
    const info = ft.cpuInfo();
    expect(info.simd).to.equal(true);
    expect(info.kernels).to.equal('wasm');
  });

  for (const c of SHAPES) {
    it(`float32 [${c.a}]${c.ta ? 'ᵀ' : ''} · [${c.b}]${c.tb ? 'ᵀ' : ''} matches a float64 product`, () => runCase(c, 'float32', 'float32'));
  }

  for (const [dA, dB] of [['float32', 'float16'], ['float32', 'bfloat16'], ['float16', 'float16'], ['bfloat16', 'bfloat16'], ['float16', 'float32']] as const) {
    it(`${dA} · ${dB} on GEMV and GEMM shapes matches a float64 product`, () => {
      for (const c of [SHAPES[2], SHAPES[3], SHAPES[5], SHAPES[6], SHAPES[7], SHAPES[10], SHAPES[11], SHAPES[13], SHAPES[16], SHAPES[19]]) runCase(c, dA, dB);
    });
  }

  it('agrees with the TypeScript reference kernel (FLASHTENSOR_KERNELS=js path)', () => {
    const a = randTensor([2, 37, 45]), b = randTensor([45, 29]);
    const w = ft.matmul(a, b).dataSync();
    ft.setCpuKernels('js');
    try {
      ft.resetCpuStats();
      const r = ft.matmul(a, b).dataSync();
      expect(ft.cpuStats().js.MatMul).to.equal(1);
      expect(ft.cpuStats().wasm.MatMul).to.equal(undefined);
      const ref = product64(a, b, false, false);
      expectClose(w, new Float64Array(r), ref.mag, 45, 'float32', 'wasm vs js');
    } finally {
      ft.setCpuKernels('wasm');
    }
  });

  it('float16 weights with Inf, NaN, subnormals and ±0 (GEMV fast path falls back exactly)', () => {
    const K = 67, N = 9;
    const bits = new Uint16Array(N * K);
    for (let i = 0; i < bits.length; i++) bits[i] = 0x3c00 + (i % 97); // ~1.0 … 1.1
    bits[2 * K + 5] = 0x7c00; // +Inf in row 2
    bits[5 * K + 60] = 0xfe00; // NaN in row 5
    bits[7 * K + 1] = 0x0001; // smallest subnormal
    bits[7 * K + 2] = 0x83ff; // largest negative subnormal
    bits[8 * K + 3] = 0x8000; // -0
    for (const M of [1, 3]) {
      const x = randTensor([M, K]);
      const w = ft.fromStorage(bits, [N, K], 'float16');
      const y = ft.matmul(x, w, { transposeB: true }).dataSync();
      const ref = product64(x, w, false, true);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          const i = m * N + n;
          if (n === 2) expect(Math.abs(y[i]), 'row with +Inf').to.equal(Infinity);
          else if (n === 5) expect(y[i], 'row with NaN').to.be.NaN;
          else expect(Math.abs(y[i] - ref.c[i])).to.be.at.most((K + 4) * 2 ** -23 * ref.mag[i] * 1.01);
        }
      }
      ft.dispose([x, w]);
    }
  });

  it('GEMV paths agree bit for bit: M = 1 (in-register, x pre-scaled or not) vs M = 2 (chunked)', () => {
    const K = 2053, N = 39; // K % 8 = 5, N % 4 = 3: every tail
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      for (const big of [false, true]) {
        const w = randTensor([N, K], dtype);
        const xv = randTensor([2, K]).dataSync();
        if (big) xv[K - 10] = 1e5; // |x| ≥ 2^16: the float16 path cannot pre-scale x
        const x2 = ft.tensor(xv, [2, K]);
        const x1 = ft.tensor(xv.slice(0, K), [1, K]);
        const y1 = new Uint32Array(Float32Array.from(ft.matmul(x1, w, { transposeB: true }).dataSync()).buffer);
        const y2 = new Uint32Array(Float32Array.from(ft.matmul(x2, w, { transposeB: true }).dataSync()).buffer);
        expect(Array.from(y1), `${dtype}${big ? ', large x' : ''}`).to.deep.equal(Array.from(y2.subarray(0, N)));
        ft.dispose([w, x1, x2]);
      }
    }
  });

  it('rounds 16-bit outputs once, like the reference', () => {
    const a = randTensor([6, 40], 'float16'), b = randTensor([40, 11], 'float16');
    const ref = product64(a, b, false, false);
    const out = ft.matmul(a, b);
    expect(out.dtype).to.equal('float16');
    expectClose(out.dataSync(), ref.c, ref.mag, 40, 'float16', 'float16 output');
    ft.dispose([a, b, out]);
  });

  it('empty products and int32 take the reference path', () => {
    const a = ft.zeros([3, 0]), b = ft.zeros([0, 4]);
    ft.resetCpuStats();
    expect(Array.from(ft.matmul(a, b).dataSync())).to.deep.equal(new Array(12).fill(0));
    const i = ft.tensor([[1, 2], [3, 4]], undefined, 'int32');
    expect(Array.from(ft.matmul(i, i).dataSync())).to.deep.equal([7, 10, 15, 22]);
    expect(ft.cpuStats().js.MatMul).to.equal(2);
  });

  it('frees its scratch memory', () => {
    const a = randTensor([70, 300], 'bfloat16'), b = randTensor([300, 90], 'float16');
    const before = ft.memory().backends.cpu;
    ft.resetPeakMemory();
    const out = ft.matmul(a, b);
    const after = ft.memory().backends.cpu;
    expect(after.scratchBytes).to.equal(before.scratchBytes);
    expect(after.peakBytes).to.be.greaterThan(after.numBytes); // scratch was counted while it lived
    ft.dispose([a, b, out]);
  });
});
