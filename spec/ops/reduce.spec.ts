/** Reductions, softmax and logSoftmax against the float64 reference. */

import { expect } from 'chai';
import * as ft from '../../index.js';
import { ArgumentError, DTypeError, logSoftmax, ShapeError, softmax, tensor, tidy, type DType, type Tensor } from '../../index.js';
import { assertClose, assertEqualValues, expectError, tolFor } from '../helpers/assert.js';
import { ND, logSoftmax as refLogSoftmax, reduce as refReduce, roundTo, softmax as refSoftmax, type ReduceKind } from '../helpers/reference.js';
import { Rng } from '../helpers/rng.js';
import { checkLeaks, fromND, randTensor } from '../helpers/tensors.js';

const SHAPES: [number[], (number | number[] | undefined)[]][] = [
  [[7], [undefined, 0, -1, [0]]],
  [[1], [undefined, 0]],
  [[129], [0]],
  [[3, 129], [undefined, 0, 1, -1, -2, [0, 1], [-1, 0]]],
  [[2, 7, 5], [0, 1, 2, -1, [0, 2], [-1, -3], [1, 2], [0, 1, 2]]],
  [[2, 1, 3, 4], [1, [1, 3], [0, 2], -2, [0, 1, 2, 3]]],
];

const REDUCERS: Record<'sum' | 'mean' | 'max' | 'min', (x: Tensor, axis?: number | number[], opts?: { keepDims?: boolean }) => Tensor> = {
  sum: ft.sum,
  mean: ft.mean,
  max: ft.max,
  min: ft.min,
};

function outDType(kind: ReduceKind, dtype: DType): DType {
  const float = dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16';
  if (kind === 'sum') return float ? dtype : 'int32';
  if (kind === 'mean') return float ? dtype : 'float32';
  if (kind === 'argmax' || kind === 'argmin') return 'int32';
  return dtype;
}

const isIntDType = (d: DType) => d === 'int32' || d === 'int8' || d === 'uint8';

describe('ops/reduce', () => {
  checkLeaks();

  for (const kind of ['sum', 'mean', 'max', 'min'] as const) {
    for (const dtype of ['float32', 'float16', 'bfloat16', 'int32', 'int8', 'uint8'] as const) {
      it(`${kind} ${dtype}: single, multiple and negative axes, keepDims on and off`, () => {
        const rng = new Rng(kind.length * 17 + dtype.length);
        tidy(() => {
          for (const [shape, axesList] of SHAPES) {
            const { t, x } = randTensor(rng, shape, dtype);
            for (const axis of axesList) {
              for (const keepDims of [false, true]) {
                const y = REDUCERS[kind](t, axis, { keepDims });
                const od = outDType(kind, dtype);
                expect(y.dtype).to.equal(od);
                const want = refReduce(x, kind, axis, keepDims).map((v) => roundTo(v, od));
                // Sums may accumulate in float32: allow the recursive-summation bound n·2⁻²⁴·Σ|x| on top.
                const n = x.size / Math.max(1, want.size);
                const bound = kind === 'sum' || kind === 'mean'
                  ? refReduce(x.map(Math.abs), kind, axis, keepDims).data.map((v) => n * 2 ** -24 * v)
                  : undefined;
                const tol = tolFor(od, { rtol: 2 ** -24 });
                assertClose(y, want, { ...tol, atolEach: isIntDType(od) ? undefined : bound, msg: `${kind} ${dtype} [${shape}] axis=${JSON.stringify(axis)} keepDims=${keepDims}` });
              }
            }
          }
        });
      });
    }
  }

  it('sum of bool counts the true values (int32)', () => {
    tidy(() => {
      const y = ft.sum(tensor([[true, false, true], [true, true, true]]), 1);
      expect(y.dtype).to.equal('int32');
      assertEqualValues(y, [2, 3]);
    });
  });

  it('int32 sums wrap like int32 arithmetic', () => {
    tidy(() => assertEqualValues(ft.sum(tensor([2 ** 31 - 1, 1], [2], 'int32')), [-(2 ** 31)]));
  });

  it('max / min propagate NaN; infinities are ordinary values', () => {
    tidy(() => {
      const x = tensor([[1, NaN, 3], [-Infinity, 2, Infinity], [NaN, NaN, 0]]);
      assertEqualValues(ft.max(x, 1), [NaN, Infinity, NaN]);
      assertEqualValues(ft.min(x, 1), [NaN, -Infinity, NaN]);
      assertEqualValues(ft.max(x, 0), [NaN, NaN, Infinity]);
      assertEqualValues(ft.sum(x, 1), [NaN, NaN, NaN]);
    });
  });

  it('reducing a size-0 axis: sum is 0, mean is NaN, max/argmax throw ShapeError', () => {
    tidy(() => {
      const e = ft.zeros([3, 0]);
      assertEqualValues(ft.sum(e, 1), [0, 0, 0]);
      assertEqualValues(ft.mean(e, 1), [NaN, NaN, NaN]);
      expectError(() => ft.max(e, 1), ShapeError, ['max', 'size 0']);
      expectError(() => ft.argmax(e, 1), ShapeError, ['argmax', 'size 0']);
    });
  });

  it('reducing a scalar over everything (or axis 0 / −1) returns the value', () => {
    tidy(() => {
      const s = tensor(4.5);
      for (const fn of [ft.sum, ft.mean, ft.max, ft.min]) {
        for (const axis of [undefined, 0, -1]) {
          const y = fn(s, axis);
          expect(y.shape, `${fn.name} axis ${axis}`).to.deep.equal([]);
          assertEqualValues(y, [4.5], `${fn.name} axis ${axis}`);
          expect(fn(s, axis, { keepDims: true }).shape).to.deep.equal([]);
        }
      }
      assertEqualValues(ft.argmax(s), [0]);
      assertEqualValues(ft.argmin(s, 0), [0]);
    });
  });

  for (const kind of ['argmax', 'argmin'] as const) {
    it(`${kind}: first index of the extreme on ties, every axis, keepDims, NaN wins`, () => {
      const fn = kind === 'argmax' ? ft.argmax : ft.argmin;
      const rng = new Rng(kind.length);
      tidy(() => {
        for (const dtype of ['float32', 'float16', 'bfloat16', 'int32', 'int8', 'uint8'] as const) {
          for (const [shape] of SHAPES) {
            // Few distinct values: many ties.
            const { t, x } = randTensor(rng, shape, dtype, { dist: 'int', lo: 0, hi: 3 });
            for (let axis = -shape.length; axis < shape.length; axis++) {
              for (const keepDims of [false, true]) {
                const y = fn(t, axis, { keepDims });
                expect(y.dtype).to.equal('int32');
                assertEqualValues(y, refReduce(x, kind, axis, keepDims), `${kind} ${dtype} [${shape}] axis ${axis} keepDims ${keepDims}`);
              }
            }
          }
        }
        const x = tensor([[1, NaN, 5, NaN], [3, 3, 1, 1]]);
        assertEqualValues(fn(x), refReduce(ND.from([2, 4], [1, NaN, 5, NaN, 3, 3, 1, 1]), kind, -1));
      });
    });
  }

  describe('softmax / logSoftmax', () => {
    const CASES: [number[], number][] = [
      [[7], 0],
      [[1], -1],
      [[129], -1],
      [[3, 129], 1],
      [[3, 129], 0],
      [[2, 7, 5], 1],
      [[2, 7, 5], -3],
      [[2, 1, 3, 4], 1],
      [[4, 3, 1], -1],
    ];

    for (const [name, fn, ref] of [
      ['softmax', softmax, refSoftmax],
      ['logSoftmax', logSoftmax, refLogSoftmax],
    ] as const) {
      for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
        it(`${name} ${dtype} along every kind of axis`, () => {
          const rng = new Rng(name.length + dtype.length);
          tidy(() => {
            for (const [shape, axis] of CASES) {
              const { t, x } = randTensor(rng, shape, dtype, { dist: 'normal', scale: 3 });
              const y = fn(t, axis);
              expect(y.dtype).to.equal(dtype);
              expect(y.shape).to.deep.equal(shape);
              assertClose(y, ref(x, axis).map((v) => roundTo(v, dtype)), { ...tolFor(dtype, { atol: 1e-7, rtol: 1e-6 }), msg: `${name} ${dtype} [${shape}] axis ${axis}` });
            }
          });
        });

        it(`${name} ${dtype} with large magnitudes (±1e4) has no NaN and matches the reference`, () => {
          tidy(() => {
            const vals = [1e4, -1e4, 0, 1e4 - 1, -1e4 + 3, 5e3, 1e4, -1e4];
            const { t, x } = fromND(ND.from([2, 4], vals), dtype);
            const y = fn(t, -1);
            expect(Array.from(y.dataSync()).some(Number.isNaN), 'NaN in output').to.equal(false);
            assertClose(y, ref(x, -1).map((v) => roundTo(v, dtype)), { ...tolFor(dtype, { atol: 1e-7, rtol: 1e-6 }), msg: `${name} ${dtype} ±1e4` });
            // Shift invariance at extreme offsets.
            const z = fn(tensor([[3e4 + 1, 3e4 + 2, 3e4 + 3]]), -1);
            const w = fn(tensor([[1, 2, 3]]), -1);
            assertClose(z, w.dataSync(), { atol: 1e-6, msg: 'shift by 3e4' });
          });
        });
      }
    }

    it('−∞ entries get probability 0 / log-probability −∞; a fully −∞ row gives zeros / −∞, not NaN', () => {
      tidy(() => {
        const x = tensor([[0, -Infinity, 0], [-Infinity, -Infinity, -Infinity]]);
        assertEqualValues(softmax(x), [0.5, 0, 0.5, 0, 0, 0]);
        assertClose(logSoftmax(x), [-Math.LN2, -Infinity, -Math.LN2, -Infinity, -Infinity, -Infinity], { rtol: 1e-7 });
      });
    });

    it('softmax rows sum to 1 and softmax = exp(logSoftmax)', () => {
      const rng = new Rng(77);
      tidy(() => {
        const { t } = randTensor(rng, [5, 129], 'float32', { dist: 'normal', scale: 10 });
        const s = softmax(t);
        assertClose(ft.sum(s, -1), new Array(5).fill(1), { atol: 1e-5 });
        assertClose(ft.exp(logSoftmax(t)), s.dataSync(), { atol: 1e-7, rtol: 1e-5 });
      });
    });

    it('a rank-0 input gives 1 / 0', () => {
      tidy(() => {
        assertEqualValues(softmax(tensor(3)), [1]);
        assertEqualValues(logSoftmax(tensor(3)), [0]);
        expect(softmax(tensor(3)).shape).to.deep.equal([]);
      });
    });

    it('reject non-float input and bad axes', () => {
      tidy(() => {
        expectError(() => softmax(tensor([1, 2], [2], 'int32')), DTypeError, ['softmax', "'x'", 'int32']);
        expectError(() => logSoftmax(tensor([1, 2]), 1), ShapeError, ['logSoftmax', "'axis'", 'out of range']);
        expectError(() => softmax(tensor([1, 2]), 0.5), ArgumentError, ['softmax', "'axis'"]);
      });
    });
  });

  describe('bad input', () => {
    it('axes out of range, duplicated, non-integer; bool where numbers are needed', () => {
      tidy(() => {
        const x = ft.zeros([2, 3]);
        for (const [name, fn] of Object.entries(REDUCERS)) {
          expectError(() => fn(x, 2), ShapeError, [name, "'axis'", 'out of range', 'rank 2']);
          expectError(() => fn(x, -3), ShapeError, [name, "'axis'"]);
          expectError(() => fn(x, [0, -2]), ArgumentError, [name, "'axis'", 'duplicates']);
          expectError(() => fn(x, 0.5), ArgumentError, [name, "'axis'"]);
          expectError(() => fn(x, '0' as unknown as number), ArgumentError, [name, "'axis'"]);
        }
        expectError(() => ft.argmax(x, 2), ShapeError, ['argmax', "'axis'"]);
        expectError(() => ft.argmin(x, [0, 1] as unknown as number), ArgumentError, ['argmin', "'axis'"]);
        const b = ft.zeros([3], 'bool');
        for (const [name, fn] of [['mean', ft.mean], ['max', ft.max], ['min', ft.min], ['argmax', ft.argmax]] as const) {
          expectError(() => fn(b), DTypeError, [name, "'x'", 'bool']);
        }
        expectError(() => ft.sum(tensor(1), 1), ShapeError, ['sum', "'axis'", 'rank 0']);
      });
    });
  });
});
