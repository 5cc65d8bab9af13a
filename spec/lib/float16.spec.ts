/**
 * float16 / bfloat16 codecs, exhaustively over all 65,536 bit patterns, against the independent
 * table-and-midpoint reference in spec/helpers/half.ts.
 */

import { expect } from 'chai';
import {
  bf16BitsToNumber,
  decodeBf16,
  decodeF16,
  encodeBf16,
  encodeF16,
  f16BitsToNumber,
  numberToBf16Bits,
  numberToF16Bits,
} from '../../lib/float16.js';
import {
  halfMaxFinite,
  halfValues,
  nextDown32,
  nextDown64,
  nextUp32,
  nextUp64,
  refDecode,
  refRoundBits,
  type HalfFormat,
} from '../helpers/half.js';
import { Rng } from '../helpers/rng.js';

const hex = (h: number) => `0x${h.toString(16).padStart(4, '0')}`;

interface Codec {
  fmt: HalfFormat;
  decode1: (h: number) => number;
  encode1: (x: number) => number;
  decodeArr: (src: Uint16Array) => Float32Array;
  encodeArr: (src: ArrayLike<number>) => Uint16Array;
  /** Exponent field mask and quiet bit of a NaN. */
  expMask: number;
  quiet: number;
}

const CODECS: Codec[] = [
  { fmt: 'float16', decode1: f16BitsToNumber, encode1: numberToF16Bits, decodeArr: (s) => decodeF16(s), encodeArr: (s) => encodeF16(s), expMask: 0x7c00, quiet: 0x0200 },
  { fmt: 'bfloat16', decode1: bf16BitsToNumber, encode1: numberToBf16Bits, decodeArr: (s) => decodeBf16(s), encodeArr: (s) => encodeBf16(s), expMask: 0x7f80, quiet: 0x0040 },
];

const ALL = Uint16Array.from({ length: 65536 }, (_, i) => i);

/** Float32 bit pattern of a stored value (to check the decoded NaN's sign). */
function f32Bits(x: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x);
  return b.getUint32(0);
}

for (const c of CODECS) {
  const isNaNBits = (h: number) => (h & c.expMask) === c.expMask && (h & ~c.expMask & 0x7fff) !== 0;

  describe(`lib/float16: ${c.fmt} codec`, () => {
    describe('decode (all 65,536 patterns)', () => {
      it('matches the IEEE definition for every non-NaN pattern, and gives NaN for every NaN pattern', () => {
        const arr = c.decodeArr(ALL);
        for (let h = 0; h < 65536; h++) {
          const want = refDecode(h, c.fmt);
          for (const [how, got] of [['scalar', c.decode1(h)], ['array', arr[h]]] as const) {
            if (isNaNBits(h)) {
              if (!Number.isNaN(got)) expect.fail(`${how} decode(${hex(h)}) = ${got}, expected NaN`);
            } else if (!Object.is(got, want)) {
              expect.fail(`${how} decode(${hex(h)}) = ${got}, expected ${want}`);
            }
          }
        }
      });

      it('keeps the sign of zero and of NaN in the array decoder', () => {
        const arr = c.decodeArr(Uint16Array.from([0x0000, 0x8000, c.expMask | c.quiet, 0x8000 | c.expMask | c.quiet]));
        expect(Object.is(arr[0], 0)).to.equal(true);
        expect(Object.is(arr[1], -0)).to.equal(true);
        expect(f32Bits(arr[2]) >>> 31, '+NaN sign').to.equal(0);
        expect(f32Bits(arr[3]) >>> 31, '−NaN sign').to.equal(1);
      });

      it('decodes into a caller-provided destination', () => {
        const dst = new Float32Array(5);
        const src = Uint16Array.from([c.encode1(1), c.encode1(-2), c.encode1(0.5)]);
        const out = c.fmt === 'float16' ? decodeF16(src, dst.subarray(1, 4)) : decodeBf16(src, dst.subarray(1, 4));
        expect(Array.from(dst)).to.deep.equal([0, 1, -2, 0.5, 0]);
        expect(out.buffer).to.equal(dst.buffer);
      });
    });

    describe('decode → encode round trip (all 65,536 patterns)', () => {
      it('returns the same bits for every non-NaN pattern (±0, subnormals, normals, ±Inf), scalar and array paths', () => {
        const arr = c.encodeArr(c.decodeArr(ALL));
        for (let h = 0; h < 65536; h++) {
          if (isNaNBits(h)) continue;
          const s = c.encode1(c.decode1(h));
          if (s !== h) expect.fail(`scalar: encode(decode(${hex(h)})) = ${hex(s)}`);
          if (arr[h] !== h) expect.fail(`array: encode(decode(${hex(h)})) = ${hex(arr[h])}`);
        }
      });

      it('maps every NaN pattern to a quiet NaN of the same sign', () => {
        const arr = c.encodeArr(c.decodeArr(ALL));
        let n = 0;
        for (let h = 0; h < 65536; h++) {
          if (!isNaNBits(h)) continue;
          n++;
          const r = arr[h];
          if (!isNaNBits(r) || !(r & c.quiet) || (r & 0x8000) !== (h & 0x8000)) {
            expect.fail(`encode(decode(${hex(h)})) = ${hex(r)}: expected a quiet NaN with sign ${h >> 15}`);
          }
        }
        expect(n).to.equal(c.fmt === 'float16' ? 2 * 1023 : 2 * 127);
      });

      it('encodes a JavaScript NaN to a quiet NaN', () => {
        const r = c.encode1(NaN);
        expect(isNaNBits(r) && (r & c.quiet) !== 0, hex(r)).to.equal(true);
      });
    });

    describe('encode: round to nearest, ties to even (every adjacent pair of values)', () => {
      const values = halfValues(c.fmt);
      const maxFinite = halfMaxFinite(c.fmt);
      const even = (h: number) => (h % 2 === 0 ? h : h + 1);

      /** Checks encode(±x) against the expected positive pattern. */
      function check(x: number, want: number, what: string) {
        const got = c.encode1(x);
        if (got !== want) expect.fail(`${what}: encode(${x}) = ${hex(got)}, expected ${hex(want)}`);
        const gotNeg = c.encode1(-x);
        if (gotNeg !== (want | 0x8000)) expect.fail(`${what}: encode(${-x}) = ${hex(gotNeg)}, expected ${hex(want | 0x8000)}`);
      }

      it('exact values, midpoints, and float64 neighbours of midpoints round correctly', () => {
        // h … h+1 for every finite pattern; h+1 = maxFinite+1 is +Inf (the overflow threshold case).
        for (let h = 0; h <= maxFinite; h++) {
          const lo = values[h];
          const hi = values[h + 1];
          const mid = (lo + hi) / 2;
          check(lo, h, 'exact');
          check(mid, even(h), `midpoint of ${hex(h)}/${hex(h + 1)}`);
          check(nextUp64(mid), h + 1, `nextUp64(midpoint ${hex(h)}/${hex(h + 1)})`);
          check(nextDown64(mid), h, `nextDown64(midpoint ${hex(h)}/${hex(h + 1)})`);
        }
      });

      it('float32 neighbours of midpoints round correctly (the common float32 → 16-bit path)', () => {
        for (let h = 0; h <= maxFinite; h++) {
          const mid = (values[h] + values[h + 1]) / 2;
          if (Math.fround(mid) !== mid) continue; // every 16-bit midpoint except near the f32 max is a float32
          check(nextUp32(mid), h + 1, `nextUp32(midpoint ${hex(h)})`);
          check(nextDown32(mid), h, `nextDown32(midpoint ${hex(h)})`);
        }
      });

      it('the array encoder agrees with the scalar encoder on float32 and float64 input', () => {
        const rng = new Rng(7);
        const xs = Array.from({ length: 5000 }, () => rng.normal() * Math.pow(2, rng.int(-30, 20)));
        const f64 = Float64Array.from(xs);
        const f32 = Float32Array.from(xs);
        const a = c.encodeArr(f64);
        const b = c.encodeArr(f32);
        for (let i = 0; i < xs.length; i++) {
          expect(a[i]).to.equal(c.encode1(f64[i]));
          expect(b[i]).to.equal(c.encode1(f32[i]));
        }
      });

      it('random float64 values across the whole range match the exact reference', () => {
        const rng = new Rng(12345);
        const emin = c.fmt === 'float16' ? -28 : -136;
        const emax = c.fmt === 'float16' ? 17 : 129;
        for (let i = 0; i < 100000; i++) {
          const x = (rng.next() < 0.5 ? -1 : 1) * (1 + rng.next()) * Math.pow(2, rng.int(emin, emax));
          const want = refRoundBits(x, c.fmt)!;
          const got = c.encode1(x);
          if (got !== want) expect.fail(`encode(${x}) = ${hex(got)}, expected ${hex(want)}`);
        }
      });

      it('±Inf encode to ±Inf, ±0 keep their sign', () => {
        const inf = maxFinite + 1;
        expect(c.encode1(Infinity)).to.equal(inf);
        expect(c.encode1(-Infinity)).to.equal(inf | 0x8000);
        expect(c.encode1(0)).to.equal(0);
        expect(c.encode1(-0)).to.equal(0x8000);
        expect(c.encode1(Number.MAX_VALUE)).to.equal(inf);
        expect(c.encode1(-Number.MAX_VALUE)).to.equal(inf | 0x8000);
        expect(c.encode1(Number.MIN_VALUE)).to.equal(0);
        expect(c.encode1(-Number.MIN_VALUE)).to.equal(0x8000);
      });
    });
  });
}

describe('lib/float16: named edge cases', () => {
  it('float16 overflow threshold is 65520: below rounds to 65504, at and above to Inf', () => {
    expect(numberToF16Bits(65504)).to.equal(0x7bff);
    expect(numberToF16Bits(65519.99)).to.equal(0x7bff);
    expect(numberToF16Bits(nextDown64(65520))).to.equal(0x7bff);
    expect(numberToF16Bits(65520)).to.equal(0x7c00);
    expect(numberToF16Bits(-65520)).to.equal(0xfc00);
    expect(numberToF16Bits(1e6)).to.equal(0x7c00);
  });

  it('float16 underflow: below half the smallest subnormal (2^-25) → ±0; the tie 2^-25 → 0 (even); just above → 2^-24', () => {
    expect(numberToF16Bits(2 ** -24)).to.equal(0x0001);
    expect(numberToF16Bits(2 ** -25)).to.equal(0x0000);
    expect(numberToF16Bits(-(2 ** -25))).to.equal(0x8000);
    expect(numberToF16Bits(nextUp64(2 ** -25))).to.equal(0x0001);
    expect(numberToF16Bits(1.5 * 2 ** -24)).to.equal(0x0002); // tie between 1 and 2 → 2 (even)
    expect(numberToF16Bits(2 ** -26)).to.equal(0x0000);
    expect(numberToF16Bits(-(2 ** -30))).to.equal(0x8000);
    expect(numberToF16Bits(2 ** -14 - 2 ** -25)).to.equal(0x0400); // largest subnormal + half ulp (tie, odd) → smallest normal
  });

  it('bfloat16 overflow threshold is 2^128 − 2^119; the largest finite is (2 − 2^-7)·2^127', () => {
    const max = (2 - 2 ** -7) * 2 ** 127;
    expect(numberToBf16Bits(max)).to.equal(0x7f7f);
    expect(numberToBf16Bits(3.4028234663852886e38)).to.equal(0x7f80); // float32 max rounds up to Inf
    expect(numberToBf16Bits(nextDown64(2 ** 128 - 2 ** 119))).to.equal(0x7f7f);
    expect(numberToBf16Bits(2 ** 128 - 2 ** 119)).to.equal(0x7f80);
  });

  it('float64 input is rounded once: a value just above a midpoint is not double-rounded through float32', () => {
    // 1 + 2^-11 is the float16 midpoint of 1 and 1 + 2^-10. x is slightly above it, but so close
    // that rounding to float32 first lands exactly on the midpoint, and then ties-to-even would
    // give 1.0. The correct answer is 1 + 2^-10.
    const x = 1 + 2 ** -11 + 2 ** -40;
    expect(Math.fround(x)).to.equal(1 + 2 ** -11);
    expect(numberToF16Bits(Math.fround(x)), 'naive f64→f32→f16').to.equal(0x3c00);
    expect(numberToF16Bits(x)).to.equal(0x3c01);
    expect(numberToF16Bits(-x)).to.equal(0xbc01);
    // The same just below the midpoint of 1 + 2^-10 and 1 + 2^-9 (odd lower neighbour): float32
    // rounding lands on the midpoint, ties-to-even would round up; correct is down.
    const y = 1 + 3 * 2 ** -11 - 2 ** -40;
    expect(Math.fround(y)).to.equal(1 + 3 * 2 ** -11);
    expect(numberToF16Bits(y)).to.equal(0x3c01);
    // bfloat16: 1 + 2^-8 is the midpoint of 1 and 1 + 2^-7.
    const z = 1 + 2 ** -8 + 2 ** -35;
    expect(Math.fround(z)).to.equal(1 + 2 ** -8);
    expect(numberToBf16Bits(Math.fround(z)), 'naive f64→f32→bf16').to.equal(0x3f80);
    expect(numberToBf16Bits(z)).to.equal(0x3f81);
  });

  it('float64 values in float16 subnormal range are rounded once too', () => {
    // Midpoint between subnormals 1 and 2 (·2^-24) is 1.5·2^-24; above it by less than a float32 ulp.
    const x = 1.5 * 2 ** -24 * (1 + 2 ** -40);
    expect(Math.fround(x)).to.equal(1.5 * 2 ** -24);
    expect(numberToF16Bits(x)).to.equal(0x0002);
    const y = 2.5 * 2 ** -24 * (1 + 2 ** -40); // tie would go to 2; just above → 3
    expect(numberToF16Bits(y)).to.equal(0x0003);
  });

  it('bfloat16 subnormals round correctly from float64', () => {
    const tiny = 2 ** -133; // smallest bfloat16 subnormal
    expect(numberToBf16Bits(tiny)).to.equal(0x0001);
    expect(numberToBf16Bits(tiny / 2)).to.equal(0x0000); // tie → even (0)
    expect(numberToBf16Bits(nextUp64(tiny / 2))).to.equal(0x0001);
    expect(numberToBf16Bits(2 ** -140)).to.equal(0x0000);
    expect(numberToBf16Bits(-(2 ** -140))).to.equal(0x8000);
  });

  it('float32 inputs near a midpoint round to nearest (e.g. 1 + 2^-11 ± one float32 ulp)', () => {
    expect(numberToF16Bits(Math.fround(1 + 2 ** -11 + 2 ** -23))).to.equal(0x3c01);
    expect(numberToF16Bits(Math.fround(1 + 2 ** -11 - 2 ** -23))).to.equal(0x3c00);
    expect(numberToF16Bits(1 + 2 ** -11)).to.equal(0x3c00);
    expect(numberToF16Bits(1 + 3 * 2 ** -11)).to.equal(0x3c02);
  });
});
