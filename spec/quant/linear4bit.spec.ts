/** Linear4bit forward: dequantize-inside-the-matmul in each compute dtype, and its memory. */

import { expect } from 'chai';
import {
  cast, dequantize4bit, Linear4bit, matmul, matmul4bit, memory, quantize4bit, resetPeakMemory, tensor, type DType,
} from '../../index.js';
import { checkLeaks, normals, relFrob, tit, matmulT64 } from './helpers.js';

/** ulp of a compute dtype at |x| (float32: 2⁻²³ relative). */
function ulp(x: number, dtype: DType): number {
  const a = Math.max(Math.abs(x), 2 ** -14);
  const mant = dtype === 'float16' ? 10 : dtype === 'bfloat16' ? 7 : 23;
  return 2 ** (Math.floor(Math.log2(a)) - mant);
}

describe('quant/Linear4bit', () => {
  checkLeaks();

  for (const computeDtype of ['float32', 'float16', 'bfloat16'] as const) {
    tit(`forward equals the reference semantics in ${computeDtype}: code table in the compute dtype × float32 absmax (blocks straddling rows, bias, 3-D and decode-shaped input)`, () => {
      // T = 6 takes the GEMM kernel; T = 1 with K % 32 = 0 the decode (GEMV) kernels.
      for (const [N, K, bs, dq] of [[7, 96, 64, false], [5, 100, 32, true], [4, 256, 128, true], [67, 512, 64, false], [9, 4096, 4096, true]] as const) {
        const w = tensor(normals(N * K, N + K, 0.2), [N, K]);
        const b = tensor(normals(N, 3), [N]);
        const layer = Linear4bit.fromFloat(w, b, { quantType: 'nf4', blocksize: bs, doubleQuant: dq, computeDtype });
        // Reference: x rounded to the compute dtype; weights = f32(r(map[code]) · absmax), which is
        // dequantize4bit of the same state with its code table rounded; float32 products; bias
        // rounded; one final rounding.
        const st = layer.quant4.state;
        const quantMap = cast(cast(st.quantMap, computeDtype), 'float32');
        const wr = dequantize4bit({ ...st, quantMap }, 'float32').dataSync();
        const bv = cast(b, computeDtype).dataSync();
        for (const lead of [[2, 3], [1]]) {
          const T = lead.reduce((a, c) => a * c, 1);
          const x = tensor(normals(T * K, K + T), [...lead, K]);
          const y = layer.forward(x);
          expect(y.dtype).to.equal('float32');
          expect(y.shape).to.deep.equal([...lead, N]);
          const xr = cast(cast(x, computeDtype), 'float32').dataSync();
          const ref = matmulT64(xr, wr, T, K, N);
          const mag = matmulT64(xr.map(Math.abs), wr.map(Math.abs), T, K, N);
          const got = y.dataSync();
          // The float32 output holds values of the compute dtype: the kernel rounded before converting.
          if (computeDtype !== 'float32') expect(Array.from(cast(cast(y, computeDtype), 'float32').dataSync())).to.deep.equal(Array.from(got));
          for (let i = 0; i < got.length; i++) {
            const exact = ref[i] + bv[i % N];
            // float32 accumulation (any order) plus the final rounding to the compute dtype.
            const tol = ulp(exact, computeDtype) + K * 2 ** -24 * mag[i];
            if (!(Math.abs(got[i] - exact) <= tol)) expect.fail(`[${N},${K}] T=${T} element ${i}: ${got[i]} vs ${exact} (tol ${tol})`);
          }
        }
      }
    });
  }

  tit('16-bit compute stays within one rounding per weight of dequantize-then-matmul in that dtype', () => {
    const [N, K] = [16, 256];
    const w = tensor(normals(N * K, 11, 0.2), [N, K]);
    for (const computeDtype of ['float16', 'bfloat16'] as const) {
      const layer = Linear4bit.fromFloat(w, null, { quantType: 'nf4', computeDtype });
      for (const T of [1, 5]) {
        const x = tensor(normals(T * K, 12 + T), [T, K]);
        const xc = cast(cast(x, computeDtype), 'float32').dataSync();
        const wc = cast(dequantize4bit(layer.quant4.state, computeDtype), 'float32').dataSync();
        const ref = matmulT64(xc, wc, T, K, N);
        const mag = matmulT64(xc.map(Math.abs), wc.map(Math.abs), T, K, N);
        const got = layer.forward(x).dataSync();
        const u = computeDtype === 'float16' ? 2 ** -11 : 2 ** -8;
        for (let i = 0; i < got.length; i++) {
          // r(map)·a and r(map·a) differ by ≤ 2u|w| per weight; plus the final rounding.
          const tol = 2 * u * mag[i] + ulp(ref[i], computeDtype) + K * 2 ** -24 * mag[i];
          if (!(Math.abs(got[i] - ref[i]) <= tol)) expect.fail(`${computeDtype} T=${T} element ${i}: ${got[i]} vs ${ref[i]} (tol ${tol})`);
        }
      }
    }
  });

  tit('float16 input with float32 compute returns float16; the weight keeps its quantization dtype', () => {
    const w = tensor(normals(8 * 64, 1), [8, 64], 'bfloat16');
    const st = quantize4bit(w, { quantType: 'fp4' });
    expect(st.dtype).to.equal('bfloat16');
    const x = tensor(normals(64, 2), [1, 64], 'float16');
    const y = matmul4bit(x, st);
    expect(y.dtype).to.equal('float16');
    expect(dequantize4bit(st).dtype).to.equal('bfloat16');
  });

  it('4-bit forward never allocates a full float32 (or float16) weight', () => {
    const N = 512;
    const K = 1024;
    const w = tensor(normals(N * K, 3), [N, K]);
    const layer = Linear4bit.fromFloat(w, null, { quantType: 'nf4', doubleQuant: true });
    const l16 = Linear4bit.fromFloat(w, null, { quantType: 'fp4', computeDtype: 'float16' });
    w.dispose();
    const x = tensor(normals(4 * K, 4), [4, K]);
    const before = memory().numBytes;
    resetPeakMemory();
    const y = layer.forward(x);
    const peak = memory().peakBytes - before;
    expect(peak, `peak extra bytes ${peak}`).to.be.below((N * K * 2) / 8);
    expect(peak).to.be.above(0);
    y.dispose();
    // The same check with a float16 compute dtype.
    resetPeakMemory();
    const y2 = l16.forward(x);
    expect(memory().peakBytes - before).to.be.below((N * K * 2) / 8);
    y2.dispose();
    x.dispose();
    layer.dispose();
    l16.dispose();
  });

  tit('relative error of X·Wᵀ on random data: NF4 ≤ 0.10, FP4 ≤ 0.13, NF4 < FP4', () => {
    const T = 16;
    const K = 1024;
    const N = 32;
    const wv = normals(N * K, 5);
    const xv = normals(T * K, 6);
    const ref = matmulT64(xv, wv, T, K, N);
    const w = tensor(wv, [N, K]);
    const x = tensor(xv, [T, K]);
    const e: Record<string, number> = {};
    for (const quantType of ['nf4', 'fp4'] as const) e[quantType] = relFrob(Linear4bit.fromFloat(w, null, { quantType }).forward(x).dataSync(), ref);
    expect(e.nf4).to.be.below(0.1);
    expect(e.fp4).to.be.below(0.13);
    expect(e.nf4).to.be.below(e.fp4);
  });

  tit('rejects mismatched inputs with errors naming the argument', () => {
    const w = tensor(normals(4 * 64, 7), [4, 64]);
    const layer = Linear4bit.fromFloat(w);
    expect(() => layer.forward(tensor(normals(63, 1), [1, 63]))).to.throw(/'x' must have 64 features .*got shape \[1,63\]/);
    expect(() => Linear4bit.fromFloat(w, null, { computeDtype: 'int32' })).to.throw(/'computeDtype' must be float32, float16 or bfloat16, got int32/);
  });
});
