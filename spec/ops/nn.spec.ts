/** Normalisations, rotary embedding, gather/embedding, triangles, top-k and writeSlice vs the float64 reference. */

import { expect } from 'chai';
import {
  ArgumentError,
  DTypeError,
  embedding,
  fromStorage,
  gather,
  layerNorm,
  memory,
  reshape,
  rmsNorm,
  rope,
  ShapeError,
  tensor,
  tidy,
  topk,
  tril,
  triu,
  writeSlice,
  zeros,
  type DType,
} from '../../index.js';
import { ENGINE } from '../../lib/engine.js';
import { assertClose, assertEqualValues, expectError, tolFor } from '../helpers/assert.js';
import { halfUlp, type HalfFormat } from '../helpers/half.js';
import {
  gather as refGather,
  layerNorm as refLayerNorm,
  ND,
  rmsNorm as refRmsNorm,
  rope as refRope,
  roundTo,
  topk as refTopk,
  triangle as refTriangle,
  writeSlice as refWriteSlice,
} from '../helpers/reference.js';
import { Rng } from '../helpers/rng.js';
import { ALL_DTYPES, checkLeaks, FLOAT_DTYPES, randTensor, toND } from '../helpers/tensors.js';

/** float32 tolerance for normalisations computed in float32 or better. */
const NORM_F32 = { atol: 2e-6, rtol: 2e-6 };

describe('ops/nn', () => {
  checkLeaks();

  describe('layerNorm', () => {
    const SHAPES = [[7], [1, 1], [3, 129], [2, 3, 5], [4, 2]];
    for (const dtype of FLOAT_DTYPES) {
      it(`${dtype}: with and without weight / bias, several eps`, () => {
        const rng = new Rng(dtype.length * 3);
        tidy(() => {
          for (const shape of SHAPES) {
            const D = shape[shape.length - 1];
            const { t, x } = randTensor(rng, shape, dtype, { dist: 'normal', scale: 3 });
            const w = randTensor(rng, [D], dtype);
            const b = randTensor(rng, [D], dtype);
            for (const [useW, useB, eps] of [[true, true, 1e-5], [false, false, 1e-5], [true, false, 1e-3], [false, true, 0.5]] as const) {
              const y = layerNorm(t, useW ? w.t : null, useB ? b.t : null, eps);
              expect(y.dtype).to.equal(dtype);
              const want = refLayerNorm(x, useW ? w.x : null, useB ? b.x : null, eps).map((v) => roundTo(v, dtype));
              assertClose(y, want, { ...tolFor(dtype, NORM_F32), msg: `layerNorm ${dtype} [${shape}] w=${useW} b=${useB} eps=${eps}` });
            }
          }
        });
      });
    }

    it('a constant row normalises to the bias (variance 0 + eps)', () => {
      tidy(() => {
        const y = layerNorm(tensor([[3, 3, 3]]), tensor([2, 2, 2]), tensor([1, -1, 0.5]));
        assertEqualValues(y, [1, -1, 0.5]);
      });
    });

    it('rejects bad weight/bias shapes, dtypes and rank 0', () => {
      tidy(() => {
        const x = zeros([2, 4]);
        expectError(() => layerNorm(x, zeros([3])), ShapeError, ['layerNorm', "'weight'", '[4]']);
        expectError(() => layerNorm(x, null, zeros([4, 1])), ShapeError, ['layerNorm', "'bias'"]);
        expectError(() => layerNorm(x, zeros([4], 'int32')), DTypeError, ['layerNorm', "'weight'"]);
        expectError(() => layerNorm(zeros([2, 4], 'int32')), DTypeError, ['layerNorm', "'x'"]);
        expectError(() => layerNorm(zeros([])), ShapeError, ['layerNorm', "'x'", 'rank']);
        expectError(() => layerNorm(x, null, null, NaN), ArgumentError, ['layerNorm', "'eps'"]);
      });
    });
  });

  describe('rmsNorm (Hugging Face semantics)', () => {
    for (const dtype of FLOAT_DTYPES) {
      it(`${dtype}: fp32 math, rounded to the input dtype, then times the weight`, () => {
        const rng = new Rng(dtype.length * 5);
        tidy(() => {
          for (const shape of [[7], [3, 129], [2, 3, 5], [1, 1]]) {
            const D = shape[shape.length - 1];
            const { t, x } = randTensor(rng, shape, dtype, { dist: 'normal', scale: 2 });
            const w = randTensor(rng, [D], dtype, { dist: 'uniform', lo: 0.3, hi: 3 });
            for (const [useW, eps] of [[true, 1e-6], [false, 1e-6], [true, 0.1]] as const) {
              const y = rmsNorm(t, useW ? w.t : null, eps);
              expect(y.dtype).to.equal(dtype);
              const want = refRmsNorm(x, useW ? w.x : null, eps, (v) => roundTo(v, dtype)).map((v) => roundTo(v, dtype));
              assertClose(y, want, { ...tolFor(dtype, NORM_F32), msg: `rmsNorm ${dtype} [${shape}] w=${useW} eps=${eps}` });
            }
          }
        });
      });
    }

    for (const fmt of ['bfloat16', 'float16'] as const) {
      it(`${fmt}: the intermediate rounding is observable (exact match where HF and "round once" differ)`, () => {
        const rng = new Rng(fmt.length * 99);
        tidy(() => {
          const { t, x } = randTensor(rng, [600, 4], fmt, { dist: 'normal', scale: 1 });
          const w = randTensor(rng, [4], fmt, { dist: 'uniform', lo: 1.1, hi: 7 });
          const eps = 1e-6;
          const hf = refRmsNorm(x, w.x, eps, (v) => roundTo(v, fmt)).map((v) => roundTo(v, fmt));
          const once = refRmsNorm(x, w.x, eps, (v) => v).map((v) => roundTo(v, fmt));
          const unrounded = refRmsNorm(x, null, eps, (v) => v);
          const got = rmsNorm(t, w.t, eps).dataSync();
          let compared = 0;
          for (let i = 0; i < hf.size; i++) {
            if (hf.data[i] === once.data[i]) continue;
            // Skip elements whose intermediate or product is within 2% of an ulp of a tie.
            const n = unrounded.data[i];
            const p = roundTo(n, fmt) * w.x.data[i % 4];
            if (nearTie(n, fmt) || nearTie(p, fmt)) continue;
            compared++;
            expect(got[i], `element ${i}: x=${x.data[i]} w=${w.x.data[i % 4]}`).to.equal(hf.data[i]);
          }
          expect(compared, 'cases where the two semantics differ').to.be.greaterThan(20);
        });
      });
    }

    it('rejects bad weight shapes and integer input', () => {
      tidy(() => {
        expectError(() => rmsNorm(zeros([2, 4]), zeros([5])), ShapeError, ['rmsNorm', "'weight'"]);
        expectError(() => rmsNorm(zeros([2, 4], 'int8')), DTypeError, ['rmsNorm', "'x'"]);
        expectError(() => rmsNorm(zeros([2, 4]), null, '1e-6' as unknown as number), ArgumentError, ['rmsNorm', "'eps'"]);
      });
    });
  });

  describe('rope', () => {
    // [x shape, cos shape]
    const CASES: [number[], number[]][] = [
      [[2, 3, 5, 8], [5, 4]], // full rotation, cos broadcast over batch and heads
      [[2, 3, 5, 8], [2, 1, 5, 4]], // per-batch angles, broadcast over heads
      [[1, 2, 7, 8], [7, 2]], // partial rotation R = 4 < D = 8
      [[3, 7], [3, 3]], // rank 2, odd D with R = 6: the last feature passes through
      [[2, 1, 129, 6], [129, 3]],
      [[1, 1, 1, 2], [1, 1]],
      [[2, 4, 6], [1, 4, 2]], // R = 4 < D = 6, leading axis broadcast
    ];
    for (const interleaved of [false, true]) {
      for (const dtype of FLOAT_DTYPES) {
        it(`${interleaved ? 'interleaved' : 'rotate-half'} ${dtype}: full and partial rotation, broadcast cos/sin`, () => {
          const rng = new Rng(dtype.length + (interleaved ? 100 : 0));
          tidy(() => {
            for (const [xs, cs] of CASES) {
              for (const angleDType of ['float32', dtype] as DType[]) {
                const { t, x } = randTensor(rng, xs, dtype, { dist: 'normal', scale: 2 });
                const angles = Array.from({ length: cs.reduce((a, b) => a * b, 1) }, () => rng.uniform(-Math.PI, Math.PI));
                const cos = tensor(angles.map(Math.cos), cs, angleDType);
                const sin = tensor(angles.map(Math.sin), cs, angleDType);
                const y = rope(t, cos, sin, { interleaved });
                expect(y.dtype).to.equal(dtype);
                expect(y.shape).to.deep.equal(xs);
                const want = refRope(x, toND(cos), toND(sin), interleaved).map((v) => roundTo(v, dtype));
                assertClose(y, want, { ...tolFor(dtype, { atol: 1e-6, rtol: 1e-6 }), msg: `rope ${dtype} x[${xs}] cos[${cs}] ${angleDType}` });
              }
            }
          });
        });
      }
    }

    it('rotate-half matches the Hugging Face formula on a hand-checked example', () => {
      tidy(() => {
        // x = [1, 2, 3, 4], one position, angles θ0 = π/2, θ1 = 0:
        // rotate-half pairs (0, 2) and (1, 3): (1, 3) by 90° → (−3, 1); (2, 4) by 0 → (2, 4).
        const x = tensor([[1, 2, 3, 4]]);
        const cos = tensor([[0, 1]]);
        const sin = tensor([[1, 0]]);
        assertClose(rope(x, cos, sin), [-3, 2, 1, 4], { atol: 1e-7 });
        // Interleaved pairs (0, 1) and (2, 3): (1, 2) by 90° → (−2, 1); (3, 4) unchanged.
        assertClose(rope(x, cos, sin, { interleaved: true }), [-2, 1, 3, 4], { atol: 1e-7 });
      });
    });

    it('rejects mismatched cos/sin, too many rotated features, non-broadcastable angles, bad dtypes', () => {
      tidy(() => {
        const x = zeros([2, 5, 8]);
        expectError(() => rope(x, zeros([5, 4]), zeros([5, 3])), ShapeError, ['rope', "'cos'", "'sin'"]);
        expectError(() => rope(x, zeros([5, 5]), zeros([5, 5])), ShapeError, ['rope', "'cos'", '10 features']);
        expectError(() => rope(x, zeros([4, 4]), zeros([4, 4])), ShapeError, ['rope', "'cos'", 'broadcast']);
        expectError(() => rope(zeros([8]), zeros([1, 4]), zeros([1, 4])), ShapeError, ['rope', "'x'"]);
        expectError(() => rope(zeros([2, 5, 8], 'int32'), zeros([5, 4]), zeros([5, 4])), DTypeError, ['rope', "'x'"]);
        expectError(() => rope(x, zeros([5, 4], 'int32'), zeros([5, 4])), DTypeError, ['rope', "'cos'"]);
        expectError(() => rope(x, zeros([]), zeros([])), ShapeError, ['rope', "'cos'"]);
      });
    });
  });

  describe('gather / embedding', () => {
    const CASES: [number[], number, number[]][] = [
      [[7], 0, [4]],
      [[7], 0, []],
      [[5, 3], 0, [2, 3]],
      [[5, 3], 1, [4]],
      [[5, 3], -1, [1]],
      [[2, 129, 3], 1, [7]],
      [[2, 4, 3], -2, [2, 2]],
      [[3, 4], 0, [0]],
    ];
    for (const dtype of ALL_DTYPES) {
      it(`${dtype} data, int32/int8/uint8 indices of rank 0–2 along every axis`, () => {
        const rng = new Rng(dtype.length * 11);
        tidy(() => {
          for (const [xs, axis, is] of CASES) {
            const { t, x } = randTensor(rng, xs, dtype);
            const len = xs[axis < 0 ? axis + xs.length : axis];
            for (const idt of ['int32', 'int8', 'uint8'] as const) {
              const idx = randTensor(rng, is, idt, { dist: 'int', lo: 0, hi: len - 1 });
              const y = gather(t, idx.t, axis);
              expect(y.dtype).to.equal(dtype);
              assertEqualValues(y, refGather(x, idx.x, axis), `gather ${dtype} [${xs}] axis ${axis} ${idt}[${is}]`);
            }
          }
        });
      });
    }

    it('copies 16-bit patterns exactly (NaN payloads, −0, subnormals)', () => {
      tidy(() => {
        const bits = new Uint16Array([0x7e01, 0x8000, 0x0001, 0xfc00]);
        const x = fromStorage(bits, [4], 'float16');
        const y = gather(x, tensor([3, 2, 1, 0], [4], 'int32'));
        assertEqualValues(y, [-Infinity, 2 ** -24, -0, NaN]);
        expect(Object.is(y.dataSync()[2], -0)).to.equal(true);
        // The NaN keeps its payload: casting back to float16 storage shows the same bits.
        expect(ENGINE.readRawSync(y)[3]).to.equal(0x7e01);
      });
    });

    it('embedding looks up rows of a table', () => {
      const rng = new Rng(12);
      tidy(() => {
        for (const dtype of FLOAT_DTYPES) {
          const table = randTensor(rng, [11, 7], dtype);
          const ids = randTensor(rng, [2, 3], 'int32', { dist: 'int', lo: 0, hi: 10 });
          const y = embedding(table.t, ids.t);
          expect(y.shape).to.deep.equal([2, 3, 7]);
          assertEqualValues(y, refGather(table.x, ids.x, 0), `embedding ${dtype}`);
        }
      });
    });

    it('out-of-range and negative indices throw ArgumentError naming the op, index and axis size', () => {
      tidy(() => {
        const x = zeros([5, 3]);
        expectError(() => gather(x, tensor([0, 5], [2], 'int32')), ArgumentError, ['gather', 'index 5', 'size 5']);
        expectError(() => gather(x, tensor([-1], [1], 'int32'), 0), ArgumentError, ['gather', 'index -1']);
        expectError(() => gather(x, tensor([3], [1], 'int32'), 1), ArgumentError, ['gather', 'index 3', 'size 3']);
        expectError(() => embedding(x, tensor([7], [1], 'int32')), ArgumentError, ['embedding', 'index 7']);
      });
    });

    it('rejects float indices, bad axes, a rank-0 source and a non-matrix table', () => {
      tidy(() => {
        const x = zeros([5, 3]);
        expectError(() => gather(x, tensor([0.5])), DTypeError, ['gather', "'indices'", 'float32']);
        expectError(() => gather(x, tensor([0], [1], 'int32'), 2), ShapeError, ['gather', "'axis'"]);
        expectError(() => gather(x, tensor([0], [1], 'int32'), 1.5), ArgumentError, ['gather', "'axis'"]);
        expectError(() => gather(zeros([]), tensor([0], [1], 'int32')), ShapeError, ['gather', "'x'"]);
        expectError(() => embedding(zeros([5]), tensor([0], [1], 'int32')), ShapeError, ['embedding', "'table'"]);
      });
    });
  });

  describe('triu / tril', () => {
    const SHAPES = [[5, 5], [3, 7], [7, 3], [2, 3, 4, 5], [1, 1], [0, 3], [2, 0, 0]];
    const KS = [-10, -3, -1, 0, 1, 2, 10];
    for (const dtype of ['float32', 'float16', 'int32', 'bool'] as const) {
      it(`${dtype}: square, wide, tall, batched, empty; offsets ${KS.join(' ')}`, () => {
        const rng = new Rng(dtype.length * 21);
        tidy(() => {
          for (const shape of SHAPES) {
            const { t, x } = randTensor(rng, shape, dtype);
            for (const k of KS) {
              assertEqualValues(triu(t, k), refTriangle(x, k, true), `triu ${dtype} [${shape}] k=${k}`);
              assertEqualValues(tril(t, k), refTriangle(x, k, false), `tril ${dtype} [${shape}] k=${k}`);
            }
            assertEqualValues(triu(t), refTriangle(x, 0, true));
            assertEqualValues(tril(t), refTriangle(x, 0, false));
          }
        });
      });
    }

    it('tril(ones) is the causal keep-mask', () => {
      tidy(() => {
        assertEqualValues(tril(tensor([[1, 1, 1], [1, 1, 1]])), [1, 0, 0, 1, 1, 0]);
        assertEqualValues(triu(tensor([[1, 1, 1], [1, 1, 1]]), 1), [0, 1, 1, 0, 0, 1]);
      });
    });

    it('rejects rank < 2 and non-integer k', () => {
      tidy(() => {
        expectError(() => triu(zeros([3])), ShapeError, ['triu', "'x'", 'rank']);
        expectError(() => tril(zeros([3, 3]), 0.5), ArgumentError, ['tril', "'k'"]);
      });
    });
  });

  describe('topk', () => {
    for (const dtype of ['float32', 'float16', 'bfloat16', 'int32', 'int8', 'uint8'] as const) {
      it(`${dtype}: largest and smallest, ties → lower index first, sorted`, () => {
        const rng = new Rng(dtype.length * 31);
        tidy(() => {
          for (const shape of [[129], [3, 129], [2, 3, 7], [4, 1], [5]]) {
            const n = shape[shape.length - 1];
            const { t, x } = randTensor(rng, shape, dtype, { dist: 'int', lo: 0, hi: 5 });
            for (const k of [...new Set([0, 1, Math.min(5, n), n])]) {
              for (const largest of [true, false]) {
                const { values, indices } = topk(t, k, { largest });
                const want = refTopk(x, k, largest);
                expect(values.dtype).to.equal(dtype);
                expect(indices.dtype).to.equal('int32');
                assertEqualValues(values, want.values, `topk values ${dtype} [${shape}] k=${k} largest=${largest}`);
                assertEqualValues(indices, want.indices, `topk indices ${dtype} [${shape}] k=${k} largest=${largest}`);
              }
            }
          }
        });
      });
    }

    it('NaN ranks as the largest value (PyTorch), infinities in order', () => {
      tidy(() => {
        const x = tensor([1, NaN, Infinity, -Infinity, 3, NaN]);
        for (const largest of [true, false]) {
          const { values, indices } = topk(x, 6, { largest });
          const want = refTopk(toND(x), 6, largest);
          assertEqualValues(values, want.values, `largest=${largest}`);
          assertEqualValues(indices, want.indices, `largest=${largest}`);
        }
        assertEqualValues(topk(x, 2).indices, [1, 5]);
      });
    });

    it('rejects k out of range, rank 0 and bool', () => {
      tidy(() => {
        expectError(() => topk(zeros([2, 5]), 6), ArgumentError, ['topk', "'k'", '6']);
        expectError(() => topk(zeros([2, 5]), -1), ArgumentError, ['topk', "'k'"]);
        expectError(() => topk(zeros([2, 5]), 1.5), ArgumentError, ['topk', "'k'"]);
        expectError(() => topk(zeros([]), 1), ShapeError, ['topk', "'x'"]);
        expectError(() => topk(zeros([3], 'bool'), 1), DTypeError, ['topk', "'x'", 'bool']);
      });
    });
  });

  describe('writeSlice', () => {
    for (const dtype of ALL_DTYPES) {
      it(`${dtype}: writes in place at an offset, returns dst, views see it, no allocation`, () => {
        const rng = new Rng(dtype.length * 41);
        tidy(() => {
          for (const [ds, ss, begin] of [
            [[4, 6, 5], [2, 3, 5], [1, 2, 0]],
            [[4, 6, 5], [1, 1, 1], [3, 5, 4]],
            [[7], [3], [4]],
            [[7], [0], [7]],
            [[3, 129], [3, 2], [0, 127]],
            [[], [], []],
          ] as [number[], number[], number[]][]) {
            const dst = randTensor(rng, ds, dtype);
            const src = randTensor(rng, ss, dtype);
            const view = reshape(dst.t, [-1]);
            const before = memory().numBytes;
            const r = writeSlice(dst.t, src.t, begin);
            expect(memory().numBytes).to.equal(before);
            expect(r).to.equal(dst.t);
            const want = refWriteSlice(dst.x, src.x, begin);
            assertEqualValues(dst.t, want, `writeSlice ${dtype} [${ds}] ← [${ss}] at [${begin}]`);
            assertEqualValues(view, want.data, 'view sees the write');
          }
        });
      });
    }

    it('rejects dtype mismatch, rank mismatch, out-of-bounds and bad offsets', () => {
      tidy(() => {
        const dst = zeros([4, 6]);
        expectError(() => writeSlice(dst, zeros([2, 2], 'float16'), [0, 0]), DTypeError, ['writeSlice', "'src'", 'float16']);
        expectError(() => writeSlice(dst, zeros([2]), [0]), ShapeError, ['writeSlice', 'rank']);
        expectError(() => writeSlice(dst, zeros([2, 2]), [0]), ShapeError, ['writeSlice', "'begin'"]);
        expectError(() => writeSlice(dst, zeros([2, 2]), [3, 0]), ShapeError, ['writeSlice', 'does not fit', 'axis 0']);
        expectError(() => writeSlice(dst, zeros([2, 7]), [0, 0]), ShapeError, ['writeSlice', 'axis 1']);
        expectError(() => writeSlice(dst, zeros([2, 2]), [-1, 0]), ArgumentError, ['writeSlice', "'begin[0]'"]);
        expectError(() => writeSlice(dst, zeros([2, 2]), [0, 1.5]), ArgumentError, ['writeSlice', "'begin[1]'"]);
      });
    });
  });
});

/** True when `v` is within 2% of an ulp of a rounding tie of the format. */
function nearTie(v: number, fmt: HalfFormat): boolean {
  const ulp = halfUlp(v, fmt);
  const frac = Math.abs(v) / ulp - Math.floor(Math.abs(v) / ulp);
  return Math.abs(frac - 0.5) < 0.02;
}
