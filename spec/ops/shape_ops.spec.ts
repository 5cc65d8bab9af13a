/** Data-movement ops vs the reference; every dtype, bits copied exactly. */

import { expect } from 'chai';
import {
  ArgumentError,
  broadcastTo,
  concat,
  DTypeError,
  expand,
  flatten,
  fromStorage,
  memory,
  permute,
  repeat,
  repeatInterleave,
  reshape,
  ShapeError,
  slice,
  split,
  squeeze,
  stack,
  swapAxes,
  tensor,
  tidy,
  transpose,
  unsqueeze,
  zeros,
  type Tensor,
} from '../../index.js';
import { ENGINE } from '../../lib/engine.js';
import { assertEqualValues, expectError } from '../helpers/assert.js';
import {
  broadcastTo as refBroadcastTo,
  concat as refConcat,
  ND,
  repeatInterleave as refRepeatInterleave,
  slice as refSlice,
  tile as refTile,
  transpose as refTranspose,
} from '../helpers/reference.js';
import { Rng } from '../helpers/rng.js';
import { ALL_DTYPES, checkLeaks, randTensor } from '../helpers/tensors.js';

/** The reference value of a reshape: same data, new shape. */
const same = (x: ND, shape: number[]) => ND.from(shape, x.data);

describe('ops/shape_ops', () => {
  checkLeaks();

  for (const dtype of ALL_DTYPES) {
    describe(dtype, () => {
      const rng = new Rng(dtype.length * 1000 + dtype.charCodeAt(0));
      const rt = (shape: number[]) => randTensor(rng, shape, dtype);

      it('reshape (with −1 inference) is a view with the same row-major data', () => {
        tidy(() => {
          for (const [from, to, want] of [
            [[2, 3, 4], [4, -1], [4, 6]],
            [[2, 3, 4], [-1], [24]],
            [[7], [7, 1, 1], [7, 1, 1]],
            [[129], [3, -1], [3, 43]],
            [[], [1, 1], [1, 1]],
            [[1], [], []],
            [[0, 3], [-1, 3], [0, 3]],
            [[2, 3], [3, 2], [3, 2]],
          ] as [number[], number[], number[]][]) {
            const { t, x } = rt(from);
            const m0 = memory();
            const y = reshape(t, to);
            expect(memory().numBytes, 'no copy').to.equal(m0.numBytes);
            expect(y.dtype).to.equal(dtype);
            assertEqualValues(y, same(x, want), `reshape [${from}] → [${to}]`);
          }
        });
      });

      it('transpose / permute / swapAxes over random permutations, default reverse, and unit-axis views', () => {
        tidy(() => {
          for (const shape of [[7], [3, 5], [2, 3, 4], [2, 1, 3, 1, 5], [1, 129], [3, 1], [2, 0, 3]]) {
            const { t, x } = rt(shape);
            for (let trial = 0; trial < 4; trial++) {
              const p = rng.perm(shape.length);
              assertEqualValues(transpose(t, p), refTranspose(x, p), `transpose [${shape}] perm [${p}]`);
              assertEqualValues(permute(t, p), refTranspose(x, p), `permute [${shape}] perm [${p}]`);
              // Negative axes in the permutation.
              const neg = p.map((a) => a - shape.length);
              assertEqualValues(transpose(t, neg), refTranspose(x, p), `transpose [${shape}] perm [${neg}]`);
            }
            const rev = shape.map((_, i) => shape.length - 1 - i);
            assertEqualValues(transpose(t), refTranspose(x, rev), `transpose [${shape}] default`);
            if (shape.length >= 2) {
              const p = shape.map((_, i) => i);
              [p[0], p[shape.length - 1]] = [p[shape.length - 1], p[0]];
              assertEqualValues(swapAxes(t, 0, -1), refTranspose(x, p), `swapAxes [${shape}]`);
            }
          }
        });
      });

      it('squeeze / unsqueeze / flatten', () => {
        tidy(() => {
          const { t, x } = rt([1, 3, 1, 5]);
          assertEqualValues(squeeze(t), same(x, [3, 5]));
          assertEqualValues(squeeze(t, 0), same(x, [3, 1, 5]));
          assertEqualValues(squeeze(t, [-2, 0]), same(x, [3, 5]));
          assertEqualValues(unsqueeze(t, 0), same(x, [1, 1, 3, 1, 5]));
          assertEqualValues(unsqueeze(t, -1), same(x, [1, 3, 1, 5, 1]));
          assertEqualValues(unsqueeze(t, 2), same(x, [1, 3, 1, 1, 5]));
          assertEqualValues(flatten(t), same(x, [15]));
          assertEqualValues(flatten(t, 1), same(x, [1, 15]));
          assertEqualValues(flatten(t, 1, 2), same(x, [1, 3, 5]));
          assertEqualValues(flatten(t, -2, -1), same(x, [1, 3, 5]));
          const s = rt([]);
          assertEqualValues(flatten(s.t), same(s.x, [1]));
          assertEqualValues(unsqueeze(s.t, 0), same(s.x, [1]));
          expect(squeeze(rt([1]).t).shape).to.deep.equal([]);
        });
      });

      it('concat along every axis incl. negative, with 1–3 inputs and empty pieces', () => {
        tidy(() => {
          for (const [shapes, axis] of [
            [[[2, 3], [4, 3]], 0],
            [[[2, 3], [2, 1], [2, 7]], 1],
            [[[2, 3], [2, 5]], -1],
            [[[2, 3, 4], [2, 1, 4], [2, 2, 4]], -2],
            [[[7]], 0],
            [[[3], [0], [129]], 0],
            [[[1, 2, 1], [1, 2, 1]], 2],
            [[[0, 2], [3, 2]], 0],
          ] as [number[][], number][]) {
            const parts = shapes.map((s) => rt(s));
            const y = concat(parts.map((p) => p.t), axis);
            expect(y.dtype).to.equal(dtype);
            assertEqualValues(y, refConcat(parts.map((p) => p.x), axis), `concat [${shapes.map((s) => `[${s}]`)}] axis ${axis}`);
          }
        });
      });

      it('stack along a new axis (0, middle, −1)', () => {
        tidy(() => {
          const parts = [rt([3, 4]), rt([3, 4]), rt([3, 4])];
          for (const axis of [0, 1, 2, -1, -3]) {
            const ax = axis < 0 ? axis + 3 : axis;
            const want = refConcat(parts.map((p) => ND.from([...p.x.shape.slice(0, ax), 1, ...p.x.shape.slice(ax)], p.x.data)), ax);
            assertEqualValues(stack(parts.map((p) => p.t), axis), want, `stack axis ${axis}`);
          }
          const scalars = [rt([]), rt([])];
          assertEqualValues(stack(scalars.map((s) => s.t)), ND.from([2], [...scalars[0].x.data, ...scalars[1].x.data]));
        });
      });

      it('split into equal counts and into given sizes (incl. 0) along any axis', () => {
        tidy(() => {
          const { t, x } = rt([6, 129]);
          const check = (pieces: Tensor[], sizes: number[], axis: number) => {
            expect(pieces.length).to.equal(sizes.length);
            let at = 0;
            pieces.forEach((p, i) => {
              const begin = axis === 0 ? [at, 0] : [0, at];
              const size = axis === 0 ? [sizes[i], 129] : [6, sizes[i]];
              assertEqualValues(p, refSlice(x, begin, size), `split piece ${i} axis ${axis}`);
              at += sizes[i];
            });
          };
          check(split(t, 3), [2, 2, 2], 0);
          check(split(t, 3, 1), [43, 43, 43], 1);
          check(split(t, [1, 0, 5]), [1, 0, 5], 0);
          check(split(t, [100, 29], -1), [100, 29], 1);
          check(split(t, 1), [6], 0);
        });
      });

      it('slice with negative begins, −1 sizes, short begin lists and empty results', () => {
        tidy(() => {
          const { t, x } = rt([4, 7, 5]);
          for (const [begin, size, wb, ws] of [
            [[1, 2, 0], [2, 3, 5], [1, 2, 0], [2, 3, 5]],
            [[0, 0, 0], [4, 7, 5], [0, 0, 0], [4, 7, 5]],
            [[-1, -3, 1], [1, -1, 2], [3, 4, 1], [1, 3, 2]],
            [[2], [1], [2, 0, 0], [1, 7, 5]],
            [[1, 6], undefined, [1, 6, 0], [3, 1, 5]],
            [[4, 0, 0], [0, 7, 5], [4, 0, 0], [0, 7, 5]],
            [[0, 7, 0], [-1, -1, -1], [0, 7, 0], [4, 0, 5]],
            [[3, 6, 4], [1, 1, 1], [3, 6, 4], [1, 1, 1]],
          ] as [number[], number[] | undefined, number[], number[]][]) {
            assertEqualValues(slice(t, begin, size), refSlice(x, wb, ws), `slice begin [${begin}] size [${size}]`);
          }
        });
      });

      it('broadcastTo / expand (−1 keeps a dimension)', () => {
        tidy(() => {
          for (const [from, to] of [
            [[1], [7]],
            [[3, 1], [3, 129]],
            [[1, 4], [2, 3, 4]],
            [[], [2, 2]],
            [[2, 1, 3], [4, 2, 5, 3]],
            [[5], [5]],
            [[1, 1], [1, 1]],
            [[1, 3], [0, 3]],
          ] as [number[], number[]][]) {
            const { t, x } = rt(from);
            assertEqualValues(broadcastTo(t, to), refBroadcastTo(x, to), `broadcastTo [${from}] → [${to}]`);
            const ex = to.map((d, i) => (i >= to.length - from.length && from[i - (to.length - from.length)] === d ? -1 : d));
            assertEqualValues(expand(t, ex), refBroadcastTo(x, to), `expand [${from}] → [${ex}]`);
          }
        });
      });

      it('repeat (tile) with reps of the same or greater length, incl. 0 and 1', () => {
        tidy(() => {
          for (const [shape, reps] of [
            [[3], [4]],
            [[2, 3], [2, 1]],
            [[2, 3], [1, 3]],
            [[2, 3], [2, 2, 2]],
            [[], [3]],
            [[1, 7], [129, 1]],
            [[2, 3], [0, 2]],
            [[2, 1, 3], [1, 4, 1]],
          ] as [number[], number[]][]) {
            const { t, x } = rt(shape);
            assertEqualValues(repeat(t, reps), refTile(x, reps), `repeat [${shape}] × [${reps}]`);
          }
        });
      });

      it('repeatInterleave along each axis, and flattened when no axis is given', () => {
        tidy(() => {
          for (const [shape, reps, axis] of [
            [[3], 2, 0],
            [[2, 3], 3, 0],
            [[2, 3], 2, 1],
            [[2, 3, 4], 2, -2],
            [[1, 5], 1, 1],
            [[2, 7], 129, -1],
          ] as [number[], number, number][]) {
            const { t, x } = rt(shape);
            assertEqualValues(repeatInterleave(t, reps, axis), refRepeatInterleave(x, reps, axis), `repeatInterleave [${shape}] ×${reps} axis ${axis}`);
          }
          const { t, x } = rt([2, 3]);
          assertEqualValues(repeatInterleave(t, 2), refRepeatInterleave(ND.from([6], x.data), 2, 0), 'repeatInterleave flattened');
        });
      });
    });
  }

  it('16-bit data moves bit-exactly (NaN payloads, −0)', () => {
    tidy(() => {
      const bits = new Uint16Array([0x7e01, 0x8000, 0x0001, 0xfd55, 0x3c00, 0x7bff]);
      for (const dtype of ['float16', 'bfloat16'] as const) {
        const x = fromStorage(bits, [2, 3], dtype);
        const raw = (t: Tensor) => Array.from(ENGINE.readRawSync(t) as Uint16Array);
        expect(raw(transpose(transpose(x)))).to.deep.equal(Array.from(bits));
        expect(raw(concat([x, x], 1))).to.deep.equal([0x7e01, 0x8000, 0x0001, 0x7e01, 0x8000, 0x0001, 0xfd55, 0x3c00, 0x7bff, 0xfd55, 0x3c00, 0x7bff]);
        expect(raw(slice(x, [1, 0], [1, 2]))).to.deep.equal([0xfd55, 0x3c00]);
        expect(raw(broadcastTo(slice(x, [0, 0], [1, 1]), [2, 2]))).to.deep.equal([0x7e01, 0x7e01, 0x7e01, 0x7e01]);
        expect(raw(repeat(slice(x, [0, 1], [1, 1]), [1, 2]))).to.deep.equal([0x8000, 0x8000]);
      }
    });
  });

  describe('bad input', () => {
    it('reshape', () => {
      tidy(() => {
        const x = zeros([2, 3]);
        expectError(() => reshape(x, [4, 2]), ShapeError, ['reshape', '[2,3]', '[4,2]']);
        expectError(() => reshape(x, [-1, -1]), ShapeError, ['reshape', '−1']);
        expectError(() => reshape(x, [4, -1]), ShapeError, ['reshape', 'infer']);
        expectError(() => reshape(x, [2.5, 2]), ShapeError, ['reshape', "'shape'[0]"]);
        expectError(() => reshape(x, [-2, -3]), ShapeError, ['reshape', "'shape'[0]"]);
        expectError(() => reshape(x, 6 as unknown as number[]), ShapeError, ['reshape', "'shape'"]);
        expectError(() => reshape(zeros([0]), [0, 1e300]), ShapeError, ['reshape', "'shape'[1]"]);
      });
    });

    it('transpose / permute / swapAxes', () => {
      tidy(() => {
        const x = zeros([2, 3, 4]);
        expectError(() => transpose(x, [0, 1]), ShapeError, ['transpose', "'perm'"]);
        expectError(() => transpose(x, [0, 0, 1]), ShapeError, ['transpose', "'perm'"]);
        expectError(() => transpose(x, [0, 1, 3]), ShapeError, ['transpose', "'perm'", 'out of range']);
        expectError(() => permute(x, [0, 1, 1.5]), ArgumentError, ['transpose', "'perm'"]);
        expectError(() => transpose(x, 'abc' as unknown as number[]), ShapeError, ['transpose', "'perm'"]);
        expectError(() => swapAxes(x, 0, 3), ShapeError, ['swapAxes', "'b'"]);
      });
    });

    it('squeeze / unsqueeze / flatten', () => {
      tidy(() => {
        const x = zeros([2, 1, 3]);
        expectError(() => squeeze(x, 0), ShapeError, ['squeeze', 'axis 0', 'size 2']);
        expectError(() => squeeze(x, 3), ShapeError, ['squeeze', "'axis'"]);
        expectError(() => unsqueeze(x, 4), ShapeError, ['unsqueeze', "'axis'"]);
        expectError(() => unsqueeze(x, 0.5), ArgumentError, ['unsqueeze', "'axis'"]);
        expectError(() => flatten(x, 2, 1), ArgumentError, ['flatten', "'endAxis'"]);
        expectError(() => flatten(x, 5), ShapeError, ['flatten', "'startAxis'"]);
      });
    });

    it('concat / stack', () => {
      tidy(() => {
        const a = zeros([2, 3]);
        expectError(() => concat([a, zeros([2, 4])], 0), ShapeError, ['concat', 'tensors[1]', '[2,4]']);
        expectError(() => concat([a, zeros([2, 3, 1])], 0), ShapeError, ['concat', 'tensors[1]']);
        expectError(() => concat([a, zeros([2, 3], 'int32')]), DTypeError, ['concat', 'tensors[1]', 'int32']);
        expectError(() => concat([]), ArgumentError, ['concat', "'tensors'"]);
        expectError(() => concat([a, a], 2), ShapeError, ['concat', "'axis'"]);
        expectError(() => concat([zeros([]), zeros([])]), ShapeError, ['concat', 'tensors[0]', 'scalar']);
        expectError(() => concat([a, 5 as unknown as Tensor]), ArgumentError, ['concat', 'tensors[1]']);
        expectError(() => stack([a, zeros([3, 2])]), ShapeError, ['stack', 'tensors[1]', '[3,2]']);
        expectError(() => stack([a, zeros([2, 3], 'float16')]), DTypeError, ['stack', 'tensors[1]']);
        expectError(() => stack([a, a], 3), ShapeError, ['stack', "'axis'"]);
        expectError(() => stack([]), ArgumentError, ['stack']);
      });
    });

    it('split', () => {
      tidy(() => {
        const x = zeros([6, 4]);
        expectError(() => split(x, 4), ShapeError, ['split', 'size 6', '4 equal parts']);
        expectError(() => split(x, 0), ArgumentError, ['split', "'count'"]);
        expectError(() => split(x, [2, 2]), ShapeError, ['split', 'add up to 4', 'size 6']);
        expectError(() => split(x, [7, -1]), ArgumentError, ['split', "'sizes[1]'"]);
        expectError(() => split(x, [2.5, 3.5]), ArgumentError, ['split', "'sizes[0]'"]);
        expectError(() => split(x, 2, 2), ShapeError, ['split', "'axis'"]);
        expectError(() => split(x, undefined as unknown as number), ArgumentError, ['split', "'sizes'"]);
      });
    });

    it('slice', () => {
      tidy(() => {
        const x = zeros([4, 5]);
        expectError(() => slice(x, [5, 0]), ShapeError, ['slice', "'begin'[0]", 'out of range']);
        expectError(() => slice(x, [0, 0], [2, 6]), ShapeError, ['slice', 'exceeds axis 1']);
        expectError(() => slice(x, [0, 0, 0]), ShapeError, ['slice', "'begin'"]);
        expectError(() => slice(x, [0, 0], [1]), ShapeError, ['slice', "'size'"]);
        expectError(() => slice(x, [0.5, 0]), ArgumentError, ['slice', "'begin[0]'"]);
        expectError(() => slice(x, [0, 0], [1, -2]), ArgumentError, ['slice', "'size[1]'"]);
        expectError(() => slice(x, [-6, 0]), ShapeError, ['slice', "'begin'[0]"]);
      });
    });

    it('broadcastTo / expand', () => {
      tidy(() => {
        const x = zeros([3, 1]);
        expectError(() => broadcastTo(x, [2, 3]), ShapeError, ['broadcastTo', '[3,1]', '[2,3]']);
        expectError(() => broadcastTo(x, [3]), ShapeError, ['broadcastTo']);
        expectError(() => broadcastTo(x, [3, -2]), ShapeError, ['broadcastTo', "'shape'"]);
        expectError(() => expand(x, [-1, 4, 5]), ShapeError, ['expand', "'shape'"]);
        expectError(() => expand(x, [2, 4]), ShapeError, ['expand', '[3,1]']);
        expectError(() => expand(x, 'x' as unknown as number[]), ShapeError, ['expand', "'shape'"]);
        expectError(() => expand(x, [3, 1.5]), ShapeError, ['expand', "'shape'"]);
      });
    });

    it('repeat / repeatInterleave', () => {
      tidy(() => {
        const x = zeros([2, 3]);
        expectError(() => repeat(x, [2]), ShapeError, ['repeat', "'reps'"]);
        expectError(() => repeat(x, [2, -1]), ArgumentError, ['repeat', "'reps[1]'"]);
        expectError(() => repeat(x, [2, 1.5]), ArgumentError, ['repeat', "'reps[1]'"]);
        expectError(() => repeatInterleave(x, 0, 0), ArgumentError, ['repeatInterleave', "'repeats'"]);
        expectError(() => repeatInterleave(x, 2.5, 0), ArgumentError, ['repeatInterleave', "'repeats'"]);
        expectError(() => repeatInterleave(x, 2, 2), ShapeError, ['repeatInterleave', "'axis'"]);
      });
    });
  });
});
