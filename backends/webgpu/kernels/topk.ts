/**
 * TopK along the last axis. Rows of up to 2048 elements are bitonic-sorted in workgroup memory
 * (one workgroup per row); longer rows take k selection passes (each a strided scan plus a tree
 * reduction) for k ≤ 64, else a bitonic sort in storage (one dispatch per step). Order: larger first (NaN above +inf, so first; with largest = false, smaller first
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

/** Largest k for which selection passes beat a global sort on long rows. */
const SELECT_MAX_K = 64;

/**
 * Long rows with large k: a bitonic sort in storage. Keys and indices of every row are padded to a
 * power of two P in scratch buffers; each (size, stride) step is one dispatch over all pairs;
 * finally the first k indices of each row are copied out.
 */
function globalSortIndices(gpu: WebGPUBackend, x: TensorInfo, k: number, largest: boolean, indices: TensorInfo): void {
  const n = x.shape[x.shape.length - 1];
  const rows = sizeOf(x.shape) / n;
  const P = 2 ** Math.ceil(Math.log2(n));
  const keys = gpu.makeTemp([rows, P], 'int32');
  const ids = gpu.makeTemp([rows, P], 'int32');
  const total = rows * P;
  gpu.run(
    {
      name: 'TopK', key: `gsort-init|${x.dtype}`, inputs: ['u32'], outputs: ['u32', 'u32'], grid: grid1d(total, WG),
      uniforms: new Uniforms().u32('n', n).u32('P', P).u32('total', total).u32('largest', largest ? 1 : 0),
      body: () =>
        [COMMON, loadFn('ld', 'in0', x.dtype, 'f32'), ORDER, main1d(WG), `  if (idx >= u_total()) { return; }`,
          `  let r = idx / u_P(); let i = idx % u_P();`,
          `  if (i < u_n()) { out0[idx] = key_of(ld(r * u_n() + i)); out1[idx] = i; } else { out0[idx] = 0u; out1[idx] = 0xffffffffu; }`, `}`].join('\n'),
    },
    [x],
    [keys, ids],
  );
  const pairs = total / 2;
  for (let size = 2; size <= P; size *= 2) {
    for (let stride = size / 2; stride >= 1; stride /= 2) {
      gpu.run(
        {
          name: 'TopK', key: 'gsort-step', inputs: [], outputs: ['u32', 'u32'], grid: grid1d(pairs, WG),
          uniforms: new Uniforms().u32('P', P).u32('size', size).u32('stride', stride).u32('pairs', pairs).u32('largest', largest ? 1 : 0),
          body: () =>
            [COMMON, ORDER, main1d(WG), `  if (idx >= u_pairs()) { return; }`,
              // Pair number → (row, i) with i's stride bit clear; partner j = i + stride.
              `  let half = u_P() / 2u; let r = idx / half; let q = idx % half;`,
              `  let s = u_stride(); let i = (q / s) * 2u * s + q % s; let j = i + s;`,
              `  let a = r * u_P() + i; let b = r * u_P() + j;`,
              `  let asc = (i & u_size()) == 0u;`,
              `  if (before(out0[b], out1[b], out0[a], out1[a]) == asc) {`,
              `    let tk = out0[a]; out0[a] = out0[b]; out0[b] = tk; let ti = out1[a]; out1[a] = out1[b]; out1[b] = ti;`,
              `  }`, `}`].join('\n'),
        },
        [],
        [keys, ids],
      );
    }
  }
  gpu.run(
    {
      name: 'TopK', key: 'gsort-take', inputs: ['u32'], outputs: ['u32'], grid: grid1d(rows * k, WG),
      uniforms: new Uniforms().u32('k', k).u32('P', P).u32('total', rows * k),
      body: () => [main1d(WG), `  if (idx >= u_total()) { return; }`, `  out0[idx] = in0[(idx / u_k()) * u_P() + idx % u_k()];`, `}`].join('\n'),
    },
    [ids],
    [indices],
  );
  gpu.disposeTemp(keys);
  gpu.disposeTemp(ids);
}

gpuKernel('TopK', ([x], { k, largest }: { k: number; largest: boolean }, gpu: WebGPUBackend) => {
  const n = x.shape[x.shape.length - 1];
  const shape = [...x.shape.slice(0, -1), k];
  const indices = gpu.makeOutput(shape, 'int32');
  const values = gpu.makeOutput(shape, x.dtype);
  const total = sizeOf(shape);
  if (total === 0) return [values, indices];
  if (n > SORT_MAX && k > SELECT_MAX_K) globalSortIndices(gpu, x, k, largest, indices);
  else gpu.run(indicesProgram(x, k, largest), [x], [indices]);
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
