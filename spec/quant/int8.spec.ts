/** LLM.int8: weight/activation quantization and the decomposed matmul (docs/quantization.md §1, §7 items 12–17). */

import { expect } from 'chai';
import {
  BitsAndBytesConfig, calibrate, dequantizeInt8, disposeInt8State, float16, int8MatMul, int8VectorQuant, Linear,
  Linear8bitLt, matmul, Module, quantizeInt8Rowwise, quantizeModel, rne, tensor, type Tensor,
} from '../../index.js';
import { checkLeaks, matmulT64, normals, relFrob, tit } from './helpers.js';

const f32 = Math.fround;
const r16 = (x: number) => float16.f16BitsToNumber(float16.numberToF16Bits(x));
const ulp16 = (x: number) => {
  const a = Math.abs(r16(x));
  if (a < 2 ** -14) return 2 ** -24;
  return 2 ** (Math.floor(Math.log2(a)) - 10);
};

/**
 * Independent float64 reference of the LLM.int8 decomposition (spec §1.3–1.4), from CB/SCB:
 * activations through float16, outlier columns by |x| ≥ threshold, row scales without outlier
 * elements, CA = rne(x·f32(127/SCA)), Yi = f16(acc·SCA·SCB/16129 + b), plus X[:,O]·Wo[:,O]ᵀ with
 * Wo the stored copy of a column when given, else CB·SCB/127.
 */
function llmInt8Ref(
  x: Float32Array, T: number, K: number, cb: Int8Array, scb: Float32Array, N: number, threshold: number,
  bias: Float32Array | null = null, stored: Map<number, Float64Array> = new Map(),
): { y: Float64Array; yi: Float64Array; outliers: number[] } {
  const h = x.map(r16);
  const O = new Set<number>();
  if (threshold > 0) for (let i = 0; i < T * K; i++) if (Math.abs(h[i]) >= threshold) O.add(i % K);
  const yi = new Float64Array(T * N);
  const y = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    let sca = 0;
    for (let k = 0; k < K; k++) {
      const a = Math.abs(h[t * K + k]);
      if (!(threshold > 0 && a >= threshold)) sca = Math.max(sca, a);
    }
    const ca = new Float64Array(K);
    for (let k = 0; k < K; k++) ca[k] = O.has(k) || sca === 0 ? 0 : rne(f32(h[t * K + k] * f32(127 / sca)));
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += ca[k] * cb[n * K + k];
      yi[t * N + n] = r16((acc * sca * scb[n]) / 16129 + (bias ? bias[n] : 0));
      let yo = 0;
      for (const k of O) yo += x[t * K + k] * (stored.get(k)?.[n] ?? (cb[n * K + k] * scb[n]) / 127);
      y[t * N + n] = yi[t * N + n] + yo;
    }
  }
  return { y, yi, outliers: [...O].sort((a, b) => a - b) };
}

/** Element tolerance: ±1 ulp of the float16 int8 part (float64 vs float32 scale math) plus float32 noise. */
function assertNearRef(got: ArrayLike<number>, ref: { y: Float64Array; yi: Float64Array }, extraRel = 1e-6): void {
  for (let i = 0; i < ref.y.length; i++) {
    const tol = ulp16(ref.yi[i]) + extraRel * (Math.abs(ref.y[i]) + 1);
    if (!(Math.abs(got[i] - ref.y[i]) <= tol)) expect.fail(`element ${i}: got ${got[i]}, reference ${ref.y[i]} (tol ${tol})`);
  }
}

function withOutliers(T: number, K: number, seed: number, cols: number[], lo = 20, hi = 60): Float32Array {
  const x = normals(T * K, seed);
  for (let i = 0; i < x.length; i++) x[i] = Math.max(-3.5, Math.min(3.5, x[i]));
  for (const k of cols) for (let t = 0; t < T; t++) x[t * K + k] = -(lo + ((hi - lo) * ((t * 7 + k) % 11)) / 10);
  return x;
}

class OneLayer extends Module {
  constructor(public proj: Linear) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.proj.forward(x);
  }
}

describe('quant/LLM.int8', () => {
  checkLeaks();

  tit('row-wise weights: CB ∈ [−127, 127], max |CB[n,:]| = 127, dequant within SCB/254 of f16(W); zero rows stay 0 (item 12)', () => {
    const N = 9;
    const K = 37;
    const w = normals(N * K, 1, 0.05);
    w.fill(0, 4 * K, 5 * K);
    const wt = tensor(w, [N, K]);
    const st = quantizeInt8Rowwise(wt);
    const cb = st.weight.dataSync() as Int8Array;
    const scb = st.scb.dataSync() as Float32Array;
    const d = dequantizeInt8(st);
    const dv = d.dataSync();
    for (let n = 0; n < N; n++) {
      let m = 0;
      let am = 0;
      for (let k = 0; k < K; k++) {
        m = Math.max(m, Math.abs(cb[n * K + k]));
        am = Math.max(am, Math.abs(r16(w[n * K + k])));
        const err = Math.abs(dv[n * K + k] - w[n * K + k]);
        const tol = scb[n] / 254 + Math.abs(r16(w[n * K + k]) - w[n * K + k]) + 1e-7 * scb[n];
        if (err > tol) expect.fail(`[${n}, ${k}]: ${w[n * K + k]} → ${dv[n * K + k]} (tol ${tol})`);
      }
      expect(scb[n]).to.equal(f32(am));
      expect(m).to.equal(n === 4 ? 0 : 127);
    }
    d.dispose();
    disposeInt8State(st);
    wt.dispose();
  });

  tit('the decomposition matches an independent float64 reference (threshold 0 and 6, with bias, T = 1 and T > 1)', () => {
    const K = 70; // K % 4 ≠ 0 on purpose
    const N = 11;
    const w = normals(N * K, 2, 0.1);
    const b = normals(N, 3);
    const wt = tensor(w, [N, K]);
    const bt = tensor(b, [N]);
    for (const threshold of [0, 6]) {
      const layer = Linear8bitLt.fromFloat(wt, bt, { threshold });
      const cb = layer.int8.state.weight.dataSync() as Int8Array;
      const scb = layer.int8.state.scb.dataSync() as Float32Array;
      for (const T of [1, 5]) {
        const x = withOutliers(T, K, 10 + T, [3, 41]);
        const xt = tensor(x, [T, K]);
        const y = layer.forward(xt);
        expect(y.dtype).to.equal('float32');
        expect(y.shape).to.deep.equal([T, N]);
        assertNearRef(y.dataSync(), llmInt8Ref(x, T, K, cb, scb, N, threshold, b));
        y.dispose();
        xt.dispose();
      }
      layer.int8.dispose();
    }
    wt.dispose();
    bt.dispose();
  });

  tit('outlier path equals the 16-bit path: Y − Yint = X[:,O]·dequant(CB)[:,O]ᵀ; with W zero outside O the int8 part vanishes (item 13)', () => {
    const T = 6;
    const K = 48;
    const N = 10;
    const O = [5, 17, 30];
    const x = withOutliers(T, K, 4, O);
    const xt = tensor(x, [T, K]);
    const w = normals(N * K, 5, 0.1);
    const wt = tensor(w, [N, K]);
    const layer = Linear8bitLt.fromFloat(wt, null, { threshold: 6 });
    const st = layer.int8.state;
    const y = layer.forward(xt).dataSync();
    const act = int8VectorQuant(xt, 6);
    expect(Array.from(act.outlierCols.dataSync())).to.deep.equal(O);
    const yint = int8MatMul(act, st);
    const yi = yint.dataSync();
    const dq = dequantizeInt8(st).dataSync();
    for (let t = 0; t < T; t++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (const k of O) s += x[t * K + k] * dq[n * K + k];
        expect(y[t * N + n] - yi[t * N + n]).to.be.closeTo(s, 1e-5 * (Math.abs(s) + 1));
      }
    }
    // W zero outside O: the int8 product is exactly 0 and Y is the pure 16-bit product.
    const wo = new Float32Array(N * K);
    for (let n = 0; n < N; n++) for (const k of O) wo[n * K + k] = w[n * K + k];
    const wot = tensor(wo, [N, K]);
    const lo = Linear8bitLt.fromFloat(wot, null, { threshold: 6 });
    const dqo = dequantizeInt8(lo.int8.state).dataSync();
    const yo = lo.forward(xt).dataSync();
    const ref = matmulT64(x, dqo, T, K, N);
    for (let i = 0; i < T * N; i++) expect(yo[i]).to.be.closeTo(ref[i], 1e-5 * (Math.abs(ref[i]) + 1));
    for (const t of [act.ca, act.sca, act.outlierCols, yint, xt, wt, wot]) t.dispose();
    layer.int8.dispose();
    lo.int8.dispose();
  });

  tit('row scale ignores outlier elements: a row with 100 in an outlier column and ≤ 1 elsewhere gets SCA ≤ 1 (item 14)', () => {
    const x = tensor([[0.5, 100, -1, 0.25], [2, 3, 0.5, 7]]);
    const act = int8VectorQuant(x, 6);
    const sca = act.sca.dataSync();
    expect(sca[0]).to.equal(1);
    expect(sca[1]).to.equal(3); // 7 is an outlier element; 3 sits in outlier column 1 but is below the threshold, so it counts
    expect(Array.from(act.outlierCols.dataSync())).to.deep.equal([1, 3]);
    const ca = act.ca.dataSync();
    expect([ca[1], ca[3], ca[5], ca[7]]).to.deep.equal([0, 0, 0, 0]);
    expect(ca[0]).to.equal(64); // rne(0.5 · 127) = rne(63.5) = 64
    for (const t of [x, act.ca, act.sca, act.outlierCols]) t.dispose();
  });

  tit('batch dependence: a row with an outlier in column k changes other rows only through column k (item 15)', () => {
    const K = 32;
    const N = 8;
    const w = normals(N * K, 6, 0.1);
    const wt = tensor(w, [N, K]);
    const layer = Linear8bitLt.fromFloat(wt, null, { threshold: 6 });
    const cb = layer.int8.state.weight.dataSync() as Int8Array;
    const scb = layer.int8.state.scb.dataSync() as Float32Array;
    const x1 = withOutliers(2, K, 7, []);
    const x2 = new Float32Array(3 * K);
    x2.set(x1);
    x2.set(withOutliers(1, K, 8, [9]), 2 * K);
    const a = tensor(x1, [2, K]);
    const bT = tensor(x2, [3, K]);
    const ya = layer.forward(a).dataSync();
    const yb = layer.forward(bT).dataSync();
    let changed = 0;
    for (let t = 0; t < 2; t++) {
      for (let n = 0; n < N; n++) {
        const d = Math.abs(ya[t * N + n] - yb[t * N + n]);
        if (d > 0) changed++;
        // Bound: column 9 moves from the int8 stream to the 16-bit one: its quantization error, plus float16 rounding.
        const bound = Math.abs(x1[t * K + 9]) * (scb[n] / 127) + (2 * Math.abs(x1[t * K + 9]) * scb[n]) / 127 + 2 * ulp16(ya[t * N + n]);
        expect(d).to.be.at.most(bound);
      }
    }
    expect(changed).to.be.greaterThan(0);
    void cb;
    for (const t of [a, bT, wt]) t.dispose();
    layer.int8.dispose();
  });

  tit('error vs float: ≤ 0.02 relative at threshold 0 and 6; planted outliers: threshold 6 is ≥ 4× better than 0 (item 16)', () => {
    const T = 32;
    const K = 1024;
    const N = 64;
    const w = normals(N * K, 9, 0.02);
    const wt = tensor(w, [N, K]);
    const plain = normals(T * K, 10);
    const planted = withOutliers(T, K, 11, [17, 200, 333, 512, 700, 901]);
    const err: Record<string, number> = {};
    for (const [name, x] of [['plain', plain], ['planted', planted]] as const) {
      const xt = tensor(x, [T, K]);
      const ref = matmulT64(x, w, T, K, N);
      for (const threshold of [0, 6]) {
        const layer = Linear8bitLt.fromFloat(wt, null, { threshold });
        const y = layer.forward(xt);
        err[`${name}${threshold}`] = relFrob(y.dataSync(), ref);
        y.dispose();
        layer.int8.dispose();
      }
      xt.dispose();
    }
    expect(err.plain0).to.be.below(0.02);
    expect(err.plain6).to.be.below(0.02);
    expect(err.planted0 / err.planted6, JSON.stringify(err)).to.be.at.least(4);
    wt.dispose();
  });

  tit('output dtype = input dtype; bias added exactly once; K % 4 ≠ 0 (item 17)', () => {
    const K = 13;
    const N = 3;
    const w = normals(N * K, 12, 0.3);
    const wt = tensor(w, [N, K]);
    const bias = tensor([100, -200, 300]);
    const layer = Linear8bitLt.fromFloat(wt, bias, { threshold: 6 });
    const noBias = Linear8bitLt.fromFloat(wt, null, { threshold: 6 });
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      const x = tensor(normals(2 * K, 13), [1, 2, K], dtype);
      const y = layer.forward(x);
      const y0 = noBias.forward(x);
      expect(y.dtype).to.equal(dtype);
      expect(y.shape).to.deep.equal([1, 2, N]);
      const a = y.dataSync();
      const b = y0.dataSync();
      for (let i = 0; i < a.length; i++) expect(a[i] - b[i]).to.be.closeTo([100, -200, 300][i % N], dtype === 'bfloat16' ? 4 : 0.5);
      for (const t of [x, y, y0]) t.dispose();
    }
    layer.int8.dispose();
    noBias.int8.dispose();
    wt.dispose();
    bias.dispose();
  });

  tit('float16 outlier copies (from calibrate) match the reference with stored columns and beat dequantized int8 columns', () => {
    const T = 16;
    const K = 256;
    const N = 32;
    const O = [7, 100, 201];
    const w = normals(N * K, 14, 0.05);
    const x = withOutliers(T, K, 15, O);
    const xt = tensor(x, [T, K]);
    const ref = matmulT64(x, w, T, K, N);
    // Calibrate on the float model, then quantize with the found columns.
    const model = new OneLayer(new Linear(tensor(w, [N, K])));
    const cols = calibrate(model, [xt]);
    expect(cols.get('proj')).to.deep.equal(O);
    const withCopies = new OneLayer(new Linear(tensor(w, [N, K])));
    quantizeModel(withCopies, new BitsAndBytesConfig({ loadIn8bit: true }), { outlierColumns: cols });
    const plain = new OneLayer(new Linear(tensor(w, [N, K])));
    quantizeModel(plain, new BitsAndBytesConfig({ loadIn8bit: true }));
    const int8 = (withCopies.proj as Linear).weight as unknown as Linear8bitLt['int8'];
    expect(int8.outlierColumns).to.deep.equal(O);
    const yc = withCopies.forward(xt);
    const yp = plain.forward(xt);
    const cb = int8.state.weight.dataSync() as Int8Array;
    const scb = int8.state.scb.dataSync() as Float32Array;
    const stored = new Map(O.map((k) => [k, Float64Array.from({ length: N }, (_, n) => r16(w[n * K + k]))]));
    assertNearRef(yc.dataSync(), llmInt8Ref(x, T, K, cb, scb, N, 6, null, stored));
    const ec = relFrob(yc.dataSync(), ref);
    const ep = relFrob(yp.dataSync(), ref);
    expect(ep / ec, `with copies ${ec}, without ${ep}`).to.be.at.least(2);
    // The copies are counted: codes + SCB + format byte + int32 column ids + float16 columns.
    expect(int8.byteSize()).to.equal(N * K + 4 * N + 1 + 4 * O.length + 2 * N * O.length);
    for (const t of [xt, yc, yp]) t.dispose();
    model.dispose();
    withCopies.dispose();
    plain.dispose();
  });

  tit('calibrate records run-time outliers in Int8 layers; given columns work without calibration', () => {
    const K = 40;
    const N = 6;
    const w = normals(N * K, 16, 0.1);
    const wt = tensor(w, [N, K]);
    const m = new OneLayer(Linear8bitLt.fromFloat(wt, null, { outlierColumns: [2, 3] }));
    const x = tensor(withOutliers(3, K, 17, [3, 20]), [3, K]);
    const found = calibrate(m, [x]);
    expect(found.get('proj')).to.deep.equal([3, 20]);
    const int8 = (m.proj as Linear8bitLt).int8;
    expect([...int8.observedOutliers].sort((a, b) => a - b)).to.deep.equal([3, 20]);
    expect(int8.outlierColumns).to.deep.equal([2, 3]);
    expect(m.proj.forward).to.equal(Linear.prototype.forward); // hook removed
    x.dispose();
    wt.dispose();
    m.dispose();
  });

  tit('float16 overflow: threshold 0 gives non-finite rows (as bitsandbytes); threshold 6 routes ±inf-in-f16 values through the 16-bit path', () => {
    const K = 8;
    const w = normals(2 * K, 18, 0.1);
    const wt = tensor(w, [2, K]);
    const xv = normals(2 * K, 19);
    xv[3] = 1e6; // beyond float16's 65504
    const x = tensor(xv, [2, K]);
    const l0 = Linear8bitLt.fromFloat(wt, null, { threshold: 0 });
    const l6 = Linear8bitLt.fromFloat(wt, null, { threshold: 6 });
    const y0 = l0.forward(x).dataSync();
    expect(Number.isFinite(y0[0]) && Number.isFinite(y0[1])).to.equal(false);
    expect(Number.isFinite(y0[2])).to.equal(true);
    const y6 = l6.forward(x).dataSync();
    const ref = matmulT64(xv, w, 2, K, 2);
    for (let i = 0; i < 4; i++) expect(y6[i]).to.be.closeTo(ref[i], 0.02 * Math.abs(ref[i]) + 0.05);
    for (const t of [wt, x]) t.dispose();
    l0.int8.dispose();
    l6.int8.dispose();
  });

  tit('int8Linear matches plain matmul of dequantized weights when nothing is an outlier and x is exactly representable', () => {
    // Sanity link between the two products: x with integer values ±1 quantizes exactly (SCA = 1, CA = ±127).
    const K = 16;
    const N = 4;
    const xv = Float32Array.from({ length: 2 * K }, (_, i) => ((i * 5) % 3) - 1);
    const x = tensor(xv, [2, K]);
    const wt = tensor(normals(N * K, 20, 0.2), [N, K]);
    const layer = Linear8bitLt.fromFloat(wt, null);
    const d = dequantizeInt8(layer.int8.state);
    const y = layer.forward(x);
    const r = matmul(x, d, { transposeB: true });
    const a = y.dataSync();
    const b = r.dataSync();
    for (let i = 0; i < a.length; i++) expect(a[i]).to.be.closeTo(b[i], ulp16(b[i]) + 1e-6);
    for (const t of [x, wt, d, y, r]) t.dispose();
    layer.int8.dispose();
  });
});
