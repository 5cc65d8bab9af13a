/**
 * TopK along the last axis, one workgroup per row. Rows of up to 2048 elements are bitonic-sorted
 * in workgroup memory; longer rows take k selection passes (each a strided scan plus a tree
 * reduction). Order: larger first (NaN above +inf, so first; with largest = false, smaller first
 * and NaN last), ties by lower index — the reference's total order. The kernel produces indices;
 * values are then gathered bit-exactly for every dtype.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { sizeOf } from '../../../lib/shape.js';
import type { WebGPUBackend } from '../backend.js';
import { grid1d, main1d, MAX_GROUPS, Uniforms, type Program } from '../program.js';
import { COMMON, loadFn, perWord } from '../wgsl.js';
import { bitsLoad } from './movement.js';
import { gpuKernel } from './util.js';

const WG = 256;
const SORT_MAX = 2048;

/**
 * WGSL: a u32 sort key per value — larger key comes first. Floats map order-preservingly onto
 * u32 (−0 as +0); NaN ranks above +inf (first when largest, last when smallest); for smallest
 * the key is complemented. Ties keep the lower index first.
 */
const ORDER = /* wgsl */ `
fn key_of(v: f32) -> u32 {
  if (is_nan(v)) { return select(0u, 0xffffffffu, u_largest() == 1u); }
  var b = bitcast<u32>(v);
  if (b == 0x80000000u) { b = 0u; }
  let o = select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
  return select(~o, o, u_largest() == 1u);
}
fn before(ka: u32, ia: u32, kb: u32, ib: u32) -> bool { return ka > kb || (ka == kb && ia < ib); }
`;

function indicesProgram(x: TensorInfo, k: number, largest: boolean): Program {
  const n = x.shape[x.shape.length - 1];
  const rows = n ? sizeOf(x.shape) / n : 0;
  const sort = n <= SORT_MAX;
  const P = sort ? 2 ** Math.ceil(Math.log2(Math.max(n, 2))) : 0;
  const u = new Uniforms().u32('n', n).u32('k', k).u32('rows', rows).u32('largest', largest ? 1 : 0);
  const head = [COMMON, loadFn('ld', 'in0', x.dtype, 'f32'), ORDER];
  const body = sort
    ? () =>
        [
          ...head,
          `var<workgroup> sk: array<u32, ${P}>;`,
          `var<workgroup> si: array<u32, ${P}>;`,
          `@compute @workgroup_size(${WG})`,
          `fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {`,
          `  let row = min(wid.x + wid.y * nwg.x, u_rows() - 1u); let n = u_n(); let base = row * n;`,
          `  for (var i = t; i < ${P}u; i += ${WG}u) {`,
          `    if (i < n) { sk[i] = key_of(ld(base + i)); si[i] = i; } else { sk[i] = 0u; si[i] = 0xffffffffu; }`,
          `  }`,
          `  workgroupBarrier();`,
          `  for (var size = 2u; size <= ${P}u; size = size << 1u) {`,
          `    for (var stride = size >> 1u; stride > 0u; stride = stride >> 1u) {`,
          `      for (var i = t; i < ${P}u; i += ${WG}u) {`,
          `        let j = i ^ stride;`,
          `        if (j > i) {`,
          `          let asc = (i & size) == 0u;`,
          `          let ji = before(sk[j], si[j], sk[i], si[i]);`,
          `          if (ji == asc) { let tk = sk[i]; sk[i] = sk[j]; sk[j] = tk; let ti = si[i]; si[i] = si[j]; si[j] = ti; }`,
          `        }`,
          `      }`,
          `      workgroupBarrier();`,
          `    }`,
          `  }`,
          `  if (wid.x + wid.y * nwg.x >= u_rows()) { return; }`,
          `  for (var i = t; i < u_k(); i += ${WG}u) { out0[row * u_k() + i] = si[i]; }`,
          `}`,
        ].join('\n')
    : () =>
        [
          ...head,
          `var<workgroup> rk: array<u32, ${WG}>;`,
          `var<workgroup> ri: array<u32, ${WG}>;`,
          `@compute @workgroup_size(${WG})`,
          `fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {`,
          `  let row = min(wid.x + wid.y * nwg.x, u_rows() - 1u); let n = u_n(); let base = row * n;`,
          `  var pk = 0u; var pi = 0xffffffffu; var first = true;`,
          `  for (var p = 0u; p < u_k(); p++) {`,
          `    var bk = 0u; var bi = 0xffffffffu;`,
          `    for (var i = t; i < n; i += ${WG}u) {`,
          `      let kv = key_of(ld(base + i));`,
          `      let after = first || before(pk, pi, kv, i);`,
          `      if (after && (bi == 0xffffffffu || before(kv, i, bk, bi))) { bk = kv; bi = i; }`,
          `    }`,
          `    rk[t] = bk; ri[t] = bi; workgroupBarrier();`,
          `    for (var w = ${WG / 2}u; w > 0u; w = w >> 1u) {`,
          `      if (t < w && ri[t + w] != 0xffffffffu && (ri[t] == 0xffffffffu || before(rk[t + w], ri[t + w], rk[t], ri[t]))) { rk[t] = rk[t + w]; ri[t] = ri[t + w]; }`,
          `      workgroupBarrier();`,
          `    }`,
          `    pk = rk[0]; pi = ri[0]; first = false;`,
          `    if (t == 0u && wid.x + wid.y * nwg.x < u_rows()) { out0[row * u_k() + p] = pi; }`,
          `    workgroupBarrier();`,
          `  }`,
          `}`,
        ].join('\n');
  const gx = Math.min(rows, MAX_GROUPS);
  return {
    name: 'TopK', key: `${x.dtype}|${sort ? `sort${P}` : 'select'}`, inputs: ['u32'], outputs: ['u32'], uniforms: u, body,
    grid: [gx, Math.ceil(rows / gx), 1] as [number, number, number],
  };
}

gpuKernel('TopK', ([x], { k, largest }: { k: number; largest: boolean }, gpu: WebGPUBackend) => {
  const n = x.shape[x.shape.length - 1];
  const shape = [...x.shape.slice(0, -1), k];
  const indices = gpu.makeOutput(shape, 'int32');
  const values = gpu.makeOutput(shape, x.dtype);
  const total = sizeOf(shape);
  if (total === 0) return [values, indices];
  gpu.run(indicesProgram(x, k, largest), [x], [indices]);
  // values[r, j] = x[r, indices[r, j]], bits copied.
  const kw = perWord(x.dtype);
  const u = new Uniforms().u32('k', k).u32('n', n).u32('total', total);
  const body = () =>
    [
      bitsLoad('ldbits', 'in0', x.dtype),
      `fn elem(e: u32) -> u32 { let r = e / u_k(); return ldbits(r * u_n() + in1[e]); }`,
      main1d(WG),
      `  let o = idx * ${kw}u;`,
      `  if (o >= u_total()) { return; }`,
      kw === 1
        ? `  out0[idx] = elem(o);`
        : `  out0[idx] = ${Array.from({ length: kw }, (_, j) => `(elem(min(o + ${j}u, u_total() - 1u)) << ${(32 / kw) * j}u)`).join(' | ')};`,
      `}`,
    ].join('\n');
  gpu.run({ name: 'TopK', key: `values|${x.dtype}`, inputs: ['u32', 'u32'], outputs: ['u32'], uniforms: u, body, grid: grid1d(Math.ceil(total / kw), WG) }, [x, indices], [values]);
  return [values, indices];
});
