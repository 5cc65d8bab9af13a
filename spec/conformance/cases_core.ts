/** Conformance cases: elementwise, where, cast, matmul, reductions and softmax. */

import type { DType } from '../../lib/dtype.js';
import { BINARY_KERNELS, UNARY_KERNELS } from '../../lib/kernel_names.js';
import type { Tensor } from '../../lib/tensor.js';
import * as ft from '../../ops/index.js';
import type { Gen, OpCase, Tol } from './harness.js';

const FLOATS: DType[] = ['float32', 'float16', 'bfloat16'];

const UNARY_OPS: Record<string, (x: Tensor) => Tensor> = {
  Neg: ft.neg, Abs: ft.abs, Exp: ft.exp, Log: ft.log, Sqrt: ft.sqrt, Rsqrt: ft.rsqrt, Tanh: ft.tanh,
  Sigmoid: ft.sigmoid, Silu: ft.silu, Relu: ft.relu, Gelu: (x) => ft.gelu(x), GeluTanh: (x) => ft.gelu(x, { approximate: 'tanh' }),
};
const POSITIVE = new Set(['Log', 'Sqrt', 'Rsqrt']);
/** Transcendentals: WGSL's exp/log/tanh are a few ulp, not correctly rounded. */
const LOOSE: Tol = { atol: 2e-6, rtol: 2e-5 };

const BINARY_OPS: Record<string, (a: Tensor, b: Tensor) => Tensor> = {
  Add: ft.add, Sub: ft.sub, Mul: ft.mul, Div: ft.div, Pow: ft.pow, Maximum: ft.maximum, Minimum: ft.minimum,
  Equal: ft.equal, NotEqual: ft.notEqual, Less: ft.less, LessEqual: ft.lessEqual, Greater: ft.greater,
  GreaterEqual: ft.greaterEqual, LogicalAnd: ft.logicalAnd, LogicalOr: ft.logicalOr,
};

function unaryCases(): OpCase[] {
  const out: OpCase[] = [];
  for (const k of UNARY_KERNELS) {
    if (k === 'Cast' || k === 'LogicalNot') continue;
    for (const dtype of FLOATS) {
      for (const shape of [[5, 7], [1031]]) {
        const gen: Gen = POSITIVE.has(k) ? 'positive' : k === 'Exp' || k === 'Tanh' ? 'signed' : 'normal';
        out.push({ name: `${k} ${dtype} [${shape}]`, kernels: [k], inputs: [{ shape, dtype, gen }], run: ([x]) => UNARY_OPS[k](x), tol: { float32: LOOSE } });
      }
    }
  }
  for (const dtype of ['int32', 'int8'] as DType[]) {
    out.push({ name: `Neg ${dtype}`, kernels: ['Neg'], inputs: [{ shape: [9, 5], dtype }], run: ([x]) => ft.neg(x) });
    out.push({ name: `Abs ${dtype}`, kernels: ['Abs'], inputs: [{ shape: [9, 5], dtype }], run: ([x]) => ft.abs(x) });
  }
  out.push({ name: 'LogicalNot bool [13]', kernels: ['LogicalNot'], inputs: [{ shape: [13], dtype: 'bool' }], run: ([x]) => ft.logicalNot(x) });
  out.push({
    name: 'unary specials (inf, nan, 0, ±large)', kernels: ['Exp', 'Log', 'Sqrt', 'Tanh', 'Sigmoid', 'Relu'],
    inputs: [{ shape: [10], dtype: 'float32', gen: { values: [0, -0, Infinity, -Infinity, NaN, 100, -100, 1e-30, -5, 40] } }],
    run: ([x]) => [ft.exp(x), ft.log(x), ft.sqrt(x), ft.tanh(x), ft.sigmoid(x), ft.relu(x)],
    tol: { float32: LOOSE },
  });
  // Casts between every pair of dtypes (values chosen to exercise rounding, wrapping and truncation).
  const all: DType[] = ['float32', 'float16', 'bfloat16', 'int32', 'int8', 'uint8', 'bool'];
  for (const from of all) {
    for (const to of all) {
      const gen: Gen = from === 'bool' ? 'bool' : { values: [0, 1.5, -2.5, 3.25, 127, 200, -129, 65504, 70000, 1e-5, 0.1, -7] };
      out.push({ name: `Cast ${from}→${to}`, kernels: ['Cast'], inputs: [{ shape: [15], dtype: from, gen }], run: ([x]) => ft.cast(x, to) });
    }
  }
  return out;
}

function binaryCases(): OpCase[] {
  const out: OpCase[] = [];
  const shapes: [number[], number[]][] = [
    [[4, 6], [4, 6]],
    [[3, 1, 5], [4, 1]],
    [[2, 3, 4, 5], [5]],
    [[7], []],
    [[1, 9], [3, 1]],
  ];
  for (const k of BINARY_KERNELS) {
    const logical = k.startsWith('Logical');
    const dtypes: DType[] = logical ? ['bool'] : ['float32', 'float16', 'bfloat16', 'int32'];
    for (const dtype of dtypes) {
      for (const [sa, sb] of shapes) {
        if (k === 'Pow' && dtype === 'int32') continue;
        const ga: Gen = k === 'Pow' ? { values: [0.5, 1.5, 2, 3, -2, -1.5, 0, 4] } : dtype === 'bool' ? 'bool' : 'signed';
        const gb: Gen = k === 'Pow' ? { values: [2, 0.5, -1, 3, 0, 1.5, -2] } : k === 'Div' ? 'positive' : dtype === 'bool' ? 'bool' : 'signed';
        out.push({
          name: `${k} ${dtype} [${sa}]·[${sb}]`, kernels: [k],
          inputs: [{ shape: sa, dtype, gen: dtype === 'int32' ? 'int' : ga }, { shape: sb, dtype, gen: dtype === 'int32' ? (k === 'Div' ? { index: 9 } : 'int') : gb }],
          run: ([a, b]) => (k === 'Div' && dtype === 'int32' ? BINARY_OPS[k](a, ft.add(b, 1)) : BINARY_OPS[k](a, b)),
          tol: k === 'Pow' || k === 'Div' ? { float32: { atol: 1e-5, rtol: 5e-5 } } : undefined,
        });
      }
    }
  }
  // Mixed dtypes (promotion), scalars, int pow, NaN handling of maximum/minimum, int8 wrap-around.
  out.push({ name: 'Add f16 + f32 → f32', kernels: ['Add'], inputs: [{ shape: [6, 3], dtype: 'float16' }, { shape: [3], dtype: 'float32' }], run: ([a, b]) => ft.add(a, b) });
  out.push({ name: 'Mul f16 · 0.1 (scalar)', kernels: ['Mul'], inputs: [{ shape: [33], dtype: 'float16' }], run: ([a]) => ft.mul(a, 0.1) });
  out.push({ name: 'Sub int32 - 3', kernels: ['Sub'], inputs: [{ shape: [8], dtype: 'int32' }], run: ([a]) => ft.sub(a, 3) });
  out.push({ name: 'Pow int32', kernels: ['Pow'], inputs: [{ shape: [12], dtype: 'int32', gen: { values: [2, -3, 0, 1, -1, 5] } }, { shape: [12], dtype: 'int32', gen: { values: [3, 2, 0, -1, 5, 2, 1] } }], run: ([a, b]) => ft.pow(a, b) });
  out.push({ name: 'Add int8 wraps', kernels: ['Add'], inputs: [{ shape: [6], dtype: 'int8', gen: { values: [100, -100, 127, 5] } }, { shape: [6], dtype: 'int8', gen: { values: [100, -100, 1, -5] } }], run: ([a, b]) => ft.add(a, b) });
  out.push({ name: 'Add uint8 [4, 5] + [5]', kernels: ['Add'], inputs: [{ shape: [4, 5], dtype: 'uint8' }, { shape: [5], dtype: 'uint8' }], run: ([a, b]) => ft.add(a, b) });
  out.push({
    name: 'Maximum/Minimum NaN wins', kernels: ['Maximum', 'Minimum'],
    inputs: [{ shape: [6], dtype: 'float32', gen: { values: [NaN, 1, 2, -Infinity, 0, NaN] } }, { shape: [6], dtype: 'float32', gen: { values: [1, NaN, 3, 4, -0, 2] } }],
    run: ([a, b]) => [ft.maximum(a, b), ft.minimum(a, b)],
  });
  out.push({
    name: 'Where f32 broadcast', kernels: ['Where'],
    inputs: [{ shape: [4, 1, 6], dtype: 'bool' }, { shape: [3, 6], dtype: 'float32' }, { shape: [4, 3, 1], dtype: 'float32' }],
    run: ([c, a, b]) => ft.where(c, a, b),
  });
  for (const dtype of ['float16', 'bfloat16', 'int32', 'int8'] as DType[]) {
    out.push({ name: `Where ${dtype}`, kernels: ['Where'], inputs: [{ shape: [5, 7], dtype: 'bool' }, { shape: [5, 7], dtype }, { shape: [7], dtype }], run: ([c, a, b]) => ft.where(c, a, b) });
  }
  out.push({ name: 'Where scalar -inf', kernels: ['Where'], inputs: [{ shape: [3, 9], dtype: 'bool' }, { shape: [3, 9], dtype: 'float32' }], run: ([c, a]) => ft.where(c, a, -Infinity) });
  return out;
}

function matmulCases(): OpCase[] {
  const out: OpCase[] = [];
  const mm = (name: string, sa: number[], sb: number[], dtype: DType, ta = false, tb = false, dtypeB: DType = dtype): OpCase => ({
    name: `MatMul ${name} ${dtype}${dtypeB !== dtype ? `×${dtypeB}` : ''}${ta ? ' ta' : ''}${tb ? ' tb' : ''}`,
    kernels: ['MatMul'],
    inputs: [{ shape: sa, dtype, gen: dtype === 'int32' ? 'int' : 'normal' }, { shape: sb, dtype: dtypeB, gen: dtypeB === 'int32' ? 'int' : 'normal' }],
    run: ([a, b]) => ft.matmul(a, b, { transposeA: ta, transposeB: tb }),
    tol: { float32: { atol: 1e-4, rtol: 1e-5 }, float16: { atol: 2e-3, rtol: 2e-3 } },
  });
  for (const dtype of FLOATS) {
    out.push(mm('[7,12]·[12,9]', [7, 12], [12, 9], dtype));
    out.push(mm('[7,12]·[9,12]ᵀ (NT vec4)', [7, 12], [9, 12], dtype, false, true));
    out.push(mm('[5,16]·[16,8] (NN vec4)', [5, 16], [16, 8], dtype));
    out.push(mm('[1,64]·[33,64]ᵀ (GEMV)', [1, 64], [33, 64], dtype, false, true));
  }
  out.push(mm('[12,7]ᵀ·[12,9]', [12, 7], [12, 9], 'float32', true, false));
  out.push(mm('[12,7]ᵀ·[9,12]ᵀ', [12, 7], [9, 12], 'float32', true, true));
  out.push(mm('[7,13]·[9,13]ᵀ odd K', [7, 13], [9, 13], 'float32', false, true));
  out.push(mm('batched [2,3,5,8]·[3,8,6]', [2, 3, 5, 8], [3, 8, 6], 'float32'));
  out.push(mm('broadcast [4,6]·[2,6,5]', [4, 6], [2, 6, 5], 'float32'));
  out.push(mm('f16 odd N [3,4]·[4,5]', [3, 4], [4, 5], 'float16'));
  out.push(mm('int32 [5,6]·[6,3]', [5, 6], [6, 3], 'int32'));
  out.push(mm('f32×f16 [4,8]·[6,8]ᵀ', [4, 8], [6, 8], 'float32', false, true, 'float16'));
  out.push(mm('K=0 [3,0]·[0,4]', [3, 0], [0, 4], 'float32'));
  out.push(mm('[64,96]·[96,80]', [64, 96], [96, 80], 'float32'));
  out.push(mm('vector·matrix [8]·[8,5]', [8], [8, 5], 'float32'));
  return out;
}

function reduceCases(): OpCase[] {
  const out: OpCase[] = [];
  const red: Record<string, (x: Tensor, axis?: number | number[]) => Tensor> = {
    Sum: ft.sum, Mean: ft.mean, Max: ft.max, Min: ft.min,
    ArgMax: (x, a) => ft.argmax(x, typeof a === 'number' ? a : -1), ArgMin: (x, a) => ft.argmin(x, typeof a === 'number' ? a : -1),
  };
  const sumTol = { float32: { atol: 1e-4, rtol: 1e-5 }, float16: { atol: 4e-3, rtol: 2e-3 } };
  for (const k of Object.keys(red)) {
    const arg = k.startsWith('Arg');
    for (const dtype of ['float32', 'float16', 'int32'] as DType[]) {
      for (const [shape, axis] of [[[6, 9], 1], [[6, 9], 0], [[3, 4, 5], arg ? 1 : [0, 2]], [[2, 3000], 1]] as [number[], number | number[]][]) {
        out.push({ name: `${k} ${dtype} [${shape}] axis ${axis}`, kernels: [k], inputs: [{ shape, dtype }], run: ([x]) => red[k](x, axis), tol: sumTol });
      }
    }
  }
  out.push({ name: 'Sum all float32 [4,5,6]', kernels: ['Sum'], inputs: [{ shape: [4, 5, 6], dtype: 'float32' }], run: ([x]) => ft.sum(x), tol: sumTol });
  out.push({ name: 'Sum bool → int32', kernels: ['Sum'], inputs: [{ shape: [7, 9], dtype: 'bool' }], run: ([x]) => ft.sum(x, 1) });
  out.push({ name: 'Mean int32 → float32', kernels: ['Mean'], inputs: [{ shape: [7, 9], dtype: 'int32' }], run: ([x]) => ft.mean(x, 0) });
  out.push({ name: 'Max keepDims bf16', kernels: ['Max'], inputs: [{ shape: [5, 6], dtype: 'bfloat16' }], run: ([x]) => ft.max(x, 1, { keepDims: true }) });
  out.push({ name: 'Max int8 [5, 7]', kernels: ['Max'], inputs: [{ shape: [5, 7], dtype: 'int8' }], run: ([x]) => ft.max(x, 1) });
  out.push({
    name: 'ArgMax/Max NaN and ties', kernels: ['ArgMax', 'Max', 'ArgMin'],
    inputs: [{ shape: [3, 4], dtype: 'float32', gen: { values: [1, 3, 3, 2, 5, NaN, 7, NaN, -1, -1, -2, -2] } }],
    run: ([x]) => [ft.argmax(x, 1), ft.max(x, 1), ft.argmin(x, 1)],
  });
  out.push({ name: 'ArgMax vocab [2, 5000]', kernels: ['ArgMax'], inputs: [{ shape: [2, 5000], dtype: 'float32' }], run: ([x]) => ft.argmax(x, -1) });
  for (const dtype of FLOATS) {
    for (const [shape, axis] of [[[4, 10], -1], [[3, 5, 4], 1], [[2, 4000], -1]] as [number[], number][]) {
      out.push({ name: `Softmax ${dtype} [${shape}] axis ${axis}`, kernels: ['Softmax'], inputs: [{ shape, dtype }], run: ([x]) => ft.softmax(x, axis), tol: { float32: LOOSE } });
      out.push({ name: `LogSoftmax ${dtype} [${shape}] axis ${axis}`, kernels: ['LogSoftmax'], inputs: [{ shape, dtype }], run: ([x]) => ft.logSoftmax(x, axis), tol: { float32: { atol: 1e-5, rtol: 2e-5 } } });
    }
  }
  out.push({
    name: 'Softmax with -inf entries', kernels: ['Softmax'],
    inputs: [{ shape: [2, 4], dtype: 'float32', gen: { values: [-Infinity, 1, 2, -Infinity, 0, -Infinity, 3, 1] } }],
    run: ([x]) => ft.softmax(x, -1), tol: { float32: LOOSE },
  });
  return out;
}

/** Elementwise, matmul and reduction cases. */
export function coreCases(): OpCase[] {
  return [...unaryCases(), ...binaryCases(), ...matmulCases(), ...reduceCases()];
}
