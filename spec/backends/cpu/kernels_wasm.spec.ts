/**
 * The WebAssembly elementwise, row and copy kernels against the TypeScript reference kernels
 * (setCpuKernels('js')) on odd sizes and every float dtype, plus: the fused ops against their
 * unfused forms (bit-identical, which is their contract), and 1 thread against 2 (bit-identical,
 * on sizes large enough to take the parallel path). The float64 contracts of the ops themselves
 * are in spec/ops (which run on these kernels by default).
 */

import { expect } from 'chai';
import * as ft from '../../../index.js';
import { Random } from '../../../lib/random.js';
import type { Tensor } from '../../../lib/tensor.js';

const rng = new Random(4321);
const FLOATS: ft.DType[] = ['float32', 'float16', 'bfloat16'];

function rand(shape: number[], dtype: ft.DType, scale = 2, offset = 0): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = offset + (rng.nextUint32() / 2 ** 32 - 0.5) * 2 * scale;
  return ft.tensor(v, shape, dtype);
}

/** Runs fn with the given kernels and returns its outputs' values (tensors disposed). */
function run(mode: 'js' | 'wasm', fn: () => Tensor | Tensor[]): Float32Array[] {
  ft.setCpuKernels(mode);
  const values: Float32Array[] = [];
  try {
    ft.tidy(() => {
      const out = fn();
      for (const t of Array.isArray(out) ? out : [out]) values.push(Float32Array.from(t.dataSync() as ArrayLike<number>));
    });
    return values;
  } finally {
    ft.setCpuKernels('wasm');
  }
}

/**
 * Largest difference in units of the dtype's spacing at the reference value, or at `floor` when
 * that is larger (for results that cancel, such as rope's a·cos − b·sin, whose error scales
 * with the terms rather than the result).
 */
function maxUlps(a: Float32Array, b: Float32Array, dtype: ft.DType, floor = 0): number {
  const bits = dtype === 'float32' ? 23 : dtype === 'float16' ? 10 : 7;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    if (a[i] === b[i]) continue;
    const scale = Math.max(Math.abs(b[i]), floor, dtype === 'float16' ? 2 ** -14 : 2 ** -126);
    const ulp = 2 ** (Math.floor(Math.log2(scale)) - bits);
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / ulp);
  }
  return worst;
}

function expectClose(fn: () => Tensor | Tensor[], dtype: ft.DType, ulps: number, what: string, floor = 0): void {
  const w = run('wasm', fn);
  const r = run('js', fn);
  expect(ft.cpuStats().wasm).to.not.deep.equal({}, 'no wasm kernel ran');
  w.forEach((v, i) => expect(maxUlps(v, r[i], dtype, floor), `${what} output ${i}`).to.be.at.most(ulps));
}

function expectSameBits(fn: () => Tensor | Tensor[], what: string): void {
  const one = (() => {
    ft.setNumThreads(1);
    try {
      return run('wasm', fn);
    } finally {
      ft.setNumThreads(2);
    }
  })();
  const two = run('wasm', fn);
  one.forEach((v, i) => expect(Buffer.from(two[i].buffer).equals(Buffer.from(v.buffer)), `${what} output ${i}`).to.equal(true));
}

describe('cpu WebAssembly elementwise, row and copy kernels', () => {
  const SIZES = [1, 3, 7, 8, 33, 1031];
  before(() => ft.setNumThreads(2));

  for (const dtype of FLOATS) {
    describe(dtype, () => {
      it('add, sub, mul, div: same shape, row broadcast, scalar, swapped broadcast (exact: one rounding)', () => {
        for (const n of SIZES) {
          const a = rand([3, n], dtype), b = rand([3, n], dtype), row = rand([n], dtype, 2, 3), s = rand([], dtype, 1, 2);
          for (const op of [ft.add, ft.sub, ft.mul, ft.div]) {
            expectClose(() => [op(a, b), op(a, row), op(row, a), op(a, s), op(s, a), op(a, 0.5)], dtype, 0, `${op.name} n=${n}`);
          }
          ft.dispose([a, b, row, s]);
        }
      });

      it('silu, gelu, sigmoid, exp (≤ 4 ulp of float32, ≤ 1 ulp of 16-bit), relu, neg (exact)', () => {
        for (const n of SIZES) {
          const x = rand([n], dtype, 9);
          const tol = dtype === 'float32' ? 4 : 1;
          expectClose(() => [ft.silu(x), ft.gelu(x), ft.sigmoid(x), ft.exp(x)], dtype, tol, `transcendental n=${n}`);
          expectClose(() => [ft.relu(x), ft.neg(x)], dtype, 0, `relu/neg n=${n}`);
          x.dispose();
        }
      });

      it('casts to every float dtype are exact', () => {
        const x = rand([1031], dtype, 70000);
        for (const to of FLOATS) expectClose(() => ft.cast(x, to), to, 0, `cast to ${to}`);
        x.dispose();
      });

      // Softmax in float32 rounds x − max (the reference subtracts in float64): eˣ then carries
      // |x − max|·2⁻²⁴ relative error, up to ~12 ulp for the spread of 12 used here — as PyTorch's float32 softmax.
      it('rmsNorm, layerNorm (with and without parameters) (≤ 4 ulp: float32 sums vs float64 in the reference) and softmax (≤ 16 ulp)', () => {
        for (const D of [1, 5, 8, 67, 768]) {
          const x = rand([3, D], dtype, 3, 0.5), w = rand([D], dtype, 1, 1), b = rand([D], dtype, 1);
          const tol = dtype === 'float32' ? 4 : 1;
          expectClose(() => [ft.rmsNorm(x, w, 1e-5), ft.rmsNorm(x, null, 1e-5), ft.layerNorm(x, w, b), ft.layerNorm(x)], dtype, tol, `norms D=${D}`, 1);
          expectClose(() => ft.softmax(ft.mul(x, 2)), dtype, dtype === 'float32' ? 16 : 1, `softmax D=${D}`);
          ft.dispose([x, w, b]);
        }
      });

      it('rope: rotate-half and interleaved, cos/sin broadcast over batch and heads, partial rotation', () => {
        for (const [B, H, T, D, half, cb] of [[2, 3, 5, 8, 4, 2], [1, 2, 1, 64, 32, 1], [2, 2, 3, 10, 3, 1]]) {
          const x = rand([B, H, T, D], dtype), c = rand([cb, 1, T, half], dtype, 1), s = rand([cb, 1, T, half], dtype, 1);
          const tol = dtype === 'float32' ? 2 : 1;
          expectClose(() => [ft.rope(x, c, s), ft.rope(x, c, s, { interleaved: true })], dtype, tol, `rope ${[B, H, T, D, half]}`, 1);
          ft.dispose([x, c, s]);
        }
      });

      it('transpose of the head layout, slice, writeSlice, concat (bit-exact)', () => {
        const x = rand([2, 7, 3, 5], dtype);
        expectClose(() => [ft.transpose(x, [0, 2, 1, 3]), ft.transpose(x, [2, 0, 1, 3]), ft.transpose(x, [1, 0, 3, 2])], dtype, 0, 'transpose');
        expectClose(() => [ft.slice(x, [0, 2, 1, 0], [2, 4, 2, 5]), ft.slice(x, [1, 0, 0, 0], [1, 7, 3, 5])], dtype, 0, 'slice');
        expectClose(() => [ft.concat([x, x], 1), ft.concat([x, ft.slice(x, [0, 0, 0, 0], [2, 7, 3, 2])], 3)], dtype, 0, 'concat');
        expectClose(() => {
          const cache = ft.zeros([2, 3, 9, 5], dtype);
          ft.writeSlice(cache, ft.transpose(x, [0, 2, 1, 3]), [0, 0, 1, 0]);
          return cache;
        }, dtype, 0, 'writeSlice');
        x.dispose();
      });

      it('swiglu and addRmsNorm equal their unfused forms bit for bit', () => {
        const g = rand([3, 37], dtype, 6), u = rand([3, 37], dtype), gu = ft.concat([g, u], 1);
        const h = rand([3, 37], dtype), w = rand([37], dtype, 1, 1);
        for (const mode of ['wasm', 'js'] as const) {
          const [a, b] = run(mode, () => [ft.swiglu(g, u), ft.mul(ft.silu(g), u)]);
          expect(maxUlps(a, b, dtype), `swiglu ${mode}`).to.equal(0);
          const [c] = run(mode, () => ft.swiglu(gu));
          expect(maxUlps(c, b, dtype), `fused gate|up ${mode}`).to.equal(0);
          const [s1, n1, s2, n2] = run(mode, () => {
            const s = ft.add(g, h);
            return [...ft.addRmsNorm(g, h, w, 1e-5), s, ft.rmsNorm(s, w, 1e-5)];
          });
          expect(maxUlps(s1, s2, dtype), `addRmsNorm sum ${mode}`).to.equal(0);
          expect(maxUlps(n1, n2, dtype), `addRmsNorm norm ${mode}`).to.equal(0);
        }
        ft.dispose([g, u, gu, h, w]);
      });
    });
  }

  it('1 and 2 threads give bit-identical results on the parallel paths', () => {
    for (const dtype of FLOATS) {
      const x = rand([129, 1027], dtype, 5), y = rand([129, 1027], dtype), row = rand([1027], dtype, 1, 1);
      expectSameBits(() => [ft.add(x, y), ft.mul(x, row), ft.silu(x), ft.gelu(x), ft.cast(x, 'float32'), ft.swiglu(x, y)], `elementwise ${dtype}`);
      expectSameBits(() => [ft.rmsNorm(x, row), ft.layerNorm(x, row, row), ft.softmax(x), ...ft.addRmsNorm(x, y, row)], `rows ${dtype}`);
      const q = rand([1, 257, 12, 64], dtype), c = rand([1, 1, 257, 32], dtype, 1);
      expectSameBits(() => [ft.transpose(q, [0, 2, 1, 3]), ft.rope(ft.transpose(q, [0, 2, 1, 3]), c, c)], `layout ${dtype}`);
      ft.dispose([x, y, row, q, c]);
    }
  });
});
