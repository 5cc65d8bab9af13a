/** Elementwise ops against the float64 reference: unary math, broadcasting binary ops, comparisons, where, cast. */

import { expect } from 'chai';
import * as ft from '../../index.js';
import { cast, tensor, tidy, where, type DType, type Tensor } from '../../index.js';
import { ArgumentError, DTypeError, ShapeError } from '../../index.js';
import { assertClose, assertEqualValues, expectError, tolFor } from '../helpers/assert.js';
import { ND, binary, refFns, roundTo, unary, where as refWhere } from '../helpers/reference.js';
import { Rng } from '../helpers/rng.js';
import { ALL_DTYPES, checkLeaks, FLOAT_DTYPES, fromND, randTensor, toND, type RandOptions } from '../helpers/tensors.js';

const UNARY_SHAPES = [[], [1], [7], [129], [3, 1, 7], [2, 3, 5]];
const BROADCAST_PAIRS: [number[], number[]][] = [
  [[7], [7]],
  [[7], [1]],
  [[1], [7]],
  [[], [2, 3]],
  [[129], []],
  [[3, 1, 5], [4, 1]],
  [[2, 1, 3], [1, 4, 1]],
  [[1], [1, 1, 1]],
  [[2, 3, 4], [3, 4]],
  [[5, 1], [1, 129]],
  [[0, 3], [1, 3]],
];

/** Values where the functions are interesting, for float dtypes. */
const SPECIALS = [0, -0, 1, -1, 0.5, -0.5, 2, -3, 10, -10, 20, -20, 88, -88, 100, -100, 1e-3, -1e-3, 1e-8, Infinity, -Infinity, NaN];

/** float32 tolerance for a single rounding of an accurate float64 result. */
const F32 = { atol: 0, rtol: 3e-7 };

interface UnaryCase {
  name: string;
  fn: (x: Tensor) => Tensor;
  ref: (x: number) => number;
  dist: RandOptions;
  /** Special inputs to leave out (the formula's value there is not a meaningful contract). */
  skip?: (x: number) => boolean;
  atol?: number;
}

const UNARY: UnaryCase[] = [
  { name: 'neg', fn: ft.neg, ref: refFns.neg, dist: { dist: 'normal', scale: 3 } },
  { name: 'abs', fn: ft.abs, ref: refFns.abs, dist: { dist: 'normal', scale: 3 } },
  { name: 'exp', fn: ft.exp, ref: refFns.exp, dist: { dist: 'normal', scale: 4 } },
  { name: 'log', fn: ft.log, ref: refFns.log, dist: { dist: 'uniform', lo: 1e-3, hi: 50 } },
  { name: 'sqrt', fn: ft.sqrt, ref: refFns.sqrt, dist: { dist: 'uniform', lo: 0, hi: 50 } },
  { name: 'rsqrt', fn: ft.rsqrt, ref: refFns.rsqrt, dist: { dist: 'uniform', lo: 1e-3, hi: 50 } },
  { name: 'tanh', fn: ft.tanh, ref: refFns.tanh, dist: { dist: 'normal', scale: 3 } },
  { name: 'sigmoid', fn: ft.sigmoid, ref: refFns.sigmoid, dist: { dist: 'normal', scale: 5 } },
  { name: 'silu', fn: ft.silu, ref: refFns.silu, dist: { dist: 'normal', scale: 5 }, skip: (x) => x === -Infinity },
  { name: 'relu', fn: ft.relu, ref: refFns.relu, dist: { dist: 'normal', scale: 3 } },
  { name: 'gelu (erf)', fn: (x) => ft.gelu(x), ref: refFns.gelu, dist: { dist: 'normal', scale: 3 }, skip: (x) => x === -Infinity, atol: 1e-12 },
  { name: 'gelu (tanh)', fn: (x) => ft.gelu(x, { approximate: 'tanh' }), ref: refFns.geluTanh, dist: { dist: 'normal', scale: 3 }, skip: (x) => x === -Infinity, atol: 1e-12 },
];

describe('ops/elementwise', () => {
  checkLeaks();

  describe('unary float ops vs float64 reference', () => {
    for (const c of UNARY) {
      for (const dtype of FLOAT_DTYPES) {
        it(`${c.name} ${dtype} on shapes ${UNARY_SHAPES.map((s) => `[${s}]`).join(' ')} and special values`, () => {
          const rng = new Rng(c.name.length * 101 + dtype.length);
          const tol = tolFor(dtype, { atol: c.atol ?? 0, rtol: F32.rtol });
          tidy(() => {
            for (const shape of UNARY_SHAPES) {
              const { t, x } = randTensor(rng, shape, dtype, c.dist);
              const y = c.fn(t);
              expect(y.dtype).to.equal(dtype);
              assertClose(y, unary(x, c.ref).map((v) => roundTo(v, dtype)), { ...tol, msg: `${c.name} ${dtype} [${shape}]` });
            }
            const sp = SPECIALS.filter((v) => !c.skip?.(v));
            const { t, x } = fromND(ND.from([sp.length], sp), dtype);
            assertClose(c.fn(t), unary(x, c.ref).map((v) => roundTo(v, dtype)), { ...tol, msg: `${c.name} ${dtype} specials ${x.data.join(',')}` });
          });
        });
      }
    }

    it('exp/sigmoid/tanh saturate without NaN for huge inputs', () => {
      tidy(() => {
        const x = tensor([1e4, -1e4, 1e30, -1e30]);
        assertEqualValues(ft.exp(x), [Infinity, 0, Infinity, 0]);
        assertEqualValues(ft.sigmoid(x), [1, 0, 1, 0]);
        assertEqualValues(ft.tanh(x), [1, -1, 1, -1]);
      });
    });
  });

  describe('integer unary ops', () => {
    for (const dtype of ['int32', 'int8', 'uint8'] as const) {
      it(`neg / abs / relu keep ${dtype} and wrap like the hardware`, () => {
        const rng = new Rng(5);
        tidy(() => {
          const { t, x } = randTensor(rng, [3, 43], dtype);
          const ext = fromND(ND.from([4], dtype === 'int32' ? [-2147483648, 2147483647, 0, -1] : dtype === 'int8' ? [-128, 127, 0, -1] : [0, 255, 128, 1]), dtype);
          for (const [name, fn, ref] of [
            ['neg', ft.neg, refFns.neg],
            ['abs', ft.abs, refFns.abs],
            ['relu', ft.relu, refFns.relu],
          ] as const) {
            for (const [tt, xx] of [[t, x], [ext.t, ext.x]] as const) {
              const y = fn(tt);
              expect(y.dtype, name).to.equal(dtype);
              assertEqualValues(y, unary(xx, ref).map((v) => roundTo(v, dtype)), `${name} ${dtype}`);
            }
          }
        });
      });
    }
  });

  describe('binary arithmetic with broadcasting vs float64 reference', () => {
    const ARITH: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
      ['add', ft.add, (a, b) => a + b],
      ['sub', ft.sub, (a, b) => a - b],
      ['mul', ft.mul, (a, b) => a * b],
      ['div', ft.div, (a, b) => a / b],
      ['pow', ft.pow, (a, b) => Math.pow(a, b)],
      ['maximum', ft.maximum, (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b))],
      ['minimum', ft.minimum, (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b))],
    ];

    for (const [name, fn, ref] of ARITH) {
      for (const dtype of FLOAT_DTYPES) {
        it(`${name} ${dtype} over ${BROADCAST_PAIRS.length} broadcast shape pairs`, () => {
          const rng = new Rng(name.length * 7 + dtype.length);
          const distA: RandOptions = name === 'pow' ? { dist: 'uniform', lo: 0.1, hi: 3 } : { dist: 'normal', scale: 2 };
          const distB: RandOptions = name === 'pow' ? { dist: 'uniform', lo: -2, hi: 2 } : { dist: 'normal', scale: 2 };
          tidy(() => {
            for (const [sa, sb] of BROADCAST_PAIRS) {
              const a = randTensor(rng, sa, dtype, distA);
              const b = randTensor(rng, sb, dtype, distB);
              const y = fn(a.t, b.t);
              expect(y.dtype).to.equal(dtype);
              const want = binary(a.x, b.x, ref).map((v) => roundTo(v, dtype));
              assertClose(y, want, { ...tolFor(dtype, F32), msg: `${name} ${dtype} [${sa}] [${sb}]` });
            }
          });
        });
      }
    }

    it('maximum / minimum propagate NaN from either side', () => {
      tidy(() => {
        const a = tensor([NaN, 1, NaN, -Infinity, 2]);
        const b = tensor([1, NaN, NaN, 3, Infinity]);
        assertEqualValues(ft.maximum(a, b), [NaN, NaN, NaN, 3, Infinity]);
        assertEqualValues(ft.minimum(a, b), [NaN, NaN, NaN, -Infinity, 2]);
        assertEqualValues(ft.maximum(b, a), [NaN, NaN, NaN, 3, Infinity]);
        assertEqualValues(ft.minimum(b, a), [NaN, NaN, NaN, -Infinity, 2]);
      });
    });

    it('special values follow IEEE (inf − inf, 0 · inf, x / 0)', () => {
      tidy(() => {
        const a = tensor([Infinity, 0, 1, -1, 0]);
        const b = tensor([Infinity, Infinity, 0, 0, 0]);
        assertEqualValues(ft.sub(a, b), [NaN, -Infinity, 1, -1, 0]);
        assertEqualValues(ft.mul(a, b), [Infinity, NaN, 0, -0, 0]);
        assertEqualValues(ft.div(a, b), [NaN, 0, Infinity, -Infinity, NaN]);
      });
    });

    for (const dtype of ['int32', 'int8', 'uint8'] as const) {
      it(`add / sub / mul / maximum / minimum on ${dtype} are exact and wrap; div gives float32`, () => {
        const rng = new Rng(31);
        const big = () => (dtype === 'int32' ? { dist: 'int' as const, lo: -(2 ** 31), hi: 2 ** 31 - 1 } : undefined);
        tidy(() => {
          for (const [sa, sb] of BROADCAST_PAIRS) {
            const a = randTensor(rng, sa, dtype, big());
            const b = randTensor(rng, sb, dtype, big());
            for (const [name, fn, ref] of [
              ['add', ft.add, (p: number, q: number) => p + q],
              ['sub', ft.sub, (p: number, q: number) => p - q],
              // Exact product via BigInt before wrapping.
              ['mul', ft.mul, (p: number, q: number) => Number(BigInt.asIntN(64, BigInt(p) * BigInt(q)))],
              ['maximum', ft.maximum, Math.max],
              ['minimum', ft.minimum, Math.min],
            ] as const) {
              const y = fn(a.t, b.t);
              expect(y.dtype, name).to.equal(dtype);
              const want = binary(a.x, b.x, (p, q) => {
                const r = ref(p, q);
                return dtype === 'int32' && name === 'mul' ? Number(BigInt.asIntN(32, BigInt(p) * BigInt(q))) : roundTo(r, dtype);
              });
              assertEqualValues(y, want, `${name} ${dtype} [${sa}] [${sb}]`);
            }
            const q = ft.div(a.t, b.t);
            expect(q.dtype).to.equal('float32');
            assertClose(q, binary(a.x, b.x, (p, r) => Math.fround(p / r)), { rtol: 0, atol: 0, msg: `div ${dtype}` });
          }
        });
      });
    }

    it('pow on int32 with non-negative exponents is exact', () => {
      tidy(() => {
        const rng = new Rng(2);
        const a = randTensor(rng, [7, 5], 'int32', { dist: 'int', lo: -6, hi: 6 });
        const b = randTensor(rng, [5], 'int32', { dist: 'int', lo: 0, hi: 6 });
        const y = ft.pow(a.t, b.t);
        expect(y.dtype).to.equal('int32');
        assertEqualValues(y, binary(a.x, b.x, (p, q) => p ** q));
      });
    });
  });

  describe('scalar operands and result dtypes', () => {
    it('a number works on either side (order matters for sub/div/pow)', () => {
      tidy(() => {
        const rng = new Rng(8);
        for (const dtype of FLOAT_DTYPES) {
          const { t, x } = randTensor(rng, [3, 7], dtype, { dist: 'uniform', lo: 0.5, hi: 4 });
          const cases: [string, Tensor, (v: number) => number][] = [
            ['t + 2.5', ft.add(t, 2.5), (v) => v + 2.5],
            ['2.5 + t', ft.add(2.5, t), (v) => 2.5 + v],
            ['t - 3', ft.sub(t, 3), (v) => v - 3],
            ['3 - t', ft.sub(3, t), (v) => 3 - v],
            ['1 / t', ft.div(1, t), (v) => 1 / v],
            ['t / 4', ft.div(t, 4), (v) => v / 4],
            ['2 ** t', ft.pow(2, t), (v) => 2 ** v],
            ['t ** 0.5', ft.pow(t, 0.5), (v) => v ** 0.5],
            ['max(t, 2)', ft.maximum(t, 2), (v) => Math.max(v, 2)],
            ['min(1.5, t)', ft.minimum(1.5, t), (v) => Math.min(1.5, v)],
            ['t * 0.1', ft.mul(t, 0.1), (v) => v * 0.1],
          ];
          for (const [what, y, f] of cases) {
            expect(y.dtype, `${what} ${dtype}`).to.equal(dtype);
            expect(y.shape).to.deep.equal([3, 7]);
            assertClose(y, unary(x, f).map((v) => roundTo(v, dtype)), { ...tolFor(dtype, F32), msg: `${what} ${dtype}` });
          }
        }
      });
    });

    it('result dtypes follow the promotion rules (PyTorch-like, numbers do not widen)', () => {
      tidy(() => {
        const t = (dtype: DType) => ft.ones([2], dtype);
        const cases: [Tensor, DType][] = [
          [ft.add(t('float16'), t('float16')), 'float16'],
          [ft.add(t('bfloat16'), t('bfloat16')), 'bfloat16'],
          [ft.add(t('float16'), t('bfloat16')), 'float32'],
          [ft.add(t('float16'), t('float32')), 'float32'],
          [ft.add(t('int32'), t('float16')), 'float16'],
          [ft.add(t('int8'), t('uint8')), 'int32'],
          [ft.add(t('bool'), t('int8')), 'int8'],
          [ft.add(t('uint8'), t('int32')), 'int32'],
          [ft.div(t('int32'), t('int32')), 'float32'],
          [ft.div(t('float16'), t('int32')), 'float16'],
          [ft.add(t('int32'), 2.5), 'float32'],
          [ft.add(t('int32'), 2), 'int32'],
          [ft.add(t('int8'), 3), 'int8'],
          [ft.add(t('bool'), 1), 'int32'],
          [ft.mul(t('float16'), 1e3), 'float16'],
          [ft.mul(t('bfloat16'), 2), 'bfloat16'],
          [ft.maximum(t('bool'), t('bool')), 'bool'],
          [ft.less(t('float16'), 2), 'bool'],
        ];
        cases.forEach(([y, dt], i) => expect(y.dtype, `case ${i}`).to.equal(dt));
      });
    });

    it('int8 + int number wraps in int8; int32 + fraction computes in float32', () => {
      tidy(() => {
        assertEqualValues(ft.add(tensor([120, -120], [2], 'int8'), 10), [-126, -110]);
        assertEqualValues(ft.add(tensor([1, 2], [2], 'int32'), 0.5), [1.5, 2.5]);
      });
    });
  });

  describe('comparisons and logical ops', () => {
    const CMP: [string, (a: Tensor | number, b: Tensor | number) => Tensor, (a: number, b: number) => boolean][] = [
      ['equal', ft.equal, (a, b) => a === b],
      ['notEqual', ft.notEqual, (a, b) => a !== b],
      ['less', ft.less, (a, b) => a < b],
      ['lessEqual', ft.lessEqual, (a, b) => a <= b],
      ['greater', ft.greater, (a, b) => a > b],
      ['greaterEqual', ft.greaterEqual, (a, b) => a >= b],
    ];
    for (const [name, fn, ref] of CMP) {
      it(`${name} on every numeric dtype with broadcasting, ties and NaN → bool`, () => {
        const rng = new Rng(name.length);
        tidy(() => {
          for (const dtype of ['float32', 'float16', 'bfloat16', 'int32', 'int8', 'uint8'] as const) {
            for (const [sa, sb] of BROADCAST_PAIRS) {
              // Small integers give many ties.
              const a = randTensor(rng, sa, dtype, { dist: 'int', lo: 0, hi: 3 });
              const b = randTensor(rng, sb, dtype, { dist: 'int', lo: 0, hi: 3 });
              const y = fn(a.t, b.t);
              expect(y.dtype).to.equal('bool');
              assertEqualValues(y, binary(a.x, b.x, (p, q) => Number(ref(p, q))), `${name} ${dtype} [${sa}] [${sb}]`);
            }
          }
          const a = tensor([NaN, NaN, 1, Infinity, -0]);
          const b = tensor([NaN, 1, NaN, Infinity, 0]);
          assertEqualValues(fn(a, b), binary(toND(a), toND(b), (p, q) => Number(ref(p, q))), `${name} NaN/Inf/±0`);
          // Against a number, both orders.
          const c = tensor([1, 2, 3]);
          assertEqualValues(fn(c, 2), [1, 2, 3].map((v) => Number(ref(v, 2))), `${name}(t, 2)`);
          assertEqualValues(fn(2, c), [1, 2, 3].map((v) => Number(ref(2, v))), `${name}(2, t)`);
        });
      });
    }

    it('equal on bool tensors', () => {
      tidy(() => {
        const a = tensor([true, false, true, false]);
        const b = tensor([true, true, false, false]);
        assertEqualValues(ft.equal(a, b), [1, 0, 0, 1]);
        assertEqualValues(ft.notEqual(a, b), [0, 1, 1, 0]);
      });
    });

    it('comparing a 16-bit tensor with a number compares in the tensor dtype (like PyTorch)', () => {
      tidy(() => {
        for (const dtype of ['float16', 'bfloat16'] as const) {
          const x = tensor([0.1, 0.2, 1 / 3], [3], dtype);
          assertEqualValues(ft.equal(x, 0.1), [1, 0, 0], `${dtype} == 0.1`);
          assertEqualValues(ft.equal(1 / 3, x), [0, 0, 1], `1/3 == ${dtype}`);
          assertEqualValues(ft.lessEqual(x, 0.2), [1, 1, 0], `${dtype} <= 0.2`);
          assertEqualValues(ft.greaterEqual(x, 0.2), [0, 1, 1], `${dtype} >= 0.2`);
        }
      });
    });

    it('logicalAnd / logicalOr / logicalNot with broadcasting', () => {
      tidy(() => {
        const rng = new Rng(4);
        for (const [sa, sb] of BROADCAST_PAIRS) {
          const a = randTensor(rng, sa, 'bool');
          const b = randTensor(rng, sb, 'bool');
          assertEqualValues(ft.logicalAnd(a.t, b.t), binary(a.x, b.x, (p, q) => Number(p && q)));
          assertEqualValues(ft.logicalOr(a.t, b.t), binary(a.x, b.x, (p, q) => Number(p || q)));
          const n = ft.logicalNot(a.t);
          expect(n.dtype).to.equal('bool');
          assertEqualValues(n, unary(a.x, (p) => Number(!p)));
        }
      });
    });
  });

  describe('where', () => {
    const TRIPLES: [number[], number[], number[]][] = [
      [[7], [7], [7]],
      [[3, 1, 5], [4, 1], []],
      [[1], [2, 3], [3]],
      [[2, 1, 1], [1, 7, 1], [1, 1, 129]],
      [[], [5], [1]],
    ];
    for (const dtype of ['float32', 'float16', 'bfloat16', 'int32', 'int8', 'bool'] as const) {
      it(`selects ${dtype} values with three-way broadcasting`, () => {
        const rng = new Rng(dtype.length);
        tidy(() => {
          for (const [sc, sa, sb] of TRIPLES) {
            const c = randTensor(rng, sc, 'bool');
            const a = randTensor(rng, sa, dtype);
            const b = randTensor(rng, sb, dtype);
            const y = where(c.t, a.t, b.t);
            expect(y.dtype).to.equal(dtype);
            assertEqualValues(y, refWhere(c.x, a.x, b.x), `where ${dtype} [${sc}] [${sa}] [${sb}]`);
          }
        });
      });
    }

    it('accepts numbers for either branch, and for both (float32 for fractions / infinities, int32 for integers)', () => {
      tidy(() => {
        const c = tensor([true, false, true]);
        const x = tensor([1, 2, 3], [3], 'float16');
        const y1 = where(c, x, -Infinity);
        expect(y1.dtype).to.equal('float16');
        assertEqualValues(y1, [1, -Infinity, 3]);
        assertEqualValues(where(c, 0.5, x), [0.5, 2, 0.5]);
        const y2 = where(c, 0, -Infinity);
        expect(y2.dtype).to.equal('float32');
        assertEqualValues(y2, [0, -Infinity, 0]);
        const y3 = where(c, 1, 0);
        expect(y3.dtype).to.equal('int32');
        assertEqualValues(y3, [1, 0, 1]);
      });
    });

    it('promotes mixed branch dtypes', () => {
      tidy(() => {
        const c = tensor([true, false]);
        const y = where(c, tensor([1, 2], [2], 'int32'), tensor([0.5, 0.25], [2], 'float16'));
        expect(y.dtype).to.equal('float16');
        assertEqualValues(y, [1, 0.25]);
      });
    });
  });

  describe('cast', () => {
    const SOURCES: Record<DType, number[]> = {
      float32: [-3.7, -1.5, -0.5, -0, 0, 0.4, 1, 2.5, 100.9, 127.5, 200.7, -129.2, 300, 65504, 65520, 70000.5, 1e10, -1e10, 3.14159, 1 + 2 ** -11 + 2 ** -20, NaN, Infinity, -Infinity],
      float16: [-3.7, -1.5, -0.5, -0, 0, 0.4, 1, 2.5, 100.9, 127.5, 200.7, -129.2, 300, 65504, 3.14159, 6e-8, NaN, Infinity, -Infinity],
      bfloat16: [-3.7, -1.5, -0.5, -0, 0, 0.4, 1, 2.5, 100.9, 127.5, 200.7, -129.2, 300, 65504, 1e10, 3.14159, 1e-30, NaN, Infinity, -Infinity],
      int32: [-2147483648, -1000, -129, -128, -1, 0, 1, 127, 128, 255, 256, 65519, 65520, 16777217, 2 ** 24 + 2 ** 16 + 1, 2147483647],
      int8: [-128, -5, -1, 0, 1, 7, 127],
      uint8: [0, 1, 7, 128, 200, 255],
      bool: [0, 1, 1, 0],
    };

    for (const from of ALL_DTYPES) {
      it(`from ${from} to every dtype: one rounding / truncation toward zero with wrap / x ≠ 0`, () => {
        tidy(() => {
          const src = tensor(SOURCES[from], [SOURCES[from].length], from);
          const stored = toND(src);
          for (const to of ALL_DTYPES) {
            const isIntTarget = !['float32', 'float16', 'bfloat16', 'bool'].includes(to);
            // Float → int is only specified for finite values.
            const keep = Array.from(stored.data.keys()).filter((i) => !isIntTarget || Number.isFinite(stored.data[i]));
            const s = keep.length === stored.size ? src : tensor(keep.map((i) => stored.data[i]), [keep.length], from);
            const y = cast(s, to);
            expect(y.dtype).to.equal(to);
            expect(y.shape).to.deep.equal(s.shape);
            assertEqualValues(y, keep.map((i) => roundTo(stored.data[i], to)), `cast ${from} → ${to}`);
          }
        });
      });
    }

    it('int32 → bfloat16 rounds once (2^24 + 2^16 + 1 is just above a midpoint)', () => {
      tidy(() => {
        const y = cast(tensor([2 ** 24 + 2 ** 16 + 1], [1], 'int32'), 'bfloat16');
        assertEqualValues(y, [2 ** 24 + 2 ** 17]);
      });
    });

    it('keeps shape for scalars and empty tensors', () => {
      tidy(() => {
        expect(cast(tensor(2.7), 'int32').shape).to.deep.equal([]);
        expect(cast(ft.zeros([0, 3]), 'float16').shape).to.deep.equal([0, 3]);
      });
    });

    it('float16 → float32 → float16 is lossless for every finite pattern', () => {
      tidy(() => {
        const bits = Uint16Array.from({ length: 0x7c00 }, (_, i) => i);
        const h = ft.fromStorage(bits, [bits.length], 'float16');
        const back = cast(cast(h, 'float32'), 'float16');
        assertEqualValues(back, h.dataSync());
      });
    });
  });

  describe('bad input', () => {
    it('binary ops: non-broadcastable shapes name the op and both arguments; bool arithmetic and logical dtypes', () => {
      tidy(() => {
        const a = ft.zeros([2, 3]);
        const b = ft.zeros([4]);
        for (const [name, fn] of [['add', ft.add], ['mul', ft.mul], ['pow', ft.pow], ['less', ft.less], ['maximum', ft.maximum]] as const) {
          expectError(() => fn(a, b), ShapeError, [name, "'a' [2,3]", "'b' [4]", 'broadcastable']);
        }
        const t = ft.ones([2], 'bool');
        expectError(() => ft.add(t, t), DTypeError, ['add', 'bool']);
        expectError(() => ft.logicalAnd(a, ft.ones([3], 'bool')), DTypeError, ['logicalAnd', 'bool', 'float32']);
        expectError(() => ft.logicalNot(a), DTypeError, ['logicalNot', "'x'", 'float32']);
        expectError(() => ft.add(a, 'x' as unknown as number), ArgumentError, ['add', "'b'"]);
      });
    });

    it('unary float ops reject integer and bool tensors; neg/abs/relu reject bool', () => {
      tidy(() => {
        const i = ft.zeros([2], 'int32');
        for (const c of UNARY.filter((u) => !['neg', 'abs', 'relu'].includes(u.name))) {
          expectError(() => c.fn(i), DTypeError, [c.name.split(' ')[0], "'x'", 'int32']);
        }
        const bl = ft.zeros([2], 'bool');
        for (const [name, fn] of [['neg', ft.neg], ['abs', ft.abs], ['relu', ft.relu]] as const) expectError(() => fn(bl), DTypeError, [name, "'x'", 'bool']);
        expectError(() => ft.gelu(ft.zeros([2]), { approximate: 'erf' as 'none' }), ArgumentError, ['gelu', "'approximate'"]);
      });
    });

    it('where: non-bool condition, non-broadcastable branches', () => {
      tidy(() => {
        const c = ft.zeros([3], 'bool');
        expectError(() => where(ft.zeros([3]), 1, 0), DTypeError, ['where', "'condition'", 'float32']);
        expectError(() => where(c, ft.zeros([4]), 0), ShapeError, ['where', "'condition'", "'a'"]);
        expectError(() => where(c, ft.zeros([3]), ft.zeros([2, 2])), ShapeError, ['where', "'b'"]);
        expectError(() => where(c, 'x' as unknown as number, 1), ArgumentError, ['where', "'a'"]);
      });
    });

    it('cast: unknown dtype', () => {
      tidy(() => {
        expectError(() => cast(ft.zeros([2]), 'float64' as DType), DTypeError, ['cast', 'float64']);
        expectError(() => cast(ft.zeros([2]), undefined as unknown as DType), DTypeError, ['cast']);
      });
    });
  });
});
