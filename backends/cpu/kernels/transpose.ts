/** CPU kernels that move data: transpose, slice, concat, broadcast, tile, gather, triangle, writeSlice. */

import type { TensorInfo } from '../../../lib/backend.js';
import { ArgumentError } from '../../../lib/errors.js';
import { sizeOf, stridesOf, type Shape } from '../../../lib/shape.js';
import type { CpuBackend } from '../backend.js';
import { axisSplit, broadcastIndex, cpuKernel, readNum } from './util.js';

/** For each element of the permuted tensor (row-major), its flat index in the source. */
export function permuteIndex(shape: Shape, perm: readonly number[]): Int32Array {
  const outShape = perm.map((p) => shape[p]);
  const srcStr = stridesOf(shape);
  const str = perm.map((p) => srcStr[p]);
  const n = sizeOf(shape);
  const idx = new Int32Array(n);
  const counter = new Array<number>(perm.length).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    idx[i] = off;
    for (let d = perm.length - 1; d >= 0; d--) {
      counter[d]++;
      off += str[d];
      if (counter[d] < outShape[d]) break;
      off -= str[d] * counter[d];
      counter[d] = 0;
    }
  }
  return idx;
}

/** Copies raw storage elements through an index map (works for every dtype, bits untouched). */
function gatherRaw(cpu: CpuBackend, src: TensorInfo, out: TensorInfo, idx: Int32Array): void {
  const s = cpu.viewOf(src);
  const o = cpu.viewOf(out);
  for (let i = 0; i < idx.length; i++) o[i] = s[idx[i]];
}

cpuKernel('Transpose', ([x], { perm, shape }, cpu) => {
  const out = cpu.makeOutput(shape, x.dtype);
  gatherRaw(cpu, x, out, permuteIndex(x.shape, perm));
  return out;
});

cpuKernel('BroadcastTo', ([x], { shape }, cpu) => {
  const out = cpu.makeOutput(shape, x.dtype);
  gatherRaw(cpu, x, out, broadcastIndex(x.shape, shape) ?? Int32Array.from({ length: sizeOf(shape) }, (_, i) => i));
  return out;
});

cpuKernel('Tile', ([x], { shape }, cpu) => {
  const out = cpu.makeOutput(shape, x.dtype);
  const n = sizeOf(shape);
  const idx = new Int32Array(n);
  const str = stridesOf(x.shape);
  const counter = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < shape.length; d++) off += (counter[d] % x.shape[d]) * str[d];
    idx[i] = off;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++counter[d] < shape[d]) break;
      counter[d] = 0;
    }
  }
  gatherRaw(cpu, x, out, idx);
  return out;
});

cpuKernel('Slice', ([x], { begin, size }, cpu) => {
  const out = cpu.makeOutput(size, x.dtype);
  const s = cpu.viewOf(x);
  const o = cpu.viewOf(out);
  const str = stridesOf(x.shape);
  const rank = size.length;
  const inner = size[rank - 1] ?? 1;
  const rows = sizeOf(size.slice(0, -1));
  const counter = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  for (let r = 0; r < rows; r++) {
    let off = 0;
    for (let d = 0; d < rank; d++) off += (begin[d] + (d < rank - 1 ? counter[d] : 0)) * str[d];
    o.set(s.subarray(off, off + inner), r * inner);
    for (let d = rank - 2; d >= 0; d--) {
      if (++counter[d] < size[d]) break;
      counter[d] = 0;
    }
  }
  return out;
});

cpuKernel('WriteSlice', ([dst, src], { begin }, cpu) => {
  const d = cpu.viewOf(dst);
  const s = cpu.viewOf(src);
  const str = stridesOf(dst.shape);
  const size = src.shape;
  const rank = size.length;
  const inner = size[rank - 1] ?? 1;
  const rows = sizeOf(size.slice(0, -1));
  const counter = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  for (let r = 0; r < rows; r++) {
    let off = 0;
    for (let k = 0; k < rank; k++) off += (begin[k] + (k < rank - 1 ? counter[k] : 0)) * str[k];
    d.set(s.subarray(r * inner, r * inner + inner), off);
    for (let k = rank - 2; k >= 0; k--) {
      if (++counter[k] < size[k]) break;
      counter[k] = 0;
    }
  }
  return [];
});

cpuKernel('Concat', (xs, { axis, shape }, cpu) => {
  const out = cpu.makeOutput(shape, xs[0].dtype);
  const o = cpu.viewOf(out);
  const [outer, total, inner] = axisSplit(shape, axis);
  let at = 0;
  for (const x of xs) {
    const s = cpu.viewOf(x);
    const chunk = x.shape[axis] * inner;
    for (let r = 0; r < outer; r++) o.set(s.subarray(r * chunk, (r + 1) * chunk), r * total * inner + at * inner);
    at += x.shape[axis];
  }
  return out;
});

cpuKernel('Gather', ([x, indices], { axis, shape }, cpu) => {
  const [outer, len, inner] = axisSplit(x.shape, axis);
  const ids = readNum(cpu, indices);
  for (let k = 0; k < ids.length; k++) {
    if (!(ids[k] >= 0 && ids[k] < len)) {
      throw new ArgumentError(`gather: index ${ids[k]} at position ${k} is out of range for axis ${axis} of size ${len} (expected 0 … ${len - 1})`);
    }
  }
  const idCopy = Int32Array.from(ids); // the view may be detached by the allocation below
  const out = cpu.makeOutput(shape, x.dtype);
  const s = cpu.viewOf(x);
  const o = cpu.viewOf(out);
  for (let r = 0; r < outer; r++) {
    for (let k = 0; k < idCopy.length; k++) {
      const from = (r * len + idCopy[k]) * inner;
      o.set(s.subarray(from, from + inner), (r * idCopy.length + k) * inner);
    }
  }
  return out;
});

cpuKernel('Triangle', ([x], { k, upper }, cpu) => {
  const out = cpu.makeOutput(x.shape, x.dtype);
  const s = cpu.viewOf(x);
  const o = cpu.viewOf(out);
  const R = x.shape[x.shape.length - 2];
  const C = x.shape[x.shape.length - 1];
  const mats = sizeOf(x.shape.slice(0, -2));
  for (let m = 0; m < mats; m++) {
    for (let i = 0; i < R; i++) {
      for (let j = 0; j < C; j++) {
        const p = (m * R + i) * C + j;
        o[p] = (upper ? j - i >= k : j - i <= k) ? s[p] : 0;
      }
    }
  }
  return out;
});
