/**
 * Reductions (Sum, Mean, Max, Min, ArgMax, ArgMin) over any axes, and Softmax / LogSoftmax along
 * one axis (a row that is entirely −∞ gives zeros / −∞). The input is viewed as kept axes × reduced axes through strides (no transpose). Many
 * short rows: one invocation per output. Few long rows: one 256-invocation workgroup per output
 * with a tree reduction in workgroup memory.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { isFloat, type DType } from '../../../lib/dtype.js';
import { REDUCE_KERNELS, type ReduceKernel } from '../../../lib/kernel_names.js';
import { sizeOf, stridesOf } from '../../../lib/shape.js';
import type { WebGPUBackend } from '../backend.js';
import { grid1d, main1d, MAX_GROUPS, Uniforms, type Program } from '../program.js';
import { bitsFn, COMMON, loadFn, packWord, perWord } from '../wgsl.js';
import { viaWide } from './map.js';
import { collapse, gpuKernel } from './util.js';

const WG = 256;

/** Collapsed kept and reduced dimensions with their input strides. */
function split(shape: readonly number[], axes: readonly number[]) {
  const str = stridesOf(shape);
  const keep = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const k = collapse(keep.map((i) => shape[i]), [keep.map((i) => str[i])]);
  const r = collapse(axes.map((i) => shape[i]), [axes.map((i) => str[i])]);
  return { kShape: k.shape, kStr: k.strides[0], rShape: r.shape, rStr: r.strides[0], len: sizeOf(axes.map((i) => shape[i])) };
}

/** WGSL: `fn koff(o) -> u32` (input offset of output o) and `fn roff(r) -> u32` (offset of reduced index r). */
function offsetFns(kRank: number, rRank: number): string {
  const dec = (fn: string, shape: string, str: string, rank: number) => {
    const lines = [`fn ${fn}(i: u32) -> u32 {`, `  var rem = i; var off = 0u;`];
    for (let d = rank - 1; d >= 0; d--) {
      if (d === 0) lines.push(`  off += rem * u_${str}(0u);`);
      else lines.push(`  off += (rem % u_${shape}(${d}u)) * u_${str}(${d}u); rem = rem / u_${shape}(${d}u);`);
    }
    lines.push('  return off;', '}');
    return lines.join('\n');
  };
  return `${dec('koff', 'kshape', 'kstr', kRank)}\n${dec('roff', 'rshape', 'rstr', rRank)}`;
}

/** Accumulator semantics per reduction: init, step over (acc, x, index), combine of two partials. */
function accCode(kernel: ReduceKernel, ct: 'f32' | 'i32'): { init: string; step: string; combine: string; result: string } {
  const nan = ct === 'f32' ? (x: string) => `is_nan(${x})` : () => 'false';
  switch (kernel) {
    case 'Sum':
    case 'Mean':
      return { init: 'acc = 0;', step: 'acc += x;', combine: 'acc += o_acc;', result: kernel === 'Mean' ? 'acc / f32(u_len())' : 'acc' };
    case 'Max':
    case 'Min': {
      const better = kernel === 'Max' ? '>' : '<';
      const pick = (a: string, x: string) => `if (!${nan(a)} && (${nan(x)} || ${x} ${better} ${a})) { ${a} = ${x}; }`;
      return { init: 'acc = first;', step: pick('acc', 'x'), combine: pick('acc', 'o_acc'), result: 'acc' };
    }
    default: {
      const better = kernel === 'ArgMax' ? '>' : '<';
      // First NaN wins; otherwise the extreme value; ties keep the lower index.
      const step = `if (!${nan('acc')} && (${nan('x')} || x ${better} acc)) { acc = x; best = r; }`;
      const combine =
        `if ((${nan('o_acc')} && (!${nan('acc')} || o_best < best)) || (!${nan('acc')} && !${nan('o_acc')} && ` +
        `(o_acc ${better} acc || (o_acc == acc && o_best < best)))) { acc = o_acc; best = o_best; }`;
      return { init: 'acc = first; best = 0u;', step, combine, result: 'i32(best)' };
    }
  }
}

function reduceProgram(kernel: ReduceKernel, x: TensorInfo, axes: readonly number[], outDtype: DType, nOut: number, wgMode: boolean): Program {
  const s = split(x.shape, axes);
  const ct: 'f32' | 'i32' = kernel === 'Mean' || isFloat(x.dtype) ? 'f32' : 'i32';
  const rt: 'f32' | 'i32' = kernel === 'ArgMax' || kernel === 'ArgMin' ? 'i32' : ct;
  const a = accCode(kernel, ct);
  const u = new Uniforms().u32('nout', nOut).u32('len', s.len).u32('kshape', s.kShape).u32('kstr', s.kStr).u32('rshape', s.rShape).u32('rstr', s.rStr);
  const key = `${kernel}|${x.dtype}|${outDtype}|k${s.kShape.length}r${s.rShape.length}|${wgMode ? 'wg' : 't'}`;
  const k = perWord(outDtype);
  const head = [COMMON, loadFn('ld', 'in0', x.dtype, ct), bitsFn('to_bits', outDtype, rt), offsetFns(s.kShape.length, s.rShape.length)];
  if (!wgMode) {
    const body = () =>
      [
        ...head,
        `fn reduce_at(o: u32) -> ${rt} {`,
        `  let base = koff(o);`,
        `  let first = ld(base + roff(0u));`,
        `  var acc: ${ct}; var best = 0u;`,
        `  ${a.init}`,
        `  for (var r = ${kernel === 'Sum' || kernel === 'Mean' ? 0 : 1}u; r < u_len(); r++) { let x = ld(base + roff(r)); ${a.step} }`,
        `  return ${a.result};`,
        `}`,
        main1d(WG),
        `  let o = idx * ${k}u;`,
        `  if (o >= u_nout()) { return; }`,
        `  out0[idx] = ${packWord(outDtype, 'to_bits', (j) => `reduce_at(min(o + ${j}u, u_nout() - 1u))`, 'o', 'u_nout()')};`,
        `}`,
      ].join('\n');
    return { name: kernel, key, inputs: ['u32'], outputs: ['u32'], uniforms: u, body, grid: grid1d(Math.ceil(nOut / k), WG) };
  }
  const body = () =>
    [
      ...head,
      `var<workgroup> s_acc: array<${ct}, ${WG}>;`,
      `var<workgroup> s_best: array<u32, ${WG}>;`,
      `@compute @workgroup_size(${WG})`,
      `fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {`,
      `  let o = wid.x + wid.y * nwg.x;`,
      `  let live = o < u_nout();`,
      `  let base = koff(min(o, u_nout() - 1u));`,
      `  let first = ld(base + roff(min(t, u_len() - 1u)));`,
      `  var acc: ${ct}; var best = min(t, u_len() - 1u);`,
      `  ${a.init.replace('best = 0u;', 'best = min(t, u_len() - 1u);')}`,
      `  for (var r = t${kernel === 'Sum' || kernel === 'Mean' ? '' : ' + ' + WG + 'u'}; r < u_len(); r += ${WG}u) { let x = ld(base + roff(r)); ${a.step} }`,
      kernel === 'Sum' || kernel === 'Mean' ? `  if (t >= u_len()) { acc = 0; }` : '',
      `  s_acc[t] = acc; s_best[t] = best;`,
      `  workgroupBarrier();`,
      `  for (var w = ${WG / 2}u; w > 0u; w = w >> 1u) {`,
      `    if (t < w) { let o_acc = s_acc[t + w]; let o_best = s_best[t + w]; acc = s_acc[t]; best = s_best[t]; ${a.combine} s_acc[t] = acc; s_best[t] = best; }`,
      `    workgroupBarrier();`,
      `  }`,
      `  if (t == 0u && live) { acc = s_acc[0]; best = s_best[0]; out0[o] = to_bits(${a.result}); }`,
      `}`,
    ].join('\n');
  const gx = Math.min(nOut, MAX_GROUPS);
  return { name: kernel, key, inputs: ['u32'], outputs: ['u32'], uniforms: u, body, grid: [gx, Math.ceil(nOut / gx), 1] };
}

for (const kernel of REDUCE_KERNELS) {
  gpuKernel(kernel, ([x], { axes, dtype, shape }: { axes: number[]; dtype: DType; shape: number[] }, gpu) => {
    const nOut = sizeOf(shape);
    const len = sizeOf(axes.map((a) => x.shape[a]));
    if (nOut === 0) return gpu.makeOutput(shape, dtype);
    if (len === 0) {
      // Sum/Mean over nothing: 0 (Mean: 0/0 = NaN, as the reference).
      const out = gpu.makeOutput(shape, dtype);
      gpu.run(fillProgram(dtype, sizeOf(shape), kernel === 'Mean' ? NaN : 0), [], [out]);
      return out;
    }
    const wgMode = len >= 2048 && nOut <= 512;
    const wide = wgMode && perWord(dtype) > 1;
    const tmpType: DType = isFloat(dtype) ? 'float32' : 'int32';
    return viaWide2(gpu, shape, dtype, wide ? tmpType : null, (out) => gpu.run(reduceProgram(kernel, x, axes, out.dtype, nOut, wgMode), [x], [out]));
  });
}

/** Like viaWide, but with a chosen wide dtype (int32 for integer results). */
function viaWide2(gpu: WebGPUBackend, shape: number[], dtype: DType, wideType: DType | null, f: (out: TensorInfo) => void): TensorInfo {
  if (!wideType) return viaWide(gpu, shape, dtype, false, f);
  const tmp = gpu.makeTemp(shape, wideType);
  f(tmp);
  const out = viaWide(gpu, shape, dtype, false, (o) =>
    gpu.run(
      {
        name: 'Cast', key: `wide|${wideType}|${dtype}`, inputs: ['u32'], outputs: ['u32'],
        uniforms: new Uniforms().u32('n', sizeOf(shape)),
        body: () => castBody(wideType, dtype), grid: grid1d(Math.ceil(sizeOf(shape) / perWord(dtype)), WG),
      },
      [tmp],
      [o],
    ),
  );
  gpu.disposeTemp(tmp);
  return out;
}

function castBody(from: DType, to: DType): string {
  const t = isFloat(from) ? 'f32' : 'i32';
  const k = perWord(to);
  return [
    COMMON, loadFn('ld', 'in0', from, t), bitsFn('to_bits', to, t), main1d(WG),
    `  let o = idx * ${k}u;`, `  if (o >= u_n()) { return; }`,
    `  out0[idx] = ${packWord(to, 'to_bits', (j) => `ld(min(o + ${j}u, u_n() - 1u))`, 'o', 'u_n()')};`, `}`,
  ].join('\n');
}

/** A program writing `value` into every element of a tensor of `n` elements. */
export function fillProgram(dtype: DType, n: number, value: number): Program {
  const k = perWord(dtype);
  const t = isFloat(dtype) ? 'f32' : 'i32';
  const u = new Uniforms()[t === 'f32' ? 'f32' : 'i32']('v', value).u32('n', n);
  return {
    name: 'Fill', key: `${dtype}`, inputs: [], outputs: ['u32'], uniforms: u, grid: grid1d(Math.ceil(n / k), WG),
    body: () => [COMMON, bitsFn('to_bits', dtype, t), main1d(WG), `  let o = idx * ${k}u;`, `  if (o >= u_n()) { return; }`,
      `  out0[idx] = ${packWord(dtype, 'to_bits', () => 'u_v()', 'o', 'u_n()')};`, `}`].join('\n'),
  };
}

// ------------------------------------------------------------------ softmax

function softmaxProgram(x: TensorInfo, axis: number, log: boolean, wgMode: boolean): Program {
  const outer = sizeOf(x.shape.slice(0, axis));
  const len = x.shape[axis];
  const inner = sizeOf(x.shape.slice(axis + 1));
  const rows = outer * inner;
  const u = new Uniforms().u32('rows', rows).u32('len', len).u32('inner', inner);
  const key = `${log ? 'log' : ''}|${x.dtype}|${wgMode ? 'wg' : 't'}`;
  const fin = log ? `x - (log(s) + mref)` : `exp(x - mref) / s`;
  const maxStep = (m: string, v: string) => `if (is_nan(${v}) || is_nan(${m})) { ${m} = ${v} + ${m}; } else { ${m} = max(${m}, ${v}); }`;
  const head = [COMMON, loadFn('ld', 'in0', x.dtype, 'f32')];
  if (!wgMode) {
    const body = () =>
      [
        ...head,
        main1d(WG),
        `  if (idx >= u_rows()) { return; }`,
        `  let inner = u_inner(); let len = u_len();`,
        `  let base = (idx / inner) * len * inner + idx % inner;`,
        `  var m = -inf_f();`,
        `  for (var i = 0u; i < len; i++) { let v = ld(base + i * inner); ${maxStep('m', 'v')} }`,
        `  if (m == -inf_f()) { for (var i = 0u; i < len; i++) { out0[base + i * inner] = ${log ? '-inf_f()' : '0.0'}; } return; }`,
        `  let mref = m;`,
        `  var s = 0.0;`,
        `  for (var i = 0u; i < len; i++) { s += exp(ld(base + i * inner) - mref); }`,
        `  for (var i = 0u; i < len; i++) { let x = ld(base + i * inner); out0[base + i * inner] = ${fin}; }`,
        `}`,
      ].join('\n');
    return { name: log ? 'LogSoftmax' : 'Softmax', key, inputs: ['u32'], outputs: ['f32'], uniforms: u, body, grid: grid1d(rows, WG) };
  }
  const body = () =>
    [
      ...head,
      `var<workgroup> red: array<f32, ${WG}>;`,
      `@compute @workgroup_size(${WG})`,
      `fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {`,
      `  let row = min(wid.x + wid.y * nwg.x, u_rows() - 1u);`,
      `  let len = u_len(); let base = row * len;`,
      `  var m = -inf_f();`,
      `  for (var i = t; i < len; i += ${WG}u) { let v = ld(base + i); ${maxStep('m', 'v')} }`,
      `  red[t] = m; workgroupBarrier();`,
      `  for (var w = ${WG / 2}u; w > 0u; w = w >> 1u) { if (t < w) { var a = red[t]; let b = red[t + w]; ${maxStep('a', 'b')} red[t] = a; } workgroupBarrier(); }`,
      `  m = red[0]; workgroupBarrier();`,
      `  let empty = m == -inf_f();`,
      `  let mref = select(m, 0.0, empty);`,
      `  var s = 0.0;`,
      `  for (var i = t; i < len; i += ${WG}u) { s += exp(ld(base + i) - mref); }`,
      `  red[t] = s; workgroupBarrier();`,
      `  for (var w = ${WG / 2}u; w > 0u; w = w >> 1u) { if (t < w) { red[t] += red[t + w]; } workgroupBarrier(); }`,
      `  s = red[0];`,
      `  if (wid.x + wid.y * nwg.x < u_rows()) { for (var i = t; i < len; i += ${WG}u) { let x = ld(base + i); out0[base + i] = select(${fin}, ${log ? '-inf_f()' : '0.0'}, empty); } }`,
      `}`,
    ].join('\n');
  const gx = Math.min(rows, MAX_GROUPS);
  return { name: log ? 'LogSoftmax' : 'Softmax', key, inputs: ['u32'], outputs: ['f32'], uniforms: u, body, grid: [gx, Math.ceil(rows / gx), 1] };
}

for (const log of [false, true]) {
  gpuKernel(log ? 'LogSoftmax' : 'Softmax', ([x], { axis }: { axis: number }, gpu) => {
    const n = sizeOf(x.shape);
    const inner = sizeOf(x.shape.slice(axis + 1));
    const rows = n / Math.max(1, x.shape[axis]);
    const wgMode = inner === 1 && x.shape[axis] >= 2048 && rows <= 512;
    return viaWide(gpu, x.shape, x.dtype, x.dtype !== 'float32', (out) => {
      if (n > 0) gpu.run(softmaxProgram(x, axis, log, wgMode), [x], [out]);
    });
  });
}
