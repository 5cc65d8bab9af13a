/** Conformance cases: norms, rotary, data movement, top-k, fused attention and varlen. */

import type { DType } from '../../lib/dtype.js';
import { ENGINE } from '../../lib/engine.js';
import type { Tensor } from '../../lib/tensor.js';
import * as ft from '../../ops/index.js';
import type { OpCase, Tol } from './harness.js';

const FLOATS: DType[] = ['float32', 'float16', 'bfloat16'];
const NORM_TOL = { float32: { atol: 2e-5, rtol: 2e-5 } };

function nnCases(): OpCase[] {
  const out: OpCase[] = [];
  for (const dtype of FLOATS) {
    for (const D of [8, 33, 768]) {
      const rows = D === 768 ? 3 : 5;
      out.push({ name: `LayerNorm ${dtype} D=${D}`, kernels: ['LayerNorm'], inputs: [{ shape: [rows, D], dtype }, { shape: [D], dtype }, { shape: [D], dtype }], run: ([x, w, b]) => ft.layerNorm(x, w, b, 1e-5), tol: NORM_TOL });
      out.push({ name: `RmsNorm ${dtype} D=${D}`, kernels: ['RmsNorm'], inputs: [{ shape: [rows, D], dtype }, { shape: [D], dtype }], run: ([x, w]) => ft.rmsNorm(x, w, 1e-6), tol: NORM_TOL });
    }
  }
  out.push({ name: 'LayerNorm no affine', kernels: ['LayerNorm'], inputs: [{ shape: [4, 10], dtype: 'float32' }], run: ([x]) => ft.layerNorm(x), tol: NORM_TOL });
  out.push({ name: 'LayerNorm weight only f16', kernels: ['LayerNorm'], inputs: [{ shape: [4, 10], dtype: 'float16' }, { shape: [10], dtype: 'float16' }], run: ([x, w]) => ft.layerNorm(x, w) });
  out.push({ name: 'RmsNorm no weight', kernels: ['RmsNorm'], inputs: [{ shape: [2, 3, 16], dtype: 'float32' }], run: ([x]) => ft.rmsNorm(x), tol: NORM_TOL });
  out.push({ name: 'RmsNorm f16 x, f32 weight', kernels: ['RmsNorm'], inputs: [{ shape: [3, 16], dtype: 'float16' }, { shape: [16], dtype: 'float32' }], run: ([x, w]) => ft.rmsNorm(x, w) });
  // Fused kernels: each must equal its composition on every backend.
  for (const dtype of FLOATS) {
    out.push({ name: `SwiGlu ${dtype}`, kernels: ['SwiGlu'], inputs: [{ shape: [3, 37], dtype }, { shape: [3, 37], dtype }], run: ([g, u]) => ft.swiglu(g, u) });
    out.push({ name: `SwiGlu ${dtype} packed gate|up`, kernels: ['SwiGlu'], inputs: [{ shape: [2, 5, 18], dtype }], run: ([gu]) => ft.swiglu(gu) });
    out.push({ name: `AddRmsNorm ${dtype}`, kernels: ['AddRmsNorm'], inputs: [{ shape: [3, 33], dtype }, { shape: [3, 33], dtype }, { shape: [33], dtype }], run: ([x, r, w]) => ft.addRmsNorm(x, r, w, 1e-6), tol: NORM_TOL });
  }
  out.push({ name: 'AddRmsNorm no weight D=768', kernels: ['AddRmsNorm'], inputs: [{ shape: [2, 768], dtype: 'float32' }, { shape: [2, 768], dtype: 'float32' }], run: ([x, r]) => ft.addRmsNorm(x, r), tol: NORM_TOL });
  for (const dtype of FLOATS) {
    for (const interleaved of [false, true]) {
      out.push({
        name: `Rope ${dtype} ${interleaved ? 'interleaved' : 'rotate-half'}`, kernels: ['Rope'],
        inputs: [{ shape: [2, 3, 5, 8], dtype }, { shape: [5, 4], dtype: 'float32' }, { shape: [5, 4], dtype: 'float32' }],
        run: ([x, c, s]) => ft.rope(x, c, s, { interleaved }),
      });
    }
  }
  out.push({
    name: 'Rope partial (R < D) with per-batch angles', kernels: ['Rope'],
    inputs: [{ shape: [2, 2, 3, 10], dtype: 'float32' }, { shape: [2, 1, 3, 3], dtype: 'float32' }, { shape: [2, 1, 3, 3], dtype: 'float32' }],
    run: ([x, c, s]) => ft.rope(x, c, s),
  });
  return out;
}

function movementCases(): OpCase[] {
  const out: OpCase[] = [];
  const dtypes: DType[] = ['float32', 'float16', 'int8', 'bool', 'bfloat16', 'int32', 'uint8'];
  for (const dtype of dtypes) {
    out.push({ name: `Transpose ${dtype} [2,3,5]→[2,0,1]`, kernels: ['Transpose'], inputs: [{ shape: [2, 3, 5], dtype }], run: ([x]) => ft.transpose(x, [2, 0, 1]) });
    out.push({ name: `Slice ${dtype}`, kernels: ['Slice'], inputs: [{ shape: [4, 7, 3], dtype }], run: ([x]) => ft.slice(x, [1, 2, 1], [2, 3, 1]) });
    out.push({ name: `BroadcastTo ${dtype}`, kernels: ['BroadcastTo'], inputs: [{ shape: [3, 1], dtype }], run: ([x]) => ft.broadcastTo(x, [2, 3, 5]) });
    out.push({ name: `Tile ${dtype}`, kernels: ['Tile'], inputs: [{ shape: [2, 3], dtype }], run: ([x]) => ft.repeat(x, [2, 1, 3]) });
    out.push({ name: `Concat ${dtype} axis 1`, kernels: ['Concat'], inputs: [{ shape: [2, 3, 3], dtype }, { shape: [2, 1, 3], dtype }, { shape: [2, 5, 3], dtype }], run: (xs) => ft.concat(xs, 1) });
    out.push({ name: `Concat ${dtype} axis -1 (odd widths)`, kernels: ['Concat'], inputs: [{ shape: [3, 1], dtype }, { shape: [3, 2], dtype }, { shape: [3, 3], dtype }], run: (xs) => ft.concat(xs, -1) });
    out.push({ name: `Gather ${dtype} axis 1`, kernels: ['Gather'], inputs: [{ shape: [3, 5, 2], dtype }, { shape: [4], dtype: 'int32', gen: { index: 5 } }], run: ([x, i]) => ft.gather(x, i, 1) });
    out.push({
      name: `WriteSlice ${dtype} (row-aligned)`, kernels: ['WriteSlice'],
      inputs: [{ shape: [2, 3, 8, 4], dtype }, { shape: [2, 3, 1, 4], dtype }],
      run: ([dst, src]) => ft.writeSlice(dst, src, [0, 0, 5, 0]),
    });
    out.push({
      name: `WriteSlice ${dtype} (column, rows share words)`, kernels: ['WriteSlice'],
      inputs: [{ shape: [5, 3], dtype }, { shape: [4, 1], dtype }],
      run: ([dst, src]) => ft.writeSlice(dst, src, [1, 1]),
    });
  }
  out.push({ name: 'Gather embedding int8 ids', kernels: ['Gather'], inputs: [{ shape: [10, 6], dtype: 'float32' }, { shape: [2, 3], dtype: 'int8', gen: { index: 10 } }], run: ([x, i]) => ft.embedding(x, i) });
  for (const dtype of ['float32', 'float16', 'int8'] as DType[]) {
    out.push({ name: `Triangle tril/triu ${dtype}`, kernels: ['Triangle'], inputs: [{ shape: [2, 4, 5], dtype }], run: ([x]) => [ft.tril(x), ft.triu(x, 1), ft.tril(x, -2)] });
  }
  out.push({
    name: 'ScatterRows (padInput) f32', kernels: ['ScatterRows'],
    inputs: [{ shape: [4, 3], dtype: 'float32' }, { shape: [4], dtype: 'int32', gen: { values: [0, 2, 3, 6] } }],
    run: ([h, i]) => ft.padInput(h, i, 2, 4),
  });
  out.push({
    name: 'ScatterRows (padInput) f16 odd rows', kernels: ['ScatterRows'],
    inputs: [{ shape: [3, 3], dtype: 'float16' }, { shape: [3], dtype: 'int32', gen: { values: [1, 2, 5] } }],
    run: ([h, i]) => ft.padInput(h, i, 2, 3),
  });
  return out;
}

function topkCases(): OpCase[] {
  const out: OpCase[] = [];
  for (const dtype of ['float32', 'float16', 'int32'] as DType[]) {
    out.push({ name: `TopK ${dtype} k=3`, kernels: ['TopK'], inputs: [{ shape: [4, 11], dtype }], run: ([x]) => { const r = ft.topk(x, 3); return [r.values, r.indices]; } });
    out.push({ name: `TopK ${dtype} smallest k=5`, kernels: ['TopK'], inputs: [{ shape: [3, 9], dtype }], run: ([x]) => { const r = ft.topk(x, 5, { largest: false }); return [r.values, r.indices]; } });
  }
  out.push({ name: 'TopK ties and NaN', kernels: ['TopK'], inputs: [{ shape: [2, 6], dtype: 'float32', gen: { values: [1, NaN, 3, 3, -1, 3] } }], run: ([x]) => { const a = ft.topk(x, 4); const b = ft.topk(x, 3, { largest: false }); return [a.values, a.indices, b.values, b.indices]; } });
  out.push({ name: 'TopK vocab 5000 k=40 (selection)', kernels: ['TopK'], inputs: [{ shape: [2, 5000], dtype: 'float32' }], run: ([x]) => { const r = ft.topk(x, 40); return [r.values, r.indices]; } });
  out.push({ name: 'TopK vocab 5000 k=300 smallest (global sort)', kernels: ['TopK'], inputs: [{ shape: [2, 5000], dtype: 'float16' }], run: ([x]) => { const r = ft.topk(x, 300, { largest: false }); return [r.values, r.indices]; } });
  out.push({ name: 'TopK full sort [1, 1000]', kernels: ['TopK'], inputs: [{ shape: [1, 1000], dtype: 'float32' }], run: ([x]) => { const r = ft.topk(x, 1000); return [r.values, r.indices]; } });
  return out;
}

const ATTN_TOL: Partial<Record<DType | 'all', Tol>> = { float32: { atol: 2e-5, rtol: 1e-5 }, float16: { atol: 2e-3, rtol: 2e-3 }, bfloat16: { atol: 1.6e-2, rtol: 1.6e-2 } };

/** Runs a fused attention kernel directly (bypassing the dispatcher's dtype rules), like the CPU reference's. */
function fusedKernel(kernel: 'SdpaFlash' | 'SdpaEfficient', xs: Tensor[], attrs: { scale: number; causal?: string; hasMask?: boolean; returnLse?: boolean; enableGqa?: boolean; kvLength?: number }) {
  const out = ENGINE.runKernel(kernel, xs, { causal: 'none', hasMask: false, returnLse: false, enableGqa: true, ...attrs });
  return Array.isArray(out) ? out : [out];
}

function attentionCases(): OpCase[] {
  const out: OpCase[] = [];
  const qkv = (B: number, Hq: number, Hkv: number, L: number, S: number, E: number, Ev: number, dtype: DType) => [
    { shape: [B, Hq, L, E], dtype }, { shape: [B, Hkv, S, E], dtype }, { shape: [B, Hkv, S, Ev], dtype },
  ];
  for (const kernel of ['SdpaFlash', 'SdpaEfficient'] as const) {
    for (const dtype of FLOATS) {
      const geoms: [string, number, number, number, number, number, number, number, string][] = [
        ['plain', 2, 3, 3, 17, 23, 16, 16, 'none'],
        ['causal square', 1, 2, 2, 70, 70, 32, 32, 'upperLeft'],
        ['causal lowerRight decode', 1, 4, 4, 1, 37, 64, 64, 'lowerRight'],
        ['GQA 8q/2kv causal', 1, 8, 2, 9, 9, 8, 8, 'upperLeft'],
        ['MQA 4q/1kv lowerRight L<S', 2, 4, 1, 5, 12, 16, 16, 'lowerRight'],
        ['E=128 long', 1, 1, 1, 33, 130, 128, 128, 'none'],
      ];
      for (const [name, B, Hq, Hkv, L, S, E, Ev, causal] of geoms) {
        out.push({
          name: `${kernel} ${dtype} ${name}`, kernels: [kernel], inputs: qkv(B, Hq, Hkv, L, S, E, Ev, dtype), tol: ATTN_TOL,
          run: (xs) => fusedKernel(kernel, xs, { scale: 1 / Math.sqrt(E), causal, returnLse: dtype === 'float32' }),
        });
      }
    }
  }
  // Large enough (B·H·L·S·E ≥ 2²⁵) for the unrolled head-dim loops a software adapter reserves for long calls.
  out.push({ name: 'SdpaFlash f16 causal L=S=512 (unrolled)', kernels: ['SdpaFlash'], inputs: qkv(1, 2, 2, 512, 512, 64, 64, 'float16'), tol: ATTN_TOL, run: (xs) => fusedKernel('SdpaFlash', xs, { scale: 0.125, causal: 'upperLeft' }) });
  out.push({ name: 'SdpaEfficient f32 L=S=512 (unrolled)', kernels: ['SdpaEfficient'], inputs: qkv(1, 2, 2, 512, 512, 64, 64, 'float32'), tol: ATTN_TOL, run: (xs) => fusedKernel('SdpaEfficient', xs, { scale: 0.125, returnLse: true }) });
  out.push({ name: 'SdpaEfficient Ev≠E, odd dims', kernels: ['SdpaEfficient'], inputs: qkv(1, 2, 2, 6, 7, 5, 3, 'float32'), tol: ATTN_TOL, run: (xs) => fusedKernel('SdpaEfficient', xs, { scale: 0.3 }) });
  out.push({ name: 'SdpaEfficient f16 Ev odd', kernels: ['SdpaEfficient'], inputs: qkv(1, 2, 2, 6, 7, 12, 7, 'float16'), tol: ATTN_TOL, run: (xs) => fusedKernel('SdpaEfficient', xs, { scale: 0.3 }) });
  out.push({ name: 'SdpaEfficient negative scale', kernels: ['SdpaEfficient'], inputs: qkv(1, 1, 1, 4, 6, 8, 8, 'float32'), tol: ATTN_TOL, run: (xs) => fusedKernel('SdpaEfficient', xs, { scale: -0.7 }) });
  for (const [mdtype, mshape] of [['bool', [2, 1, 1, 9]], ['bool', [5, 9]], ['float32', [2, 3, 5, 9]], ['float16', [1, 3, 1, 9]]] as [DType, number[]][]) {
    out.push({
      name: `SdpaEfficient mask ${mdtype} [${mshape}]`, kernels: ['SdpaEfficient'], tol: ATTN_TOL,
      inputs: [...qkv(2, 3, 3, 5, 9, 8, 8, mdtype === 'float16' ? 'float16' : 'float32'), { shape: mshape, dtype: mdtype, gen: mdtype === 'bool' ? 'bool' : 'signed' }],
      run: (xs) => fusedKernel('SdpaEfficient', xs, { scale: 0.35, hasMask: true, returnLse: true }),
    });
  }
  out.push({
    name: 'SdpaEfficient fully-masked rows → 0, LSE +inf', kernels: ['SdpaEfficient'], tol: ATTN_TOL,
    inputs: [...qkv(1, 1, 1, 3, 4, 8, 8, 'float32'), { shape: [3, 4], dtype: 'bool', gen: { values: [1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1] } }],
    run: (xs) => fusedKernel('SdpaEfficient', xs, { scale: 0.35, hasMask: true, returnLse: true }),
  });
  out.push({
    name: 'SdpaFlash lowerRight L>S → empty rows', kernels: ['SdpaFlash'], tol: ATTN_TOL,
    inputs: qkv(1, 2, 2, 6, 3, 8, 8, 'float32'),
    run: (xs) => fusedKernel('SdpaFlash', xs, { scale: 0.35, causal: 'lowerRight', returnLse: true }),
  });
  // Decoding shapes (L ≤ 4, S ≥ 64) take the split-keys path.
  for (const kernel of ['SdpaFlash', 'SdpaEfficient'] as const) {
    for (const dtype of FLOATS) {
      out.push({
        name: `${kernel} ${dtype} decode L=1 S=200 GQA 8q/2kv (split keys)`, kernels: [kernel], tol: ATTN_TOL, inputs: qkv(2, 8, 2, 1, 200, 64, 64, dtype),
        run: (xs) => fusedKernel(kernel, xs, { scale: 0.125, causal: 'lowerRight', returnLse: true }),
      });
    }
    out.push({
      name: `${kernel} f32 L=3 S=100 lowerRight, kvLength 90 (split keys)`, kernels: [kernel], tol: ATTN_TOL, inputs: qkv(1, 2, 2, 3, 100, 16, 16, 'float32'),
      run: (xs) => fusedKernel(kernel, xs, { scale: 0.25, causal: 'lowerRight', kvLength: 90, returnLse: true }),
    });
  }
  out.push({
    name: 'SdpaEfficient decode with bool key-padding mask, Ev=7 f16 (split keys)', kernels: ['SdpaEfficient'], tol: ATTN_TOL,
    inputs: [...qkv(2, 2, 2, 1, 70, 8, 7, 'float16'), { shape: [2, 1, 1, 70], dtype: 'bool' }],
    run: (xs) => fusedKernel('SdpaEfficient', xs, { scale: 0.35, hasMask: true, returnLse: true }),
  });
  out.push({
    name: 'SdpaEfficient decode fully masked row (split keys)', kernels: ['SdpaEfficient'], tol: ATTN_TOL,
    inputs: [...qkv(1, 1, 1, 2, 80, 8, 8, 'float32'), { shape: [2, 80], dtype: 'bool', gen: { values: [0] } }],
    run: (xs) => fusedKernel('SdpaEfficient', xs, { scale: 0.35, hasMask: true, returnLse: true }),
  });
  // A pre-allocated KV cache attended up to kvLength (the rest holds garbage that must not leak).
  for (const kernel of ['SdpaFlash', 'SdpaEfficient'] as const) {
    out.push({
      name: `${kernel} kvLength 11 of 16 (KV cache), lowerRight`, kernels: [kernel], tol: ATTN_TOL, inputs: qkv(1, 4, 2, 3, 16, 16, 16, 'float32'),
      run: (xs) => fusedKernel(kernel, xs, { scale: 0.25, causal: 'lowerRight', kvLength: 11 }),
    });
  }
  out.push({
    name: 'sdpa() kvLength with a bool mask', kernels: ['SdpaEfficient'], tol: ATTN_TOL,
    inputs: [...qkv(1, 2, 2, 4, 12, 8, 8, 'float32'), { shape: [1, 1, 4, 7], dtype: 'bool' }],
    run: ([q, k, v, m]) => ft.sdpa(q, k, v, { attnMask: m, kvLength: 7 }),
  });
  // Through the public dispatcher: the implementation each backend picks must agree with the CPU.
  out.push({
    name: 'sdpa() f16 causal (dispatcher → flash)', kernels: ['SdpaFlash'], tol: ATTN_TOL, inputs: qkv(1, 4, 2, 16, 16, 32, 32, 'float16'),
    run: ([q, k, v]) => ft.sdpa(q, k, v, { isCausal: true, enableGqa: true }),
  });
  out.push({
    name: 'sdpa() f32 bool mask (dispatcher → efficient)', kernels: ['SdpaEfficient'], tol: ATTN_TOL,
    inputs: [...qkv(2, 2, 2, 7, 7, 16, 16, 'float32'), { shape: [2, 1, 7, 7], dtype: 'bool' }],
    run: ([q, k, v, m]) => ft.sdpa(q, k, v, { attnMask: m }),
  });
  // Varlen: packed sequences of lengths 3, 1, 6 (queries) against 5, 1, 6 (keys), GQA 4/2.
  for (const [dtype, causal] of [['float32', false], ['float32', true], ['float16', true]] as [DType, boolean][]) {
    out.push({
      name: `FlashAttnVarlen ${dtype}${causal ? ' causal' : ''}`, kernels: ['FlashAttnVarlen'], tol: ATTN_TOL,
      inputs: [{ shape: [10, 4, 16], dtype }, { shape: [12, 2, 16], dtype }, { shape: [12, 2, 16], dtype }],
      run: ([q, k, v]) => ft.flashAttnVarlen(q, k, v, [0, 3, 4, 10], [0, 5, 6, 12], 6, 6, { isCausal: causal }),
    });
  }
  return out;
}

/** Norm, rotary, movement, top-k and attention cases. */
export function nnCasesAll(): OpCase[] {
  return [...nnCases(), ...movementCases(), ...topkCases(), ...attentionCases()];
}
