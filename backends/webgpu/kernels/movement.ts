/**
 * Kernels that move data without arithmetic — Transpose, Slice, BroadcastTo, Tile, Triangle,
 * Gather, Concat, WriteSlice, ScatterRows — as one template: each output element's bits are copied
 * from a source element chosen by an index function (or zeroed). Works on raw storage bits, so
 * every dtype (packed 16/8-bit included) goes through the same code.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import { ArgumentError } from '../../../lib/errors.js';
import { sizeOf, stridesOf, type Shape } from '../../../lib/shape.js';
import type { GpuDataId, WebGPUBackend } from '../backend.js';
import { grid1d, main1d, Uniforms, type Program } from '../program.js';
import { loadFn, perWord } from '../wgsl.js';
import { broadcastStrides, collapse, gpuKernel, offsetCode } from './util.js';

const WG = 256;

/** WGSL: raw bits of element i of binding `buf` for a dtype (low bits). */
export function bitsLoad(fn: string, buf: string, dtype: DType): string {
  const k = perWord(dtype);
  if (k === 1) return `fn ${fn}(i: u32) -> u32 { return ${buf}[i]; }`;
  const w = 32 / k;
  return `fn ${fn}(i: u32) -> u32 { return (${buf}[i / ${k}u] >> ((i % ${k}u) * ${w}u)) & ${(2 ** w - 1) >>> 0}u; }`;
}

/** WGSL expression packing `bits(j)` for the elements of word `idx` (elements past `n` are 0). */
function packBits(dtype: DType, bits: (e: string) => string): string {
  const k = perWord(dtype);
  if (k === 1) return bits('idx');
  const w = 32 / k;
  return Array.from({ length: k }, (_, j) => `(${bits(`min(idx * ${k}u + ${j}u, u_n() - 1u)`)} << ${w * j}u)`).join(' | ');
}

/**
 * Program copying bits: output element e takes source element `src_at(e)` (a WGSL function the
 * caller supplies, returning -1 for zero).
 */
function indexMapProgram(name: string, key: string, dtype: DType, n: number, u: Uniforms, srcAt: string, extra: string[] = []): Program {
  const k = perWord(dtype);
  u.u32('n', n);
  const body = () =>
    [
      bitsLoad('ldbits', 'in0', dtype),
      ...extra,
      srcAt,
      `fn elem(e: u32) -> u32 { let s = src_at(e); return select(0u, ldbits(u32(s)), s >= 0 && e < u_n()); }`,
      main1d(WG),
      `  if (idx * ${k}u >= u_n()) { return; }`,
      `  out0[idx] = ${packBits(dtype, (e) => `elem(${e})`)};`,
      `}`,
    ].join('\n');
  const nIn = 1 + (key.includes('|idx:') ? 1 : 0);
  return { name, key: `${key}|${dtype}`, inputs: Array(nIn).fill('u32'), outputs: ['u32'], uniforms: u, body, grid: grid1d(Math.ceil(n / k), WG) };
}

/** out[e] = src[offset + Σ c_d · strides_d] over `outShape` (after collapsing). */
function stridedCopy(gpu: WebGPUBackend, name: string, x: TensorInfo, outShape: Shape, strides: readonly number[], offset: number): TensorInfo {
  const out = gpu.makeOutput(outShape, x.dtype);
  const n = sizeOf(outShape);
  if (n === 0) return out;
  const c = collapse(outShape, [strides]);
  const rank = c.shape.length;
  const u = new Uniforms().u32('shape', c.shape).u32('str0', c.strides[0]).u32('offset', offset);
  const srcAt = `fn src_at(o: u32) -> i32 {\n    ${offsetCode(rank, [0])}\n    return i32(u_offset() + off0);\n}`;
  gpu.run(indexMapProgram(name, `strided|r${rank}`, x.dtype, n, u, srcAt), [x], [out]);
  return out;
}

gpuKernel('Transpose', ([x], { perm, shape }: { perm: number[]; shape: number[] }, gpu) => {
  const str = stridesOf(x.shape);
  return stridedCopy(gpu, 'Transpose', x, shape, perm.map((p) => str[p]), 0);
});

gpuKernel('Slice', ([x], { begin, size }: { begin: number[]; size: number[] }, gpu) => {
  const str = stridesOf(x.shape);
  return stridedCopy(gpu, 'Slice', x, size, str, begin.reduce((a, b, i) => a + b * str[i], 0));
});

gpuKernel('BroadcastTo', ([x], { shape }: { shape: number[] }, gpu) => stridedCopy(gpu, 'BroadcastTo', x, shape, broadcastStrides(x.shape, shape), 0));

gpuKernel('Tile', ([x], { shape }: { shape: number[] }, gpu) => {
  // Tile = broadcast over the interleaved shape [r0, x0, r1, x1, …] (reps axes have stride 0).
  const str = stridesOf(x.shape);
  const inter: number[] = [];
  const istr: number[] = [];
  x.shape.forEach((d, i) => {
    inter.push(shape[i] / Math.max(d, 1), d);
    istr.push(0, str[i]);
  });
  if (sizeOf(shape) === 0) return gpu.makeOutput(shape, x.dtype);
  const out = stridedCopy(gpu, 'Tile', x, inter, istr, 0);
  return { ...out, shape };
});

gpuKernel('Triangle', ([x], { k, upper }: { k: number; upper: boolean }, gpu) => {
  const out = gpu.makeOutput(x.shape, x.dtype);
  const n = sizeOf(x.shape);
  if (n === 0) return out;
  const R = x.shape[x.shape.length - 2];
  const C = x.shape[x.shape.length - 1];
  const u = new Uniforms().u32('R', R).u32('C', C).i32('k', k);
  const cond = upper ? 'j - i >= u_k()' : 'j - i <= u_k()';
  const srcAt = `fn src_at(o: u32) -> i32 { let j = i32(o % u_C()); let i = i32((o / u_C()) % u_R()); return select(-1, i32(o), ${cond}); }`;
  gpu.run(indexMapProgram('Triangle', `tri|${upper}`, x.dtype, n, u, srcAt), [x], [out]);
  return out;
});

gpuKernel('Gather', ([x, indices], { axis, shape }: { axis: number; shape: number[] }, gpu) => {
  const len = x.shape[axis];
  const inner = sizeOf(x.shape.slice(axis + 1));
  const nIdx = sizeOf(indices.shape);
  const shadow = (indices.dataId as GpuDataId).shadow;
  if (shadow) {
    for (let i = 0; i < shadow.length; i++) {
      const v = shadow[i];
      if (!(v >= 0 && v < len)) {
        throw new ArgumentError(`gather: index ${v} at position ${i} is out of range for axis ${axis} of size ${len} (expected 0 … ${len - 1})`);
      }
    }
  }
  const out = gpu.makeOutput(shape, x.dtype);
  const n = sizeOf(shape);
  if (n === 0) return out;
  const u = new Uniforms().u32('len', len).u32('inner', inner).u32('nidx', nIdx);
  // Out-of-range indices computed on the GPU (no host copy to check) give zeros.
  const srcAt =
    `fn src_at(o: u32) -> i32 {\n  let r = o % u_inner(); let q = o / u_inner(); let kk = q % u_nidx(); let a = q / u_nidx();\n` +
    `  let id = ldidx(kk);\n  if (id < 0 || u32(id) >= u_len()) { return -1; }\n  return i32((a * u_len() + u32(id)) * u_inner() + r);\n}`;
  gpu.run(indexMapProgram('Gather', `gather|idx:${indices.dtype}`, x.dtype, n, u, srcAt, [loadFn('ldidx', 'in1', indices.dtype, 'i32')]), [x, indices], [out]);
  return out;
});

// ------------------------------------------------------------------ in-place region writes

/**
 * Records dst[begin + c] = src[c] for every coordinate c of src, in place. Each invocation owns one
 * destination word: per source row when rows cannot share a word, else over the region's
 * bounding range with a per-element box test.
 */
export function recordWriteSlice(gpu: WebGPUBackend, dst: TensorInfo, src: TensorInfo, begin: readonly number[]): void {
  const n = sizeOf(src.shape);
  if (n === 0) return;
  const k = perWord(dst.dtype);
  const dstStr = stridesOf(dst.shape);
  const c = collapse(src.shape, [stridesOf(src.shape), dstStr]);
  const rank = c.shape.length;
  const inner = c.shape[rank - 1];
  const innerContig = c.strides[1][rank - 1] === 1;
  const rowStride = rank > 1 ? Math.min(...c.strides[1].slice(0, -1)) : Infinity;
  const offset = begin.reduce((a, b, i) => a + b * dstStr[i], 0);
  const u = new Uniforms().u32('shape', c.shape).u32('sstr', c.strides[0]).u32('dstr', c.strides[1]).u32('offset', offset);
  const rowMode = k === 1 || (innerContig && rowStride - inner >= k);
  const dec = (o: string, outVar: string, strName: string, upto: number) => {
    const rem = `rem_${outVar}`;
    const lines = [`var ${rem} = ${o}; var ${outVar} = 0u;`];
    for (let d = upto - 1; d >= 0; d--) {
      if (d === 0) lines.push(`${outVar} += ${rem} * u_${strName}(0u);`);
      else lines.push(`${outVar} += (${rem} % u_shape(${d}u)) * u_${strName}(${d}u); ${rem} = ${rem} / u_shape(${d}u);`);
    }
    return lines.join(' ');
  };
  const bl = bitsLoad('ldbits', 'in0', src.dtype);
  const w = 32 / k;
  const mask = (2 ** w - 1) >>> 0;
  let body: () => string;
  let threads: number;
  let key: string;
  if (rowMode && k > 1) {
    // One invocation per (row, word of the row's span).
    const rows = n / inner;
    const span = Math.ceil(inner / k) + 1;
    u.u32('rows', rows).u32('span', span);
    threads = rows * span;
    key = `ws|row|r${rank}`;
    body = () =>
      [
        bl,
        main1d(WG),
        `  if (idx >= u_rows() * u_span()) { return; }`,
        `  let row = idx / u_span(); let wi = idx % u_span();`,
        `  let inner = u_shape(${rank - 1}u);`,
        `  var dOff = u_offset(); var sOff = 0u;`,
        `  ${dec('row', 'dd', 'dstr', rank - 1)} dOff += dd;`,
        `  ${dec('row', 'ss', 'sstr', rank - 1)} sOff += ss;`,
        `  let word = dOff / ${k}u + wi;`,
        `  if (word * ${k}u >= dOff + inner) { return; }`,
        `  var v = out0[word];`,
        `  for (var j = 0u; j < ${k}u; j++) {`,
        `    let e = word * ${k}u + j;`,
        `    if (e >= dOff && e < dOff + inner) { let b = ldbits(sOff + e - dOff); v = (v & ~(${mask}u << (j * ${w}u))) | (b << (j * ${w}u)); }`,
        `  }`,
        `  out0[word] = v;`,
        `}`,
      ].join('\n');
  } else if (k === 1) {
    threads = n;
    key = `ws|elem|r${rank}`;
    body = () =>
      [bl, main1d(WG), `  if (idx >= u_n()) { return; }`, `  ${dec('idx', 'so', 'sstr', rank)}`, `  ${dec('idx', 'dd', 'dstr', rank)}`, `  out0[u_offset() + dd] = ldbits(so);`, `}`].join('\n');
    u.u32('n', n);
  } else {
    // Dense packed region whose rows may share words: walk the bounding range of destination words.
    const last = offset + c.shape.reduce((a, d, i) => a + (d - 1) * c.strides[1][i], 0);
    const firstWord = Math.floor(offset / k);
    const words = Math.floor(last / k) - firstWord + 1;
    u.u32('first', firstWord).u32('words', words);
    threads = words;
    key = `ws|box|r${rank}`;
    // Destination coordinates of element e relative to `offset`, tested against the box, by
    // decomposing along the destination strides (sorted outer → inner, as collapse keeps them).
    const test = Array.from({ length: rank }, (_, d) => `{ let q = rel / u_dstr(${d}u); rel = rel % u_dstr(${d}u); if (q >= u_shape(${d}u)) { inside = false; } so += q * u_sstr(${d}u); }`).join(' ');
    body = () =>
      [
        bl,
        main1d(WG),
        `  if (idx >= u_words()) { return; }`,
        `  let word = u_first() + idx;`,
        `  var v = out0[word];`,
        `  for (var j = 0u; j < ${k}u; j++) {`,
        `    let e = word * ${k}u + j;`,
        `    if (e < u_offset()) { continue; }`,
        `    var rel = e - u_offset(); var inside = true; var so = 0u;`,
        `    ${test}`,
        `    if (inside && rel == 0u) { let b = ldbits(so); v = (v & ~(${mask}u << (j * ${w}u))) | (b << (j * ${w}u)); }`,
        `  }`,
        `  out0[word] = v;`,
        `}`,
      ].join('\n');
  }
  gpu.run({ name: 'WriteSlice', key: `${key}|${dst.dtype}`, inputs: ['u32'], outputs: ['u32'], uniforms: u, body, grid: grid1d(threads, WG) }, [src], [dst]);
}

gpuKernel('WriteSlice', ([dst, src], { begin }: { begin: number[] }, gpu) => {
  recordWriteSlice(gpu, dst, src, begin);
  return [];
});

gpuKernel('Concat', (xs, { axis, shape }: { axis: number; shape: number[] }, gpu) => {
  const out = gpu.makeOutput(shape, xs[0].dtype);
  let at = 0;
  for (const x of xs) {
    recordWriteSlice(gpu, out, x, shape.map((_, i) => (i === axis ? at : 0)));
    at += x.shape[axis];
  }
  return out;
});

gpuKernel('ScatterRows', ([src, indices], { rows }: { rows: number }, gpu) => {
  const rowLen = sizeOf(src.shape.slice(1));
  const shape = [rows, ...src.shape.slice(1)];
  const out = gpu.makeOutput(shape, src.dtype);
  const n = sizeOf(shape);
  if (n === 0) return out;
  // Pass 1: inverse map inv[row] = i (or -1); pass 2: each output word gathers from its row's source.
  const inv = gpu.makeTemp([rows], 'int32');
  const nIdx = sizeOf(indices.shape);
  gpu.run(
    {
      name: 'ScatterRows', key: `inv|${indices.dtype}`, inputs: ['u32'], outputs: ['u32'],
      uniforms: new Uniforms().u32('rows', rows).u32('nidx', nIdx), grid: grid1d(rows, WG),
      body: () =>
        [loadFn('ldidx', 'in0', indices.dtype, 'i32'), main1d(WG), `  if (idx >= u_rows()) { return; }`,
          `  var found = -1;`, `  for (var i = 0u; i < u_nidx(); i++) { if (ldidx(i) == i32(idx)) { found = i32(i); } }`,
          `  out0[idx] = bitcast<u32>(found);`, `}`].join('\n'),
    },
    [indices],
    [inv],
  );
  const u = new Uniforms().u32('row', rowLen);
  const srcAt = `fn src_at(o: u32) -> i32 { let r = bitcast<i32>(in1[o / u_row()]); return select(-1, r * i32(u_row()) + i32(o % u_row()), r >= 0); }`;
  gpu.run(indexMapProgram('ScatterRows', 'scatter|idx:int32', src.dtype, n, u, srcAt), [src, inv], [out]);
  gpu.disposeTemp(inv);
  return out;
});
