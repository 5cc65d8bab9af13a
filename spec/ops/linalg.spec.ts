/** matmul and linear against the naive float64 reference. */

import { expect } from 'chai';
import { DTypeError, linear, matmul, ShapeError, tensor, tidy, zeros, type DType } from '../../index.js';
import { assertClose, assertEqualValues, expectError, type CloseOptions } from '../helpers/assert.js';
import { binary, matmul as refMatmul, ND, roundTo } from '../helpers/reference.js';
import { Rng } from '../helpers/rng.js';
import { checkLeaks, randTensor } from '../helpers/tensors.js';

/**
 * Tolerance for a product accumulated in float32 or better, then rounded once: the recursive
 * summation bound K·2⁻²⁴·Σ|a||b| per element, plus one rounding of the result (1 ulp for 16-bit).
 */
function matmulTol(a: ND, b: ND, ta: boolean, tb: boolean, dtype: DType): CloseOptions {
  if (dtype === 'int32') return { atol: 0 };
  const K = a.rank === 1 ? a.shape[0] : a.shape[ta ? a.rank - 2 : a.rank - 1];
  const bound = refMatmul(a.map(Math.abs), b.map(Math.abs), ta, tb).data.map((s) => K * 2 ** -24 * s);
  if (dtype === 'float16' || dtype === 'bfloat16') return { ulps: 1, ulpFormat: dtype, atolEach: bound };
  return { rtol: 2 ** -24, atolEach: bound };
}

describe('ops/linalg', () => {
  checkLeaks();

  describe('matmul', () => {
    const MKN: [number, number, number][] = [
      [1, 1, 1], [1, 7, 1], [7, 1, 7], [1, 1, 129], [129, 1, 1], [7, 7, 7], [1, 33, 7], [7, 33, 1],
      [33, 7, 33], [129, 7, 1], [1, 129, 7], [7, 1, 129], [7, 129, 7], [129, 129, 3], [3, 5, 129],
    ];

    for (const dtype of ['float32', 'float16', 'bfloat16', 'int32'] as const) {
      it(`2-d ${dtype}: ${MKN.length} (M, K, N) combinations from 1/7/33/129, all four transpose combinations`, () => {
        const rng = new Rng(dtype.length * 13);
        const dist = dtype === 'int32' ? { dist: 'int' as const, lo: -50, hi: 50 } : undefined;
        tidy(() => {
          for (const [M, K, N] of MKN) {
            for (const ta of [false, true]) {
              for (const tb of [false, true]) {
                const a = randTensor(rng, ta ? [K, M] : [M, K], dtype, dist);
                const b = randTensor(rng, tb ? [N, K] : [K, N], dtype, dist);
                const y = matmul(a.t, b.t, { transposeA: ta, transposeB: tb });
                expect(y.dtype).to.equal(dtype);
                const want = refMatmul(a.x, b.x, ta, tb).map((v) => roundTo(v, dtype));
                assertClose(y, want, { ...matmulTol(a.x, b.x, ta, tb, dtype), msg: `${dtype} M=${M} K=${K} N=${N} ta=${ta} tb=${tb}` });
              }
            }
          }
        });
      });
    }

    it('batched with broadcast batch dims and transposes', () => {
      const cases: [number[], number[], boolean, boolean][] = [
        [[2, 3, 7, 5], [5, 4], false, false],
        [[7, 5], [2, 3, 5, 4], false, false],
        [[2, 1, 7, 5], [1, 3, 5, 4], false, false],
        [[3, 5, 7], [2, 1, 4, 5], true, true],
        [[1, 7, 5], [4, 5, 2], false, false],
        [[4, 1, 3], [4, 1, 6], true, false],
        [[2, 2, 1, 9], [2, 1, 9], false, true],
        [[3, 0, 5], [5, 2], false, false],
        [[2, 3, 0], [2, 0, 4], false, false],
      ];
      const rng = new Rng(3);
      tidy(() => {
        for (const dtype of ['float32', 'float16', 'bfloat16', 'int32'] as const) {
          for (const [sa, sb, ta, tb] of cases) {
            const dist = dtype === 'int32' ? { dist: 'int' as const, lo: -50, hi: 50 } : undefined;
            const a = randTensor(rng, sa, dtype, dist);
            const b = randTensor(rng, sb, dtype, dist);
            const y = matmul(a.t, b.t, { transposeA: ta, transposeB: tb });
            const want = refMatmul(a.x, b.x, ta, tb).map((v) => roundTo(v, dtype));
            assertClose(y, want, { ...matmulTol(a.x, b.x, ta, tb, dtype), msg: `${dtype} [${sa}]${ta ? 'ᵀ' : ''} @ [${sb}]${tb ? 'ᵀ' : ''}` });
          }
        }
      });
    });

    it('rank-1 operands: vector·vector → scalar, vector·matrix, matrix·vector, with batch dims (torch.matmul semantics)', () => {
      const cases: [number[], number[]][] = [
        [[5], [5]],
        [[1], [1]],
        [[5], [5, 3]],
        [[7], [2, 7, 3]],
        [[2, 3, 5], [5]],
        [[4, 129], [129]],
        [[129], [129, 1]],
      ];
      const rng = new Rng(4);
      tidy(() => {
        for (const [sa, sb] of cases) {
          const a = randTensor(rng, sa);
          const b = randTensor(rng, sb);
          const y = matmul(a.t, b.t);
          const want = refMatmul(a.x, b.x).map(Math.fround);
          assertClose(y, want, { ...matmulTol(a.x, b.x, false, false, 'float32'), msg: `[${sa}] @ [${sb}]` });
        }
      });
    });

    it('a transpose flag on a rank-1 operand is ignored (a vector is its own transpose)', () => {
      const rng = new Rng(5);
      tidy(() => {
        const v = randTensor(rng, [5]);
        const m = randTensor(rng, [5, 3]);
        const mt = randTensor(rng, [3, 5]);
        for (const [a, b, ta, tb, want] of [
          [v, m, true, false, refMatmul(v.x, m.x)],
          [v, mt, true, true, refMatmul(v.x, mt.x, false, true)],
          [mt, v, false, true, refMatmul(mt.x, v.x)],
          [m, v, true, true, refMatmul(m.x, v.x, true)],
          [v, v, true, true, refMatmul(v.x, v.x)],
        ] as const) {
          const y = matmul(a.t, b.t, { transposeA: ta, transposeB: tb });
          assertClose(y, want.map(Math.fround), { rtol: 1e-6, atol: 1e-6, msg: `[${a.t.shape}] ta=${ta} @ [${b.t.shape}] tb=${tb}` });
        }
      });
    });

    it('mixed dtypes promote: int32 @ float32 → float32, float16 @ float32 → float32, float16 @ bfloat16 → float32', () => {
      const rng = new Rng(6);
      tidy(() => {
        for (const [da, db] of [['int32', 'float32'], ['float16', 'float32'], ['float16', 'bfloat16'], ['int32', 'float16']] as const) {
          const a = randTensor(rng, [3, 4], da, da === 'int32' ? { dist: 'int', lo: -9, hi: 9 } : undefined);
          const b = randTensor(rng, [4, 2], db);
          const y = matmul(a.t, b.t);
          const out = da === 'int32' && db === 'float16' ? 'float16' : 'float32';
          expect(y.dtype, `${da} @ ${db}`).to.equal(out);
          assertClose(y, refMatmul(a.x, b.x).map((v) => roundTo(v, out)), { ...matmulTol(a.x, b.x, false, false, out), msg: `${da} @ ${db}` });
        }
      });
    });

    it('K = 0 gives zeros', () => {
      tidy(() => {
        const y = matmul(zeros([3, 0]), zeros([0, 2]));
        expect(y.shape).to.deep.equal([3, 2]);
        assertEqualValues(y, new Array(6).fill(0));
      });
    });

    it('int32 products are exact and wrap', () => {
      tidy(() => {
        const a = tensor([[65536, 3]], [1, 2], 'int32');
        const b = tensor([[65536], [5]], [2, 1], 'int32');
        // 2^32 + 15 wraps to 15.
        assertEqualValues(matmul(a, b), [15]);
      });
    });

    it('rejects mismatched inner dimensions, unbroadcastable batches, rank 0 and bad dtypes', () => {
      tidy(() => {
        const a = zeros([2, 3]);
        expectError(() => matmul(a, zeros([4, 2])), ShapeError, ['matmul', 'inner dimensions', "'a' [2,3]", "'b' [4,2]"]);
        expectError(() => matmul(a, zeros([2, 3]), { transposeB: false }), ShapeError, ['matmul', 'inner']);
        expectError(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 4])), ShapeError, ['matmul', 'batch']);
        expectError(() => matmul(zeros([]), a), ShapeError, ['matmul', 'rank']);
        expectError(() => matmul(a, zeros([3], 'bool')), DTypeError, ['matmul', "'b'", 'bool']);
        expectError(() => matmul(zeros([2, 3], 'int8'), a), DTypeError, ['matmul', "'a'", 'int8']);
      });
    });
  });

  describe('linear', () => {
    it('x · weightᵀ + bias on odd shapes and dtypes', () => {
      const rng = new Rng(7);
      tidy(() => {
        for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
          for (const [xs, out] of [[[2, 3, 5], 4], [[7], 1], [[1, 129], 7]] as [number[], number][]) {
            const inF = xs[xs.length - 1];
            const x = randTensor(rng, xs, dtype);
            const w = randTensor(rng, [out, inF], dtype);
            const b = randTensor(rng, [out], dtype);
            const y = linear(x.t, w.t, b.t);
            // matmul rounds to the dtype, then the bias add rounds again.
            const xw = refMatmul(x.x, w.x, false, true).map((v) => roundTo(v, dtype));
            const want = binary(xw, b.x, (p, q) => roundTo(p + q, dtype));
            const tol = matmulTol(x.x, w.x, false, true, dtype);
            assertClose(y, want, { ...tol, ulps: tol.ulps ? 2 : undefined, msg: `linear ${dtype} [${xs}] → ${out}` });
            const noBias = linear(x.t, w.t);
            assertClose(noBias, xw, { ...tol, msg: `linear ${dtype} no bias` });
          }
        }
      });
    });

    it('rejects wrong weight rank, feature mismatch and bad bias', () => {
      tidy(() => {
        const x = zeros([2, 5]);
        expectError(() => linear(x, zeros([5])), ShapeError, ['linear', "'weight'"]);
        expectError(() => linear(x, zeros([3, 4])), ShapeError, ['linear', "'x'", '5 features']);
        expectError(() => linear(x, zeros([3, 5]), zeros([4])), ShapeError, ['linear', "'bias'"]);
      });
    });
  });
});


