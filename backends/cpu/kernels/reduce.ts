/** CPU reference kernels for reductions, softmax and logSoftmax. */

import { REDUCE_KERNELS, type ReduceKernel } from '../../../lib/kernel_names.js';
import { sizeOf, type Shape } from '../../../lib/shape.js';
import { axisSplit, cpuKernel, readF32, readNum, storeNumbers, writeF32 } from './util.js';
import { permuteIndex } from './transpose.js';

/**
 * Reduces `v` (shape `shape`) over sorted `axes`: returns (rows, len, values) where values are
 * laid out as `rows` groups of `len` contiguous elements, one group per output element.
 */
function groupRows(v: ArrayLike<number>, shape: Shape, axes: readonly number[]): [number, number, ArrayLike<number>] {
  const keep = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const len = sizeOf(axes.map((a) => shape[a]));
  const rows = sizeOf(keep.map((a) => shape[a]));
  // Reducing trailing axes needs no data movement; otherwise move reduced axes last.
  const trailing = axes.every((a, i) => a === shape.length - axes.length + i);
  if (trailing) return [rows, len, v];
  const idx = permuteIndex(shape, [...keep, ...axes]);
  const moved = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) moved[i] = v[idx[i]];
  return [rows, len, moved];
}

function reduceRows(kernel: ReduceKernel, rows: number, len: number, v: ArrayLike<number>, o: Float64Array): void {
  for (let r = 0; r < rows; r++) {
    const base = r * len;
    let acc: number;
    switch (kernel) {
      case 'Sum':
      case 'Mean':
        acc = 0;
        for (let i = 0; i < len; i++) acc += v[base + i];
        o[r] = kernel === 'Mean' ? acc / len : acc;
        break;
      case 'Max':
      case 'Min': {
        acc = v[base];
        for (let i = 1; i < len && !Number.isNaN(acc); i++) {
          const x = v[base + i];
          if (Number.isNaN(x) || (kernel === 'Max' ? x > acc : x < acc)) acc = x;
        }
        o[r] = acc;
        break;
      }
      case 'ArgMax':
      case 'ArgMin': {
        let best = 0;
        acc = v[base];
        for (let i = 1; i < len && !Number.isNaN(acc); i++) {
          const x = v[base + i];
          if (Number.isNaN(x) || (kernel === 'ArgMax' ? x > acc : x < acc)) {
            acc = x;
            best = i;
          }
        }
        o[r] = best;
        break;
      }
    }
  }
}

for (const kernel of REDUCE_KERNELS) {
  cpuKernel(kernel, ([x], { axes, dtype, shape }, cpu) => {
    const out = cpu.makeOutput(shape, dtype);
    const [rows, len, v] = groupRows(readNum(cpu, x), x.shape, axes);
    const res = new Float64Array(rows);
    reduceRows(kernel, rows, len, v, res);
    storeNumbers(cpu, out, res);
    return out;
  });
}

function softmaxKernel(log: boolean) {
  return ([x]: readonly import('../../../lib/backend.js').TensorInfo[], { axis }: { axis: number }, cpu: import('../backend.js').CpuBackend) => {
    const out = cpu.makeOutput(x.shape, x.dtype);
    const v = readF32(cpu, x);
    const [outer, len, inner] = axisSplit(x.shape, axis);
    writeF32(cpu, out, (o) => {
      for (let a = 0; a < outer; a++) {
        for (let b = 0; b < inner; b++) {
          const base = a * len * inner + b;
          let m = -Infinity;
          for (let i = 0; i < len; i++) m = Math.max(m, v[base + i * inner]);
          if (m === -Infinity) {
            // A row of −∞ (fully masked) has no finite max: zeros / −∞ rather than 0/0 = NaN.
            for (let i = 0; i < len; i++) o[base + i * inner] = log ? -Infinity : 0;
            continue;
          }
          const ref = m;
          let s = 0;
          for (let i = 0; i < len; i++) s += Math.exp(v[base + i * inner] - ref);
          if (log) {
            const ls = Math.log(s) + ref;
            for (let i = 0; i < len; i++) o[base + i * inner] = v[base + i * inner] - ls;
          } else {
            for (let i = 0; i < len; i++) o[base + i * inner] = Math.exp(v[base + i * inner] - ref) / s;
          }
        }
      }
    });
    return out;
  };
}

cpuKernel('Softmax', softmaxKernel(false));
cpuKernel('LogSoftmax', softmaxKernel(true));
