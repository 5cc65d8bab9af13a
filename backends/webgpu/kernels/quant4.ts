/**
 * 4-bit FP4/NF4 kernels (docs/quantization.md §2) and the blockwise 8-bit quantization of double
 * quantization. Quantization is bit-exact with the CPU reference (exact reciprocals, IEEE
 * multiplies, the same thresholds). Quant4MatMul dequantizes inside the shader: each invocation
 * decodes the codes of its four weight rows as it walks K, so W is never materialised.
 */

import type { Quant4MatMulAttrs } from '../../../lib/kernel_names.js';
import type { TensorInfo } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import type { QuantType } from '../../../lib/quant_codes.js';
import { sizeOf, type Shape } from '../../../lib/shape.js';
import type { WebGPUBackend } from '../backend.js';
import { grid1d, main1d, Uniforms, type Program } from '../program.js';
import { bitsFn, COMMON, loadFn, packWord, perWord } from '../wgsl.js';
import { viaWide } from './map.js';
import { code4Fn, enc4Fn, encoderUniforms, QUANT_WGSL } from './quant_util.js';
import { gpuKernel, needsWide } from './util.js';

const WG = 256;

/** Per-block absmax (and its exact reciprocal into `inv`) of the first `n` elements of `x`. */
function blockAbsmax(gpu: WebGPUBackend, x: TensorInfo, n: number, blocksize: number, absmax: TensorInfo, inv: TensorInfo): void {
  const nb = Math.ceil(n / blocksize);
  const u = new Uniforms().u32('n', n).u32('bs', blocksize).u32('nb', nb);
  const body = () =>
    [
      COMMON, QUANT_WGSL, loadFn('ld', 'in0', x.dtype, 'f32'), main1d(WG),
      `  if (idx >= u_nb()) { return; }`,
      `  let start = idx * u_bs(); let end = min(u_n(), start + u_bs());`,
      `  var m = 0.0;`,
      `  for (var i = start; i < end; i++) { let a = abs(ld(i)); if (a > m) { m = a; } }`,
      `  out0[idx] = m;`,
      `  out1[idx] = select(div_rn(1.0, m), 0.0, m == 0.0);`,
      `}`,
    ].join('\n');
  gpu.run({ name: 'BlockAbsmax', key: x.dtype, inputs: ['u32'], outputs: ['f32', 'f32'], uniforms: u, body, grid: grid1d(nb, WG) }, [x], [absmax, inv]);
}

gpuKernel('Quantize4bit', ([w], { quantType, blocksize }: { quantType: QuantType; blocksize: number }, gpu) => {
  const n = sizeOf(w.shape);
  const nb = Math.ceil(n / blocksize);
  const bytes = Math.ceil(n / 2);
  const packed = gpu.makeOutput([bytes, 1], 'uint8');
  const absmax = gpu.makeOutput([nb], 'float32');
  if (n === 0) return [packed, absmax];
  const inv = gpu.makeTemp([nb], 'float32');
  blockAbsmax(gpu, w, n, blocksize, absmax, inv);
  // One invocation per output word: 4 bytes = 8 codes; the odd last nibble is the code of 0.
  const u = encoderUniforms(new Uniforms().u32('n', n).u32('bs', blocksize).u32('bytes', bytes), quantType);
  const body = () =>
    [
      COMMON, QUANT_WGSL, loadFn('ld', 'in0', w.dtype, 'f32'), enc4Fn(quantType),
      `fn code_of(i: u32) -> u32 { if (i >= u_n()) { return enc4(0.0); } return enc4(ld(i) * in1[i / u_bs()]); }`,
      main1d(WG),
      `  if (idx * 4u >= u_bytes()) { return; }`,
      `  var word = 0u;`,
      `  for (var j = 0u; j < 4u; j++) {`,
      `    let byteIdx = idx * 4u + j;`,
      `    if (byteIdx < u_bytes()) { word = word | (((code_of(2u * byteIdx) << 4u) | code_of(2u * byteIdx + 1u)) << (8u * j)); }`,
      `  }`,
      `  out0[idx] = word;`,
      `}`,
    ].join('\n');
  gpu.run({ name: 'Quantize4bit', key: `${w.dtype}|${quantType}`, inputs: ['u32', 'f32'], outputs: ['u32'], uniforms: u, body, grid: grid1d(Math.ceil(bytes / 4), WG) }, [w, inv], [packed]);
  gpu.disposeTemp(inv);
  return [packed, absmax];
});

/** WGSL `fn am(b: u32) -> f32`: block b's float32 absmax, restored from double quantization when nested. */
function absmaxFn(nested: boolean, absBuf: string, nestedAbs: string, nestedMap: string): string {
  return nested
    ? `fn am(b: u32) -> f32 { return (${nestedMap}[byte_at(${absBuf}[b >> 2u], b)] * ${nestedAbs}[b >> 8u]) + u_offset(); }`
    : `fn am(b: u32) -> f32 { return bitcast<f32>(${absBuf}[b]); }`;
}

gpuKernel('Dequantize4bit', (inputs, attrs: { blocksize: number; shape: Shape; dtype: DType; nested: boolean; offset: number }, gpu) => {
  const { blocksize, shape, dtype, nested, offset } = attrs;
  const n = sizeOf(shape);
  const out = gpu.makeOutput(shape, dtype);
  if (n === 0) return out;
  const k = perWord(dtype);
  const u = new Uniforms().u32('n', n).u32('bs', blocksize).f32('offset', offset);
  const body = () =>
    [
      COMMON, QUANT_WGSL, code4Fn('in0'), absmaxFn(nested, 'in1', 'in3', 'in4'), bitsFn('to_bits', dtype, 'f32'),
      `fn value(i: u32) -> f32 { return in2[code4(i)] * am(i / u_bs()); }`,
      main1d(WG),
      `  let o = idx * ${k}u;`,
      `  if (o >= u_n()) { return; }`,
      `  out0[idx] = ${packWord(dtype, 'to_bits', (j) => `value(min(o + ${j}u, u_n() - 1u))`, 'o', 'u_n()')};`,
      `}`,
    ].join('\n');
  const ins = nested ? inputs.slice(0, 5) : inputs.slice(0, 3);
  const types: Program['inputs'] = nested ? ['u32', 'u32', 'f32', 'f32', 'f32'] : ['u32', 'u32', 'f32'];
  gpu.run({ name: 'Dequantize4bit', key: `${dtype}|${nested}`, inputs: types, outputs: ['u32'], uniforms: u, body, grid: grid1d(Math.ceil(n / k), WG) }, ins, [out]);
  return out;
});

gpuKernel('QuantizeBlockwise8', ([x, map], { blocksize }: { blocksize: number }, gpu) => {
  const n = sizeOf(x.shape);
  const nb = Math.ceil(n / blocksize);
  const codes = gpu.makeOutput([n], 'uint8');
  const absmax = gpu.makeOutput([nb], 'float32');
  if (n === 0) return [codes, absmax];
  const inv = gpu.makeTemp([nb], 'float32');
  blockAbsmax(gpu, x, n, blocksize, absmax, inv);
  const u = new Uniforms().u32('n', n).u32('bs', blocksize);
  // Nearest level of the sorted 256-entry map, an exact tie to the lower index; NaN → 0.
  const body = () =>
    [
      COMMON, QUANT_WGSL, loadFn('ld', 'in0', x.dtype, 'f32'),
      `fn enc8(s: f32) -> u32 {`,
      `  if (!(s > in1[0])) { return 0u; }`,
      `  if (s >= in1[255]) { return 255u; }`,
      `  var lo = 0u; var hi = 255u;`,
      `  while (hi - lo > 1u) { let mid = (lo + hi) >> 1u; if (in1[mid] <= s) { lo = mid; } else { hi = mid; } }`,
      `  return select(lo, hi, s - in1[lo] > in1[hi] - s);`,
      `}`,
      `fn code_of(i: u32) -> u32 { let b = i / u_bs(); if (in3[b] == 0.0) { return enc8(0.0); } return enc8(ld(i) * in2[b]); }`,
      main1d(WG),
      `  let o = idx * 4u;`,
      `  if (o >= u_n()) { return; }`,
      `  var word = 0u;`,
      `  for (var j = 0u; j < 4u; j++) { if (o + j < u_n()) { word = word | (code_of(o + j) << (8u * j)); } }`,
      `  out0[idx] = word;`,
      `}`,
    ].join('\n');
  gpu.run({ name: 'QuantizeBlockwise8', key: x.dtype, inputs: ['u32', 'f32', 'f32', 'f32'], outputs: ['u32'], uniforms: u, body, grid: grid1d(Math.ceil(n / 4), WG) }, [x, map, inv, absmax], [codes]);
  gpu.disposeTemp(inv);
  return [codes, absmax];
});

gpuKernel('DequantizeBlockwise8', ([codes, absmax, map], { blocksize, offset }: { blocksize: number; offset: number }, gpu) => {
  const n = sizeOf(codes.shape);
  const out = gpu.makeOutput([n], 'float32');
  if (n === 0) return out;
  const u = new Uniforms().u32('n', n).u32('bs', blocksize).f32('offset', offset);
  const body = () =>
    [
      QUANT_WGSL, main1d(WG),
      `  if (idx >= u_n()) { return; }`,
      `  out0[idx] = (in2[byte_at(in0[idx >> 2u], idx)] * in1[idx / u_bs()]) + u_offset();`,
      `}`,
    ].join('\n');
  gpu.run({ name: 'DequantizeBlockwise8', key: '', inputs: ['u32', 'f32', 'f32'], outputs: ['f32'], uniforms: u, body, grid: grid1d(n, WG) }, [codes, absmax, map], [out]);
  return out;
});


/** WGSL `fn rnd(v: f32) -> f32`: rounding to the compute dtype (identity for float32). */
function rounder(dtype: DType): string {
  if (dtype === 'float16') return 'fn rnd(v: f32) -> f32 { return f16_val(f16_bits(v)); }';
  if (dtype === 'bfloat16') return 'fn rnd(v: f32) -> f32 { return bf16_val(bf16_bits(v)); }';
  return 'fn rnd(v: f32) -> f32 { return v; }';
}

gpuKernel('Quant4MatMul', (inputs, attrs: Quant4MatMulAttrs, gpu) => {
  const { blocksize, N, K, dtype, nested, offset, hasBias } = attrs;
  const x = inputs[0];
  const T = x.shape[0];
  const nIn = nested ? 6 : 4;
  const bias = hasBias ? inputs[nIn] : null;
  const shape = [T, N];
  const outDtype = attrs.outDtype ?? dtype;
  return viaWide(gpu, shape, outDtype, needsWide(outDtype, N), (out) => {
    if (T * N === 0) return;
    const u = new Uniforms().u32('T', T).u32('N', N).u32('K', K).u32('bs', blocksize).f32('offset', offset);
    const k16 = out.dtype === 'float16' || out.dtype === 'bfloat16';
    // Each invocation: TM rows t × four columns n0…n0+3; each weight row is decoded once per
    // invocation and used for its TM rows. With K % 8 = 0 codes are decoded a word (8 codes) at a time.
    const TM = T >= 4 ? 4 : 1;
    const rows = Array.from({ length: TM }, (_, i) => i);
    const fma = (kExpr: string) => rows.map((i) => `acc${i}[j] += rnd(ldx(t[${i}] * K + ${kExpr})) * w;`).join(' ');
    const inner =
      K % 8 === 0
        ? [
            `    for (var wi = 0u; wi < K / 8u; wi++) {`,
            `      let k = wi * 8u; let word = in1[(base + k) / 8u]; let a = am((base + k) / bs);`,
            `      for (var q = 0u; q < 8u; q++) {`,
            `        let byte = (word >> (8u * (q >> 1u))) & 0xffu;`,
            `        let w = lut[select(byte >> 4u, byte & 15u, (q & 1u) == 1u)] * a;`,
            `        ${fma('k + q')}`,
            `      }`,
            `    }`,
          ]
        : [
            `    var k = 0u;`,
            `    loop {`,
            `      if (k >= K) { break; }`,
            // Walk block by block: one absmax per block (blocks may straddle rows).
            `      let b = (base + k) / bs; let end = min(K, (b + 1u) * bs - base); let a = am(b);`,
            `      for (; k < end; k++) { let w = lut[code4(base + k)] * a; ${fma('k')} }`,
            `    }`,
          ];
    const body = () =>
      [
        COMMON, QUANT_WGSL, rounder(dtype), loadFn('ldx', 'in0', x.dtype, 'f32'), code4Fn('in1'), absmaxFn(nested, 'in2', 'in4', 'in5'),
        bias ? loadFn('ldb', `in${nIn}`, bias.dtype, 'f32') : '',
        bitsFn('to_bits', out.dtype, 'f32'),
        `@compute @workgroup_size(64)`,
        `fn main(@builtin(global_invocation_id) gid: vec3<u32>) {`,
        `  let N = u_N(); let K = u_K(); let bs = u_bs(); let T = u_T();`,
        `  let n0 = gid.x * 4u; let t0 = gid.y * ${TM}u;`,
        `  if (n0 >= N || t0 >= T) { return; }`,
        `  var t: array<u32, ${TM}>; for (var i = 0u; i < ${TM}u; i++) { t[i] = min(t0 + i, T - 1u); }`,
        `  var lut: array<f32, 16>;`,
        `  for (var c = 0u; c < 16u; c++) { lut[c] = rnd(in3[c]); }`,
        ...rows.map((i) => `  var acc${i} = vec4<f32>(0.0);`),
        `  for (var j = 0u; j < 4u; j++) {`,
        `    let base = min(n0 + j, N - 1u) * K;`,
        ...inner,
        `  }`,
        ...rows.map((i) =>
          [
            `  if (t0 + ${i}u < T) {`,
            bias
              ? `    for (var j = 0u; j < 4u; j++) { acc${i}[j] = rnd(acc${i}[j] + rnd(ldb(min(n0 + j, N - 1u)))); }`
              : `    for (var j = 0u; j < 4u; j++) { acc${i}[j] = rnd(acc${i}[j]); }`,
            `    let e = t[${i}] * N + n0;`,
            k16
              ? `    out0[e / 2u] = to_bits(acc${i}.x) | (to_bits(acc${i}.y) << 16u);\n    if (n0 + 2u < N) { out0[e / 2u + 1u] = to_bits(acc${i}.z) | (to_bits(acc${i}.w) << 16u); }`
              : `    for (var j = 0u; j < 4u; j++) { if (n0 + j < N) { out0[e + j] = to_bits(acc${i}[j]); } }`,
            `  }`,
          ].join('\n'),
        ),
        `}`,
      ].join('\n');
    const ins = [x, inputs[1], inputs[2], inputs[3], ...(nested ? [inputs[4], inputs[5]] : []), ...(bias ? [bias] : [])];
    const types: Program['inputs'] = ['u32', 'u32', nested ? 'u32' : 'u32', 'f32', ...(nested ? ['f32', 'f32'] as const : []), ...(bias ? ['u32'] as const : [])];
    const key = `${x.dtype}|${dtype}|${out.dtype}|${nested}|${bias?.dtype ?? ''}|TM${TM}|${K % 8 === 0}`;
    gpu.run({ name: 'Quant4MatMul', key, inputs: types, outputs: ['u32'], uniforms: u, body, grid: [Math.ceil(N / 256), Math.ceil(T / TM), 1] }, ins, [out]);
  });
});
