/** Conformance cases: 4-bit FP4/NF4, blockwise 8-bit (double quantization) and LLM.int8 kernels. */

import type { DType } from '../../lib/dtype.js';
import { ENGINE } from '../../lib/engine.js';
import { dynamicMapSigned, FP4_CODE, NF4_CODE } from '../../lib/quant_codes.js';
import type { Tensor } from '../../lib/tensor.js';
import * as ft from '../../ops/index.js';
import type { InputSpec, OpCase } from './harness.js';

const NF4 = Array.from(NF4_CODE);
const FP4 = Array.from(FP4_CODE);
const DYN = Array.from(dynamicMapSigned());
const run = (kernel: string, xs: Tensor[], attrs: Record<string, unknown>) => {
  const out = ENGINE.runKernel(kernel, xs, attrs);
  return Array.isArray(out) ? out : [out];
};
const MM_TOL = { float32: { atol: 1e-4, rtol: 1e-5 }, float16: { atol: 2e-3, rtol: 2e-3 }, bfloat16: { atol: 1.6e-2, rtol: 1.6e-2 } };

function quant4Cases(): OpCase[] {
  const out: OpCase[] = [];
  for (const quantType of ['nf4', 'fp4'] as const) {
    for (const dtype of ['float32', 'float16', 'bfloat16'] as DType[]) {
      for (const [shape, blocksize] of [[[8, 16], 64], [[7, 9], 32], [[3, 5], 64]] as [number[], number][]) {
        out.push({
          name: `Quantize4bit ${quantType} ${dtype} [${shape}] bs ${blocksize}`, kernels: ['Quantize4bit', 'Dequantize4bit'],
          inputs: [{ shape, dtype }],
          run: ([w]) => {
            const s = ft.quantize4bit(w, { quantType, blocksize });
            const d = ft.dequantize4bit(s, dtype);
            return [s.packed, s.absmax, d];
          },
        });
      }
    }
    out.push({
      name: `Quantize4bit ${quantType} zeros, ties and specials`, kernels: ['Quantize4bit'],
      inputs: [{ shape: [4, 32], dtype: 'float32', gen: { values: [0, 0, 0, 0, 1, -1, 0.5, -0.5, ...NF4, ...FP4, 1e-30, -0, 0.04, -0.8] } }],
      run: ([w]) => { const s = ft.quantize4bit(w, { quantType, blocksize: 32 }); return [s.packed, s.absmax]; },
    });
  }
  const map4: InputSpec = { shape: [16], dtype: 'float32', gen: { values: NF4 } };
  out.push({
    name: 'Dequantize4bit nested (double-quantized absmax) → float16', kernels: ['Dequantize4bit'],
    inputs: [{ shape: [300, 1], dtype: 'uint8', gen: { index: 256 } }, { shape: [10], dtype: 'uint8', gen: { index: 256 } }, map4,
      { shape: [1], dtype: 'float32', gen: 'positive' }, { shape: [256], dtype: 'float32', gen: { values: DYN } }],
    run: (xs) => run('Dequantize4bit', xs, { blocksize: 64, shape: [20, 30], dtype: 'float16', nested: true, offset: 0.0625 }),
  });
  out.push({
    name: 'QuantizeBlockwise8 + DequantizeBlockwise8 (dynamic map)', kernels: ['QuantizeBlockwise8', 'DequantizeBlockwise8'],
    inputs: [{ shape: [600], dtype: 'float32' }, { shape: [256], dtype: 'float32', gen: { values: DYN } }],
    run: ([x, map]) => {
      const [codes, absmax] = run('QuantizeBlockwise8', [x, map], { blocksize: 256 });
      return [codes, absmax, ...run('DequantizeBlockwise8', [codes, absmax, map], { blocksize: 256, offset: 0.125 })];
    },
  });
  // Quant4MatMul: compute dtypes, blocks straddling rows (K % blocksize ≠ 0), odd N, nested absmax, bias.
  const geoms: [string, number, number, number, number][] = [
    ['GEMV', 1, 34, 64, 64], ['T=3 K=48 bs=32', 3, 5, 48, 32], ['T=2 N=8 K=128', 2, 8, 128, 64], ['T=6 (4-row blocks) K=40', 6, 9, 40, 32], ['T=5 K=64', 5, 7, 64, 64],
  ];
  for (const [label, T, N, K, bs] of geoms) {
    for (const dtype of ['float32', 'float16', 'bfloat16'] as DType[]) {
      const nb = Math.ceil((N * K) / bs);
      out.push({
        name: `Quant4MatMul ${label} compute ${dtype}`, kernels: ['Quant4MatMul'], tol: MM_TOL,
        inputs: [{ shape: [T, K], dtype: dtype === 'bfloat16' ? 'float32' : dtype }, { shape: [(N * K) / 2, 1], dtype: 'uint8', gen: { index: 256 } },
          { shape: [nb], dtype: 'float32', gen: 'positive' }, map4, { shape: [N], dtype: 'float32' }],
        run: ([x, p, a, m, bias]) => run('Quant4MatMul', [x, p, a, m, bias], { blocksize: bs, N, K, dtype, nested: false, offset: 0, hasBias: true }),
      });
    }
  }
  // The output converted in the kernel: 16-bit compute with float32 out, and float32 compute with 16-bit out.
  for (const [xd, dtype, outDtype] of [['float32', 'bfloat16', 'float32'], ['float32', 'float16', 'float32'], ['float16', 'float32', 'float16'], ['float16', 'bfloat16', 'float16']] as DType[][]) {
    for (const [T, N] of [[1, 40], [5, 7]]) {
      out.push({
        name: `Quant4MatMul T=${T} x ${xd}, compute ${dtype} → ${outDtype}`, kernels: ['Quant4MatMul'], tol: MM_TOL,
        inputs: [{ shape: [T, 64], dtype: xd }, { shape: [N * 32, 1], dtype: 'uint8', gen: { index: 256 } },
          { shape: [N], dtype: 'float32', gen: 'positive' }, map4, { shape: [N], dtype: 'float32' }],
        run: ([x, p, a, m, bias]) => run('Quant4MatMul', [x, p, a, m, bias], { blocksize: 64, N, K: 64, dtype, nested: false, offset: 0, hasBias: true, outDtype }),
      });
    }
  }
  out.push({
    name: 'Quant4MatMul nested fp4, no bias', kernels: ['Quant4MatMul'], tol: MM_TOL,
    inputs: [{ shape: [2, 64], dtype: 'float32' }, { shape: [6 * 32, 1], dtype: 'uint8', gen: { index: 256 } }, { shape: [6], dtype: 'uint8', gen: { index: 256 } },
      { shape: [16], dtype: 'float32', gen: { values: FP4 } }, { shape: [1], dtype: 'float32', gen: 'positive' }, { shape: [256], dtype: 'float32', gen: { values: DYN } }],
    run: (xs) => run('Quant4MatMul', xs, { blocksize: 64, N: 6, K: 64, dtype: 'float32', nested: true, offset: 0.02, hasBias: false }),
  });
  out.push({
    name: 'matmul4bit op (quantize on backend, f16 activations)', kernels: ['Quant4MatMul', 'Quantize4bit'], tol: MM_TOL,
    inputs: [{ shape: [3, 64], dtype: 'float16' }, { shape: [10, 64], dtype: 'float32' }],
    run: ([x, w]) => ft.matmul4bit(x, ft.quantize4bit(w, { quantType: 'nf4' }), { computeDtype: 'float16' }),
  });
  return out;
}

function int8Cases(): OpCase[] {
  const out: OpCase[] = [];
  for (const dtype of ['float32', 'float16', 'bfloat16'] as DType[]) {
    out.push({
      name: `QuantizeInt8Rowwise ${dtype}`, kernels: ['QuantizeInt8Rowwise', 'DequantizeInt8'],
      inputs: [{ shape: [6, 13], dtype, gen: { values: [0.5, -1.25, 3, 0.001, -7, 2.5, 0, 0.3333, -0.75, 1e-4, 6.5] } }],
      run: ([w]) => { const s = ft.quantizeInt8Rowwise(w); return [s.weight, s.scb, ft.dequantizeInt8(s, { dtype })]; },
    });
  }
  out.push({
    name: 'QuantizeInt8Rowwise zero row', kernels: ['QuantizeInt8Rowwise'],
    inputs: [{ shape: [3, 4], dtype: 'float32', gen: { values: [0, 0, 0, 0, 1, -2, 3, 0.5, 0.1, 0.2, -0.3, 0.4] } }],
    run: ([w]) => { const s = ft.quantizeInt8Rowwise(w); return [s.weight, s.scb]; },
  });
  for (const threshold of [0, 6]) {
    for (const dtype of ['float32', 'float16'] as DType[]) {
      out.push({
        name: `Int8VectorQuant ${dtype} threshold ${threshold}`, kernels: ['Int8VectorQuant'],
        inputs: [{ shape: [5, 12], dtype, gen: { values: [0.5, -1.25, 3, 7.5, -0.01, 2.25, -6, 1, 0, 5.99, -3.5, 0.75, 4, 2, -1] } }],
        run: ([x]) => { const a = ft.int8VectorQuant(x, threshold); return [a.ca, a.sca, a.outlierCols]; },
      });
    }
  }
  for (const [label, T, N, K, biasDtype] of [
    ['GEMV K%4=0', 1, 9, 64, 'float16'], ['T=3 K=13', 3, 6, 13, 'float32'], ['T=2 N odd', 2, 7, 32, null], ['T=7 (4-row blocks)', 7, 10, 36, 'float32'], ['T=5 K=13', 5, 4, 13, null],
  ] as [string, number, number, number, DType | null][]) {
    out.push({
      name: `Int8MatMul ${label}`, kernels: ['Int8MatMul'], tol: { float16: { atol: 2e-3, rtol: 2e-3 } },
      inputs: [{ shape: [T, K], dtype: 'int8', gen: { index: 255 } }, { shape: [N, K], dtype: 'int8', gen: 'int' }, { shape: [T], dtype: 'float32', gen: 'positive' },
        { shape: [N], dtype: 'float32', gen: 'positive' }, ...(biasDtype ? [{ shape: [N], dtype: biasDtype }] : [])],
      run: (xs) => run('Int8MatMul', xs, { hasBias: !!biasDtype }),
    });
  }
  out.push({
    name: 'DequantizeInt8 cols + stored copies → float16', kernels: ['DequantizeInt8'],
    inputs: [{ shape: [4, 10], dtype: 'int8', gen: 'int' }, { shape: [4], dtype: 'float32', gen: 'positive' }, { shape: [3], dtype: 'int32', gen: { values: [1, 4, 7] } },
      { shape: [2], dtype: 'int32', gen: { values: [4, 9] } }, { shape: [4, 2], dtype: 'float16' }],
    run: ([cb, scb, cols, sc, st]) => ft.dequantizeInt8({ weight: cb, scb }, { dtype: 'float16', cols, storedCols: sc, stored: st }),
  });
  // int8Linear: the CPU decomposes it; a backend may run it as one fused kernel (Int8Linear).
  const xo = { values: [0.5, -1.25, 3, 7.5, -0.01, 2.25, -6.5, 1, 0, 2.5, -3.5, 0.75, 0.1, -0.2] };
  for (const [label, xd, threshold, bias, storedN] of [
    ['f32 x, threshold 6, no bias', 'float32', 6, false, 0], ['bf16 x, threshold 0', 'bfloat16', 0, true, 0],
    ['f16 x, stored outlier copies', 'float16', 6, true, 2], ['f32 x [2,3,13] K odd', 'float32', 6, true, 0], ['f32 x T=9 (4-row blocks), stored', 'float32', 6, false, 2],
  ] as [string, DType, number, boolean, number][]) {
    const K = label.includes('K odd') ? 13 : 16;
    const xShape = label.includes('[2,3,13]') ? [2, 3, 13] : label.includes('T=9') ? [9, K] : [3, K];
    out.push({
      name: `int8Linear ${label}`, kernels: ['Int8Linear', 'Int8MatMul'], tol: { float16: { atol: 4e-3, rtol: 4e-3 }, float32: { atol: 1e-4, rtol: 1e-4 }, bfloat16: { atol: 3e-2, rtol: 2e-2 } },
      inputs: [{ shape: xShape, dtype: xd, gen: xo }, { shape: [6, K], dtype: 'float32' }, { shape: [6], dtype: xd },
        { shape: [storedN], dtype: 'int32', gen: { values: [3, 6] } }, { shape: [6, storedN], dtype: xd }],
      run: ([x, w, b, sc, st]) =>
        ft.int8Linear(x, ft.quantizeInt8Rowwise(w), { threshold, bias: bias ? b : null, ...(storedN ? { outlierCols: sc, outlierWeight: st } : {}) }),
    });
  }
  out.push({
    name: 'int8Linear op (threshold 6, outliers present)', kernels: ['Int8VectorQuant', 'Int8MatMul', 'DequantizeInt8', 'Int8Linear'],
    inputs: [{ shape: [3, 16], dtype: 'float16', gen: { values: [0.5, -1.25, 3, 7.5, -0.01, 2.25, -6.5, 1, 0, 2.5, -3.5, 0.75] } }, { shape: [5, 16], dtype: 'float32' }, { shape: [5], dtype: 'float16' }],
    tol: { float16: { atol: 4e-3, rtol: 4e-3 } },
    run: ([x, w, b]) => ft.int8Linear(x, ft.quantizeInt8Rowwise(w), { threshold: 6, bias: b }),
  });
  return out;
}

/** Quantization cases. */
export function quantCases(): OpCase[] {
  return [...quant4Cases(), ...int8Cases()];
}
