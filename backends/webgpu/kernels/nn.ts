/**
 * Normalisations over the last axis (LayerNorm, RmsNorm with Hugging Face's rounding) and rotary
 * embeddings. Norms run one invocation per row for short rows, one workgroup per row for long
 * ones; outputs are written word by word when rows are word-aligned, else through a float32
 * temporary.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import { sizeOf } from '../../../lib/shape.js';
import type { WebGPUBackend } from '../backend.js';
import { grid1d, main1d, MAX_GROUPS, Uniforms, type Program } from '../program.js';
import { bitsFn, COMMON, loadFn, packWord, perWord } from '../wgsl.js';
import { viaWide } from './map.js';
import { broadcastStrides, collapse, gpuKernel, needsWide } from './util.js';

const WG = 64;

/** f32 value rounded to `dtype`'s precision (identity for float32). */
function roundTo(dtype: DType): string {
  if (dtype === 'float16') return 'fn round_x(v: f32) -> f32 { return f16_val(f16_bits(v)); }';
  if (dtype === 'bfloat16') return 'fn round_x(v: f32) -> f32 { return bf16_val(bf16_bits(v)); }';
  return 'fn round_x(v: f32) -> f32 { return v; }';
}

interface NormSpec {
  kind: 'layer' | 'rms';
  hasWeight: boolean;
  hasBias: boolean;
  eps: number;
}

function normProgram(spec: NormSpec, inputs: readonly TensorInfo[], out: TensorInfo, wgMode: boolean): Program {
  const [x] = inputs;
  const D = x.shape[x.shape.length - 1];
  const rows = D ? sizeOf(x.shape) / D : 0;
  const k = perWord(out.dtype);
  const u = new Uniforms().u32('rows', rows).u32('D', D).f32('eps', spec.eps);
  const w = spec.hasWeight ? inputs[1] : null;
  const b = spec.hasBias ? inputs[spec.hasWeight ? 2 : 1] : null;
  const loads = [loadFn('ldx', 'in0', x.dtype, 'f32')];
  if (w) loads.push(loadFn('ldw', 'in1', w.dtype, 'f32'));
  if (b) loads.push(loadFn('ldb', `in${w ? 2 : 1}`, b.dtype, 'f32'));
  // Value of element f of the row, given the row statistics.
  const val =
    spec.kind === 'layer'
      ? `(ldx(base + f) - mean) * inv${w ? ' * ldw(f)' : ''}${b ? ' + ldb(f)' : ''}`
      : w
        ? `round_x(ldx(base + f) * inv) * ldw(f)`
        : `ldx(base + f) * inv`;
  const key = `${spec.kind}|${inputs.map((t) => t.dtype).join(',')}|${out.dtype}|${+!!w}${+!!b}|${wgMode ? 'wg' : 't'}`;
  const storeLoop = (start: string, step: string) =>
    [
      `  for (var wi = ${start}; wi * ${k}u < D; wi += ${step}) {`,
      `    let e0 = wi * ${k}u;`,
      `    out0[base / ${k}u + wi] = ${packWord(out.dtype, 'to_bits', (j) => `value(min(e0 + ${j}u, D - 1u), base, mean, inv)`, 'e0', 'D')};`,
      `  }`,
    ].join('\n');
  const head = [COMMON, roundTo(x.dtype), ...loads, bitsFn('to_bits', out.dtype, 'f32'), `fn value(f: u32, base: u32, mean: f32, inv: f32) -> f32 { return ${val}; }`];
  if (!wgMode) {
    const body = () =>
      [
        ...head,
        main1d(256),
        `  if (idx >= u_rows()) { return; }`,
        `  let D = u_D(); let base = idx * D;`,
        spec.kind === 'layer'
          ? `  var s = 0.0; for (var f = 0u; f < D; f++) { s += ldx(base + f); } let mean = s / f32(D);\n` +
            `  var v = 0.0; for (var f = 0u; f < D; f++) { let d = ldx(base + f) - mean; v += d * d; }\n` +
            `  let inv = 1.0 / sqrt(v / f32(D) + u_eps());`
          : `  let mean = 0.0; var ss = 0.0; for (var f = 0u; f < D; f++) { let t = ldx(base + f); ss += t * t; }\n  let inv = 1.0 / sqrt(ss / f32(D) + u_eps());`,
        storeLoop('0u', '1u'),
        `}`,
      ].join('\n');
    return { name: spec.kind === 'layer' ? 'LayerNorm' : 'RmsNorm', key, inputs: inputs.map(() => 'u32'), outputs: ['u32'], uniforms: u, body, grid: grid1d(rows, 256) };
  }
  const reduce = (v: string) =>
    `  red[t] = ${v}; workgroupBarrier();\n  for (var w = ${WG / 2}u; w > 0u; w = w >> 1u) { if (t < w) { red[t] += red[t + w]; } workgroupBarrier(); }`;
  const body = () =>
    [
      ...head,
      `var<workgroup> red: array<f32, ${WG}>;`,
      `@compute @workgroup_size(${WG})`,
      `fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {`,
      `  let row = wid.x + wid.y * nwg.x;`,
      `  let D = u_D(); let base = min(row, u_rows() - 1u) * D;`,
      spec.kind === 'layer'
        ? `  var s = 0.0; for (var f = t; f < D; f += ${WG}u) { s += ldx(base + f); }\n${reduce('s')}\n  let mean = red[0] / f32(D); workgroupBarrier();\n` +
          `  var v = 0.0; for (var f = t; f < D; f += ${WG}u) { let d = ldx(base + f) - mean; v += d * d; }\n${reduce('v')}\n` +
          `  let inv = 1.0 / sqrt(red[0] / f32(D) + u_eps());`
        : `  let mean = 0.0; var ss = 0.0; for (var f = t; f < D; f += ${WG}u) { let q = ldx(base + f); ss += q * q; }\n${reduce('ss')}\n` +
          `  let inv = 1.0 / sqrt(red[0] / f32(D) + u_eps());`,
      `  if (row >= u_rows()) { return; }`,
      storeLoop('t', `${WG}u`),
      `}`,
    ].join('\n');
  const gx = Math.min(rows, MAX_GROUPS);
  return { name: spec.kind === 'layer' ? 'LayerNorm' : 'RmsNorm', key, inputs: inputs.map(() => 'u32'), outputs: ['u32'], uniforms: u, body, grid: [gx, Math.ceil(rows / gx), 1] };
}

function runNorm(gpu: WebGPUBackend, spec: NormSpec, inputs: readonly TensorInfo[]): TensorInfo {
  const [x] = inputs;
  const D = x.shape[x.shape.length - 1] ?? 1;
  const rows = D ? sizeOf(x.shape) / D : 0;
  const wgMode = D >= 512 && rows <= 1024;
  return viaWide(gpu, x.shape, x.dtype, needsWide(x.dtype, D), (out) => {
    if (rows > 0 && D > 0) gpu.run(normProgram(spec, inputs, out, wgMode), inputs, [out]);
  });
}

gpuKernel('LayerNorm', (inputs, { eps, hasWeight, hasBias }: { eps: number; hasWeight: boolean; hasBias: boolean }, gpu) =>
  runNorm(gpu, { kind: 'layer', eps, hasWeight, hasBias }, inputs),
);

gpuKernel('RmsNorm', (inputs, { eps, hasWeight }: { eps: number; hasWeight: boolean }, gpu) =>
  runNorm(gpu, { kind: 'rms', eps, hasWeight, hasBias: false }, inputs),
);

// ------------------------------------------------------------------ rotary embedding

gpuKernel('Rope', ([x, cos, sin], { interleaved }: { interleaved: boolean }, gpu) => {
  const D = x.shape[x.shape.length - 1];
  const half = cos.shape[cos.shape.length - 1];
  const n = sizeOf(x.shape);
  const out = gpu.makeOutput(x.shape, x.dtype);
  if (n === 0) return out;
  // cos/sin are indexed by the flat angle index (row · half + pair) through broadcasting strides.
  const angleShape = [...x.shape.slice(0, -1), half];
  const c = collapse(angleShape, [broadcastStrides(cos.shape, angleShape)]);
  const rank = c.shape.length;
  const k = perWord(x.dtype);
  const u = new Uniforms().u32('n', n).u32('D', D).u32('half', half).u32('shape', c.shape).u32('str0', c.strides[0]);
  const dec = Array.from({ length: rank }, (_, r) => {
    const d = rank - 1 - r;
    return d === 0 ? `off += rem * u_str0(0u);` : `off += (rem % u_shape(${d}u)) * u_str0(${d}u); rem = rem / u_shape(${d}u);`;
  }).join(' ');
  const pair = interleaved
    ? `let p = f / 2u; let first = (f & 1u) == 0u; let i0 = row * D + 2u * p; let i1 = i0 + 1u;`
    : `let p = select(f - h, f, f < h); let first = f < h; let i0 = row * D + p; let i1 = i0 + h;`;
  const body = () =>
    [
      COMMON,
      loadFn('ldx', 'in0', x.dtype, 'f32'), loadFn('ldc', 'in1', cos.dtype, 'f32'), loadFn('lds', 'in2', sin.dtype, 'f32'),
      bitsFn('to_bits', x.dtype, 'f32'),
      `fn angle(a: u32) -> u32 { var rem = a; var off = 0u; ${dec} return off; }`,
      `fn value(e: u32) -> f32 {`,
      `  let D = u_D(); let h = u_half(); let row = e / D; let f = e % D;`,
      `  if (f >= 2u * h) { return ldx(e); }`,
      `  ${pair}`,
      `  let ai = angle(row * h + p); let co = ldc(ai); let si = lds(ai);`,
      `  let a = ldx(i0); let b = ldx(i1);`,
      `  return select(b * co + a * si, a * co - b * si, first);`,
      `}`,
      main1d(256),
      `  let o = idx * ${k}u;`,
      `  if (o >= u_n()) { return; }`,
      `  out0[idx] = ${packWord(x.dtype, 'to_bits', (j) => `value(min(o + ${j}u, u_n() - 1u))`, 'o', 'u_n()')};`,
      `}`,
    ].join('\n');
  const key = `${x.dtype},${cos.dtype},${sin.dtype}|${interleaved}|r${rank}`;
  gpu.run({ name: 'Rope', key, inputs: ['u32', 'u32', 'u32'], outputs: ['u32'], uniforms: u, body, grid: grid1d(Math.ceil(n / k), 256) }, [x, cos, sin], [out]);
  return out;
});

