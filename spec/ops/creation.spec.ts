/** Creating tensors: tensor, scalar, zeros/ones/full(-like), arange, randn, rand, fromStorage. */

import { expect } from 'chai';
import {
  arange,
  ArgumentError,
  dispose,
  DTypeError,
  fromStorage,
  full,
  ones,
  onesLike,
  rand,
  randn,
  scalar,
  ShapeError,
  tensor,
  zeros,
  zerosLike,
  type DType,
} from '../../index.js';
import { assertEqualValues, expectError } from '../helpers/assert.js';
import { refRound } from '../helpers/half.js';
import { roundTo } from '../helpers/reference.js';
import { ALL_DTYPES, checkLeaks } from '../helpers/tensors.js';

describe('ops/creation', () => {
  checkLeaks();

  describe('tensor', () => {
    it('infers shape from nesting and dtype from the values', () => {
      const cases: [unknown, number[], DType][] = [
        [5, [], 'float32'],
        [true, [], 'bool'],
        [[1, 2, 3], [3], 'float32'],
        [[[1], [2]], [2, 1], 'float32'],
        [[[true, false]], [1, 2], 'bool'],
        [[], [0], 'float32'],
        [new Int32Array([1, 2]), [2], 'int32'],
        [new Int8Array([1]), [1], 'int8'],
        [new Uint8Array([1, 2, 3]), [3], 'uint8'],
        [new Float64Array([0.5]), [1], 'float32'],
      ];
      for (const [values, shape, dtype] of cases) {
        const t = tensor(values as number);
        expect(t.shape, JSON.stringify(values)).to.deep.equal(shape);
        expect(t.dtype, JSON.stringify(values)).to.equal(dtype);
        t.dispose();
      }
    });

    it('stores values in every dtype as a single rounding/conversion of the given number', () => {
      const values = [0, -0.5, 1.7, -2.9, 3, 100.25, -128, 127, 255, 300.5, 1e-3, 65519];
      for (const dtype of ALL_DTYPES) {
        const t = tensor(values, [values.length], dtype);
        assertEqualValues(t, values.map((v) => roundTo(v, dtype)), dtype);
        t.dispose();
      }
    });

    it('reshapes flat values to an explicit shape', async () => {
      const t = tensor([1, 2, 3, 4, 5, 6], [3, 2]);
      expect(await t.array()).to.deep.equal([[1, 2], [3, 4], [5, 6]]);
      t.dispose();
    });

    it('scalar() makes rank-0 tensors', () => {
      const s = scalar(2, 'int32');
      expect(s.shape).to.deep.equal([]);
      expect(s.dtype).to.equal('int32');
      expect(s.dataSync()[0]).to.equal(2);
      s.dispose();
    });

    it('rejects ragged arrays, bad values, wrong sizes and unknown dtypes with typed errors', () => {
      expectError(() => tensor([[1, 2], [3]]), ShapeError, ['tensor', 'ragged']);
      expectError(() => tensor([1, 'a' as unknown as number]), ArgumentError, ['tensor', '"a"']);
      expectError(() => tensor('abc' as unknown as number), ArgumentError, ['tensor', "'values'"]);
      expectError(() => tensor([1, 2, 3], [2, 2]), ShapeError, ['tensor', '[2,2]', '3 values']);
      expectError(() => tensor([1, 2], [-1, -2]), ShapeError, ['tensor', "'shape'"]);
      expectError(() => tensor([1, 2], [2.5]), ShapeError, ['tensor', "'shape'"]);
      expectError(() => tensor([1], [1], 'float64' as DType), DTypeError, ['tensor', 'float64']);
    });
  });

  describe('zeros / ones / full', () => {
    it('fill every dtype', () => {
      for (const dtype of ALL_DTYPES) {
        for (const [make, v] of [[(s: number[]) => zeros(s, dtype), 0], [(s: number[]) => ones(s, dtype), 1], [(s: number[]) => full(s, 7.75, dtype), 7.75]] as const) {
          const t = make([2, 3]);
          expect(t.dtype).to.equal(dtype);
          expect(t.shape).to.deep.equal([2, 3]);
          assertEqualValues(t, new Array(6).fill(roundTo(v, dtype)), `${dtype} ${v}`);
          t.dispose();
        }
      }
    });

    it('full defaults to float32 for numbers and bool for booleans, and accepts ±Infinity and NaN', () => {
      const a = full([2], true);
      expect(a.dtype).to.equal('bool');
      const b = full([2], -Infinity);
      assertEqualValues(b, [-Infinity, -Infinity]);
      const c = full([3], NaN, 'float16');
      assertEqualValues(c, [NaN, NaN, NaN]);
      const d = full([], 0.1, 'bfloat16');
      assertEqualValues(d, [refRound(0.1, 'bfloat16')]);
      dispose([a, b, c, d]);
    });

    it('zerosLike / onesLike copy shape and dtype', () => {
      const x = tensor([1, 2, 3], [3], 'int8');
      const z = zerosLike(x);
      const o = onesLike(x);
      expect([z.dtype, o.dtype]).to.deep.equal(['int8', 'int8']);
      assertEqualValues(z, [0, 0, 0]);
      assertEqualValues(o, [1, 1, 1]);
      dispose([x, z, o]);
    });

    it('size-0 shapes work', () => {
      const t = zeros([3, 0, 2]);
      expect(t.size).to.equal(0);
      expect(t.dataSync().length).to.equal(0);
      t.dispose();
    });

    it('rejects bad shapes, values and dtypes', () => {
      expectError(() => zeros([2, -1]), ShapeError, ['zeros', "'shape'[1]"]);
      expectError(() => zeros([1.5]), ShapeError, ["'shape'[0]"]);
      expectError(() => zeros('3' as unknown as number[]), ShapeError, ["'shape'"]);
      expectError(() => full([2], 'x' as unknown as number), ArgumentError, ['full', "'value'"]);
      expectError(() => ones([2], 'double' as DType), DTypeError, ['double']);
    });
  });

  describe('arange', () => {
    const ref = (start: number, stop: number, step: number) => {
      const out: number[] = [];
      for (let v = start, i = 0; step > 0 ? v < stop : v > stop; i++, v = start + i * step) out.push(v);
      return out;
    };

    it('counts like torch.arange, int32 for integer arguments and float32 otherwise', () => {
      const cases: [number, number | undefined, number | undefined, DType][] = [
        [5, undefined, undefined, 'int32'],
        [2, 11, 3, 'int32'],
        [10, 0, -3, 'int32'],
        [0, 1, 0.25, 'float32'],
        [-1.5, 1.5, 0.5, 'float32'],
        [3, 3, 1, 'int32'],
        [5, 0, 1, 'int32'],
        [0, 7, 1, 'int32'],
      ];
      for (const [a, b, s, dtype] of cases) {
        const t = b === undefined ? arange(a) : arange(a, b, s);
        const [start, stop, step] = b === undefined ? [0, a, 1] : [a, b, s!];
        expect(t.dtype, `arange(${a}, ${b}, ${s})`).to.equal(dtype);
        assertEqualValues(t, ref(start, stop, step), `arange(${a}, ${b}, ${s})`);
        t.dispose();
      }
    });

    it('honours an explicit dtype', () => {
      const t = arange(0, 4, 1, 'float16');
      expect(t.dtype).to.equal('float16');
      assertEqualValues(t, [0, 1, 2, 3]);
      t.dispose();
    });

    it('rejects a zero step, non-numbers and infinities', () => {
      expectError(() => arange(0, 5, 0), ArgumentError, ['arange', "'step'"]);
      expectError(() => arange(0, 'a' as unknown as number), ArgumentError, ['arange', "'stop'"]);
      expectError(() => arange(NaN), ArgumentError, ['arange']);
      expectError(() => arange(0, Infinity), ArgumentError, ['arange']);
      expectError(() => arange(0, 5, 1, 'x' as DType), DTypeError, ['arange', '"x"']);
    });
  });

  describe('randn / rand', () => {
    it('randn is reproducible for a seed and differs between seeds', () => {
      const a = randn([64], { seed: 1 });
      const b = randn([64], { seed: 1 });
      const c = randn([64], { seed: 2 });
      assertEqualValues(a, b.dataSync());
      const da = a.dataSync();
      const dc = c.dataSync();
      expect(da.filter((v, i) => v !== dc[i]).length).to.be.greaterThan(60);
      dispose([a, b, c]);
    });

    it('randn has plausible mean and standard deviation, honouring mean/std', () => {
      const n = 20000;
      for (const [mean, std] of [[0, 1], [3, 0.5], [-2, 4]]) {
        const t = randn([n], { seed: 42, mean, std });
        const d = t.dataSync() as Float32Array;
        const m = d.reduce((s, v) => s + v, 0) / n;
        const sd = Math.sqrt(d.reduce((s, v) => s + (v - m) ** 2, 0) / n);
        // 5 standard errors.
        expect(Math.abs(m - mean), `mean ${m}`).to.be.below((5 * std) / Math.sqrt(n));
        expect(Math.abs(sd / std - 1), `std ${sd}`).to.be.below(0.05);
        // Normal tails: about 4.55% beyond 2σ.
        const tail = d.filter((v) => Math.abs(v - mean) > 2 * std).length / n;
        expect(tail).to.be.within(0.035, 0.056);
        t.dispose();
      }
    });

    it('randn in float16/bfloat16 is the float64 draw rounded once', () => {
      const a = randn([100], { seed: 9 });
      for (const dtype of ['float16', 'bfloat16'] as const) {
        const h = randn([100], { seed: 9, dtype });
        expect(h.dtype).to.equal(dtype);
        // float32 draw rounded to 16 bits can differ from the f64 draw rounded once only at ties, so allow 1 ulp.
        const want = Array.from(a.dataSync(), (v) => refRound(v, dtype));
        const got = h.dataSync();
        for (let i = 0; i < 100; i++) expect(Math.abs(got[i] - want[i])).to.be.at.most(Math.abs(want[i]) * 2 ** (dtype === 'float16' ? -10 : -7));
        h.dispose();
      }
      a.dispose();
    });

    it('rand is uniform in [low, high) and reproducible', () => {
      const t = rand([5000], { seed: 3, low: -2, high: 6 });
      const d = t.dataSync() as Float32Array;
      expect(Math.min(...d)).to.be.at.least(-2);
      expect(Math.max(...d)).to.be.below(6);
      const m = d.reduce((s, v) => s + v, 0) / d.length;
      expect(Math.abs(m - 2)).to.be.below(0.2);
      const u = rand([5000], { seed: 3, low: -2, high: 6 });
      assertEqualValues(u, d);
      dispose([t, u]);
    });

    it('reject bad shapes and non-float dtypes', () => {
      expectError(() => randn([-1]), ShapeError, ['randn', "'shape'"]);
      expectError(() => rand([2, 0.5]), ShapeError, ['rand', "'shape'"]);
      expectError(() => randn([2], { dtype: 'nope' as DType }), DTypeError, ['randn', '"nope"']);
      expectError(() => randn([2], { dtype: 'int32' }), DTypeError, ['randn', 'int32']);
      expectError(() => rand([2], { dtype: 'bool' }), DTypeError, ['rand', 'bool']);
    });
  });

  describe('fromStorage', () => {
    it('wraps raw 16-bit patterns without conversion', () => {
      const t = fromStorage(new Uint16Array([0x3c00, 0xc000, 0x7c00]), [3], 'float16');
      assertEqualValues(t, [1, -2, Infinity]);
      const b = fromStorage(new Uint16Array([0x3f80, 0x4049]), [2], 'bfloat16');
      assertEqualValues(b, [1, 3.140625]);
      dispose([t, b]);
    });

    it('rejects a storage of the wrong type, length or dtype', () => {
      expectError(() => fromStorage(new Float32Array(3), [3], 'float16'), ArgumentError, ['fromStorage', 'Uint16Array']);
      expectError(() => fromStorage(new Float32Array(3), [4], 'float32'), ArgumentError, ['fromStorage']);
      expectError(() => fromStorage(new Float32Array(3), [3], 'float64' as DType), DTypeError, ['fromStorage']);
    });
  });
});
