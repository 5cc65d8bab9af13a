/**
 * Batched matmul. Register-blocked: each invocation computes a TM×4 block of C with no workgroup
 * memory (barriers are expensive on software rasterisers such as lavapipe, and the blocks' reuse
 * comes from registers and caches). Three variants:
 *  - NT (A row-major, B transposed, K % 4 = 0): both operands read as vec4 along K, `dot` products
 *    — the Linear layer x·Wᵀ and q·kᵀ;
 *  - NN (B row-major, N % 4 = 0): B read as vec4 along N, A scalar — p·v;
 *  - generic: scalar loads through index functions, any transpose, any dtype (int32 included).
 * 16-bit operands are unpacked in the loads; accumulation is f32 (i32 for int32).
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { isFloat, type DType } from '../../../lib/dtype.js';
import { BackendError } from '../../../lib/errors.js';
import { sizeOf, stridesOf } from '../../../lib/shape.js';
import type { WebGPUBackend } from '../backend.js';
import { MAX_GROUPS, Uniforms, type BindingType, type Program } from '../program.js';
import { bitsFn, COMMON, loadFn } from '../wgsl.js';
import { viaWide } from './map.js';
import { gpuKernel, needsWide } from './util.js';

type Variant = 'nt' | 'nn' | 'generic';

/** vec4 load of 4 consecutive elements starting at element 4·i, for a float dtype. */
function load4(fn: string, buf: string, dtype: DType): { decl: BindingType; code: string } {
  switch (dtype) {
    case 'float32':
      return { decl: 'vec4<f32>', code: `fn ${fn}(i: u32) -> vec4<f32> { return ${buf}[i]; }` };
    case 'float16':
      return { decl: 'vec2<u32>', code: `fn ${fn}(i: u32) -> vec4<f32> { let w = ${buf}[i]; return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)); }` };
    default: // bfloat16
      return {
        decl: 'vec2<u32>',
        code:
          `fn ${fn}(i: u32) -> vec4<f32> { let w = ${buf}[i]; ` +
          `return vec4<f32>(bitcast<f32>(w.x << 16u), bitcast<f32>(w.x & 0xffff0000u), bitcast<f32>(w.y << 16u), bitcast<f32>(w.y & 0xffff0000u)); }`,
      };
  }
}

interface Dims {
  M: number; N: number; K: number; batch: number;
  ta: boolean; tb: boolean;
}

function program(a: TensorInfo, b: TensorInfo, outDtype: DType, d: Dims, variant: Variant, batchInfo: { shape: number[]; as: number[]; bs: number[] }): Program {
  const TM = d.M <= 2 ? 1 : 4;
  const TN = 4;
  const [WX, WY] = TM === 1 ? [64, 1] : [8, 8];
  const ct = isFloat(outDtype) ? 'f32' : 'i32';
  const vec = ct === 'f32' ? 'vec4<f32>' : 'vec4<i32>';
  const u = new Uniforms()
    .u32('M', d.M).u32('N', d.N).u32('K', d.K)
    .u32('bshape', batchInfo.shape).u32('astr', batchInfo.as).u32('bstr', batchInfo.bs);
  const rank = batchInfo.shape.length;
  const bitsOut = bitsFn('to_bits', outDtype, ct);
  let inDecl: BindingType[] = ['u32', 'u32'];
  let loads: string[];
  let loop: string;
  if (variant === 'nt') {
    const la = load4('lda4', 'in0', a.dtype);
    const lb = load4('ldb4', 'in1', b.dtype);
    inDecl = [la.decl, lb.decl];
    loads = [la.code, lb.code];
    const rowsB = [0, 1, 2, 3].map((j) => `let rb${j} = (bBase + min(n0 + ${j}u, N - 1u) * K) / 4u;`).join('\n  ');
    const rowsA = Array.from({ length: TM }, (_, i) => `let ra${i} = (aBase + min(m0 + ${i}u, M - 1u) * K) / 4u;`).join('\n  ');
    const body = Array.from({ length: TM }, (_, i) => `{ let av = lda4(ra${i} + k); acc${i} += vec4<f32>(dot(av, b0), dot(av, b1), dot(av, b2), dot(av, b3)); }`).join('\n    ');
    loop = `${rowsB}\n  ${rowsA}\n  for (var k = 0u; k < K / 4u; k++) {\n    let b0 = ldb4(rb0 + k); let b1 = ldb4(rb1 + k); let b2 = ldb4(rb2 + k); let b3 = ldb4(rb3 + k);\n    ${body}\n  }`;
  } else if (variant === 'nn') {
    const lb = load4('ldb4', 'in1', b.dtype);
    inDecl = ['u32', lb.decl];
    loads = [loadFn('lda', 'in0', a.dtype, 'f32'), lb.code];
    const rowsA = Array.from({ length: TM }, (_, i) => `let ra${i} = aBase + min(m0 + ${i}u, M - 1u) * K;`).join('\n  ');
    const body = Array.from({ length: TM }, (_, i) => `acc${i} += lda(ra${i} + k) * bv;`).join(' ');
    loop = `${rowsA}\n  for (var k = 0u; k < K; k++) {\n    let bv = ldb4((bBase + k * N + n0) / 4u);\n    ${body}\n  }`;
  } else {
    loads = [loadFn('lda', 'in0', a.dtype, ct), loadFn('ldb', 'in1', b.dtype, ct)];
    const ia = (i: number) => (d.ta ? `k * M + min(m0 + ${i}u, M - 1u)` : `min(m0 + ${i}u, M - 1u) * K + k`);
    const ib = (j: number) => (d.tb ? `min(n0 + ${j}u, N - 1u) * K + k` : `k * N + min(n0 + ${j}u, N - 1u)`);
    const body = Array.from({ length: TM }, (_, i) => `acc${i} += lda(aBase + ${ia(i)}) * bv;`).join(' ');
    loop =
      `for (var k = 0u; k < K; k++) {\n    let bv = ${vec}(${[0, 1, 2, 3].map((j) => `ldb(bBase + ${ib(j)})`).join(', ')});\n    ${body}\n  }`;
  }
  const k16 = outDtype === 'float16' || outDtype === 'bfloat16';
  const store = Array.from({ length: TM }, (_, i) => {
    const row = `cBase + (m0 + ${i}u) * N + n0`;
    const w = k16
      ? `let e = ${row};\n    out0[e / 2u] = to_bits(acc${i}.x) | (to_bits(acc${i}.y) << 16u);\n    if (n0 + 2u < N) { out0[e / 2u + 1u] = to_bits(acc${i}.z) | (to_bits(acc${i}.w) << 16u); }`
      : `let e = ${row};\n    for (var j = 0u; j < 4u; j++) { if (n0 + j < N) { out0[e + j] = to_bits(acc${i}[j]); } }`;
    return `if (m0 + ${i}u < M) {\n    ${w}\n  }`;
  }).join('\n  ');
  const batchCode = Array.from({ length: rank }, (_, r) => {
    const dd = rank - 1 - r;
    return dd === 0 ? `aBase += rem * u_astr(0u); bBase += rem * u_bstr(0u);` : `{ let c = rem % u_bshape(${dd}u); rem = rem / u_bshape(${dd}u); aBase += c * u_astr(${dd}u); bBase += c * u_bstr(${dd}u); }`;
  }).join('\n  ');
  const key = `${variant}|${a.dtype}|${b.dtype}|${outDtype}|TM${TM}|ta${+d.ta}tb${+d.tb}|r${rank}`;
  const body = () =>
    [
      COMMON,
      ...loads,
      bitsOut,
      `@compute @workgroup_size(${WX}, ${WY})`,
      `fn main(@builtin(global_invocation_id) gid: vec3<u32>) {`,
      `  let M = u_M(); let N = u_N(); let K = u_K();`,
      `  let n0 = gid.x * ${TN}u; let m0 = gid.y * ${TM}u;`,
      `  if (n0 >= N || m0 >= M) { return; }`,
      `  var rem = gid.z; var aBase = 0u; var bBase = 0u;`,
      `  ${batchCode}`,
      `  let cBase = gid.z * M * N;`,
      ...Array.from({ length: TM }, (_, i) => `  var acc${i} = ${vec}(0);`),
      `  ${loop}`,
      `  ${store}`,
      `}`,
    ].join('\n');
  const grid: [number, number, number] = [Math.ceil(d.N / (TN * WX)), Math.ceil(d.M / (TM * WY)), d.batch];
  return { name: 'MatMul', key, inputs: inDecl, outputs: ['u32'], uniforms: u, body, grid };
}

/** Per-batch-axis element offsets of an operand's matrices (0 on broadcast axes), over the output batch shape. */
function batchStrides(t: TensorInfo, batch: readonly number[]): number[] {
  const tb = t.shape.slice(0, -2);
  const mat = t.shape[t.shape.length - 2] * t.shape[t.shape.length - 1];
  const str = stridesOf(tb);
  const off = batch.length - tb.length;
  return batch.map((_, i) => (i < off || tb[i - off] === 1 ? 0 : str[i - off] * mat));
}

/** Records C = op(A)·op(B) into `out` (shape [...batch, M, N]); exported for attention and quantized kernels. */
export function recordMatMul(gpu: WebGPUBackend, a: TensorInfo, b: TensorInfo, out: TensorInfo, ta: boolean, tb: boolean): void {
  const shape = out.shape;
  const batchShape = shape.slice(0, -2);
  const M = shape[shape.length - 2];
  const N = shape[shape.length - 1];
  const K = ta ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
  const batch = sizeOf(batchShape);
  if (batch > MAX_GROUPS) throw new BackendError(`webgpu: MatMul with ${batch} batch matrices exceeds ${MAX_GROUPS}; reshape to fewer, larger matrices`);
  if (sizeOf(shape) === 0) return;
  const floats = isFloat(a.dtype) && isFloat(b.dtype) && isFloat(out.dtype);
  const variant: Variant = floats && !ta && tb && K % 4 === 0 ? 'nt' : floats && !ta && !tb && N % 4 === 0 ? 'nn' : 'generic';
  const bi = { shape: batchShape.length ? batchShape.slice() : [1], as: batchShape.length ? batchStrides(a, batchShape) : [0], bs: batchShape.length ? batchStrides(b, batchShape) : [0] };
  // K = 0 needs nothing special: the loop body never runs and the store writes zeros.
  gpu.run(program(a, b, out.dtype, { M, N, K, batch, ta, tb }, variant, bi), [a, b], [out]);
}

gpuKernel('MatMul', ([a, b], { transposeA, transposeB, dtype, shape }: { transposeA: boolean; transposeB: boolean; dtype: DType; shape: number[] }, gpu) => {
  const N = shape[shape.length - 1];
  return viaWide(gpu, shape, dtype, needsWide(dtype, N), (out) => recordMatMul(gpu, a, b, out, transposeA, transposeB));
});
