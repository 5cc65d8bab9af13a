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
    tit(`forward equals dequantize-then-matmul in ${computeDtype} (blocks straddling rows, bias, 3-D input)`, () => {
      for (const [N, K, bs, dq] of [[7, 96, 64, false], [5, 100, 32, true], [4, 256, 128, true]] as const) {
        const w = tensor(normals(N * K, N + K, 0.2), [N, K]);
        const b = tensor(normals(N, 3), [N]);
        const x = tensor(normals(2 * 3 * K, K), [2, 3, K]);
        const layer = Linear4bit.fromFloat(w, b, { quantType: 'nf4', blocksize: bs, doubleQuant: dq, computeDtype });
        const y = layer.forward(x);
        expect(y.dtype).to.equal('float32');
        expect(y.shape).to.deep.equal([2, 3, N]);
        // Reference: x and W rounded to the compute dtype, matmul there (float32 accumulation, one rounding), bias, back to float32.
        const xc = cast(x, computeDtype);
        const wc = dequantize4bit(layer.quant4.state, computeDtype);
        const r = matmul(xc, wc, { transposeB: true });
        const ref = cast(r, 'float32').dataSync();
        const bv = cast(b, computeDtype).dataSync();
        const got = y.dataSync();
        const xa = cast(xc, 'float32').dataSync().map(Math.abs);
        const wa = cast(wc, 'float32').dataSync().map(Math.abs);
        const mag = matmulT64(xa, wa, 6, K, N);
        for (let i = 0; i < got.length; i++) {
          const want = ref[i] + bv[i % N];
          // Our kernel adds the bias before its single rounding; the reference rounds twice.
          const tol = 2 * ulp(want, computeDtype) + ulp(ref[i], computeDtype) + K * 2 ** -24 * mag[i];
          if (!(Math.abs(got[i] - want) <= tol)) expect.fail(`[${N},${K}] element ${i}: ${got[i]} vs ${want} (tol ${tol})`);
        }
      }
    });
  }

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
