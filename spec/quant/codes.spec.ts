/** Code tables, encoders at their decision points, the dynamic map, rounding (docs/quantization.md §7 items 1–4). */

import { expect } from 'chai';
import {
  dequantize4bit, disposeQuant4State, dynamicMapSigned, encodeFp4, encodeNf4, FP4_CODE, FP4_THRESHOLDS, INT8_MM_DEQUANT,
  INT8_W_DEQUANT, NF4_CODE, NF4_THRESHOLDS, quantize4bit, rne, tensor,
} from '../../index.js';
import { checkLeaks, nextUpF32 } from './helpers.js';

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

describe('quant/codes', () => {
  checkLeaks();

  it('NF4 table: the 16 values of §2.2 bit-exactly as float32, strictly increasing, code 7 = +0, codes 0/15 = ∓1', () => {
    const spec = [
      -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
      -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
      0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ];
    expect(bits(NF4_CODE)).to.deep.equal(bits(spec));
    for (let i = 1; i < 16; i++) expect(NF4_CODE[i]).to.be.greaterThan(NF4_CODE[i - 1]);
    expect(Object.is(NF4_CODE[7], 0)).to.equal(true);
    expect(NF4_CODE[0]).to.equal(-1);
    expect(NF4_CODE[15]).to.equal(1);
  });

  it('FP4 quant_map: [0, 0.0625, 8, 12, 4, 6, 2, 3, 0, −0.0625, −8, −12, −4, −6, −2, −3] / 12 in code order, as float32 (code 8 stored as +0.0, as bitsandbytes writes it)', () => {
    const raw = [0, 0.0625, 8, 12, 4, 6, 2, 3, 0, -0.0625, -8, -12, -4, -6, -2, -3];
    expect(bits(FP4_CODE)).to.deep.equal(bits(raw.map((v) => v / 12)));
    // The table's "-0" is Python's integer 0: a real checkpoint's quant_map has bits 0 there
    // (spec/fixtures/bitsandbytes); the code still means −0 to the encoder, which sets the sign bit.
    expect(Object.is(FP4_CODE[8], 0)).to.equal(true);
    expect(FP4_CODE[1]).to.equal(Math.fround(1 / 192));
    expect(new Set(Array.from(FP4_CODE).map(Math.abs)).size).to.equal(8);
  });

  it('NF4 thresholds are the float32 midpoints listed in §2.2', () => {
    const spec = [
      -0.8480964, -0.61063293, -0.45999527, -0.33967943, -0.23460741, -0.13791173, -0.04552502, 0.03979015, 0.12025525,
      0.20352125, 0.29201377, 0.38931254, 0.50166342, 0.64278692, 0.86147842,
    ];
    NF4_THRESHOLDS.forEach((t, i) => {
      expect(Math.abs(t - spec[i])).to.be.lessThan(1e-7);
      expect(t).to.equal(Math.fround((NF4_CODE[i] + NF4_CODE[i + 1]) / 2));
    });
  });

  it('NF4 encoder: encode(t) = lower code and encode(nextUp(t)) = upper code at every threshold', () => {
    NF4_THRESHOLDS.forEach((t, i) => {
      expect(encodeNf4(t), `at threshold ${i}`).to.equal(i);
      expect(encodeNf4(nextUpF32(t)), `just above threshold ${i}`).to.equal(i + 1);
    });
    expect(encodeNf4(-1)).to.equal(0);
    expect(encodeNf4(1)).to.equal(15);
    expect(encodeNf4(0)).to.equal(7);
    expect(encodeNf4(NaN)).to.equal(0);
  });

  it('FP4 encoder: thresholds in both signs, ties to the smaller magnitude, sign bit iff x < 0', () => {
    // Magnitude codes in increasing value: 0 (0), 1 (1/192), 6 (1/6), 7 (1/4), 4 (1/3), 5 (1/2), 2 (2/3), 3 (1).
    const order = [0, 1, 6, 7, 4, 5, 2, 3];
    const thresholds = Array.from(FP4_THRESHOLDS).reverse(); // ascending
    expect(thresholds.map((t) => Number(t.toPrecision(7)))).to.deep.equal([0.00260417, 0.0859375, 0.2083333, 0.2916667, 0.4166667, 0.583333, 0.8333333]);
    thresholds.forEach((t, i) => {
      expect(encodeFp4(t), `at ${t}`).to.equal(order[i]);
      expect(encodeFp4(nextUpF32(t)), `above ${t}`).to.equal(order[i + 1]);
      expect(encodeFp4(-t), `at −${t}`).to.equal(8 | order[i]);
      expect(encodeFp4(-nextUpF32(t)), `below −${t}`).to.equal(8 | order[i + 1]);
    });
    expect(encodeFp4(1)).to.equal(3);
    expect(encodeFp4(-1)).to.equal(11);
    // Around zero the contract is decode equality: −0 and tiny negatives decode to ±0.
    for (const z of [0, -0, -1e-9, 1e-9]) expect(Math.abs(FP4_CODE[encodeFp4(z)])).to.equal(0);
  });

  it('the quantize4bit kernel uses the same decision points (block absmax 1 makes the scale exact)', () => {
    for (const quantType of ['nf4', 'fp4'] as const) {
      const thr = quantType === 'nf4' ? Array.from(NF4_THRESHOLDS) : Array.from(FP4_THRESHOLDS).flatMap((t) => [t, -t]);
      const vals = [1];
      for (const t of thr) vals.push(t, nextUpF32(t) * Math.sign(t));
      if (vals.length % 2) vals.push(0);
      const w = tensor(Float32Array.from(vals), [1, vals.length]);
      const st = quantize4bit(w, { quantType, blocksize: 4096 });
      const packed = st.packed.dataSync();
      const enc = quantType === 'nf4' ? encodeNf4 : encodeFp4;
      vals.forEach((v, i) => expect(i & 1 ? packed[i >> 1] & 15 : packed[i >> 1] >> 4, `element ${i} = ${v}`).to.equal(enc(v)));
      const d = dequantize4bit(st);
      expect(d.dataSync()[0]).to.equal(1);
      d.dispose();
      disposeQuant4State(st);
      w.dispose();
    }
  });

  it('dynamic map: 256 sorted float32 values, [127] = 0, [255] = 1, min −0.99296875, Σ = 1, Σ|·| ≈ 75.105263', () => {
    const m = dynamicMapSigned();
    expect(m.length).to.equal(256);
    for (let i = 1; i < 256; i++) expect(m[i]).to.be.greaterThan(m[i - 1]);
    expect(m[127]).to.equal(0);
    expect(m[255]).to.equal(1);
    expect(m[0]).to.equal(Math.fround(-0.99296875));
    expect(m[254]).to.equal(Math.fround(0.99296875));
    expect(m[128]).to.equal(Math.fround(Math.fround(1e-6) * Math.fround(0.55)));
    let s = 0;
    let a = 0;
    for (const v of m) {
      s += v;
      a += Math.abs(v);
    }
    expect(s).to.equal(1);
    expect(a).to.be.closeTo(75.105263, 1e-6);
  });

  it('rne rounds half to even (Math.round would not)', () => {
    expect([-2.5, 2.5, 3.5, -3.5, 0.5, 1.5, -1.5, 126.5, 2.4999, -0.4].map(rne)).to.deep.equal([-2, 2, 4, -4, 0, 2, -2, 126, 2, -0]);
    expect(Math.round(2.5)).to.equal(3);
  });

  it('int8 dequantization constants are float32 1/16129 and 1/127', () => {
    expect(INT8_MM_DEQUANT).to.equal(Math.fround(1 / 16129));
    expect(INT8_MM_DEQUANT).to.equal(Math.fround(6.200012e-5));
    expect(INT8_W_DEQUANT).to.equal(Math.fround(1 / 127));
  });
});
