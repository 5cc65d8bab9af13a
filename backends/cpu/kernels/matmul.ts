/** CPU reference kernel for batched matmul (float64 accumulation; the WebAssembly path is the fast one). */

import type { TensorInfo } from '../../../lib/backend.js';
import { sizeOf, stridesOf, type Shape } from '../../../lib/shape.js';
import type { CpuBackend } from '../backend.js';
import { cpuKernel, readNum, storeNumbers } from './util.js';

/** Flat offsets of each batch matrix of `t` for the broadcast batch shape `batch`. */
export function batchOffsets(t: TensorInfo, batch: Shape): Int32Array {
  const tb = t.shape.slice(0, -2);
  const mat = t.shape[t.shape.length - 2] * t.shape[t.shape.length - 1];
  const n = sizeOf(batch);
  const out = new Int32Array(n);
  const str = stridesOf(tb);
  const counter = new Array<number>(batch.length).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < tb.length; d++) {
      const bd = d + batch.length - tb.length;
      if (tb[d] !== 1) off += counter[bd] * str[d];
    }
    out[i] = off * mat;
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++counter[d] < batch[d]) break;
      counter[d] = 0;
    }
  }
  return out;
}

/** out[M,N] = op(a)[M,K] · op(b)[K,N] for one batch item, accumulating in float64. */
export function matmulRef(
  a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, o: Float64Array, oOff: number,
  M: number, N: number, K: number, ta: boolean, tb: boolean,
): void {
  // Element (i, k) of op(a) and (k, j) of op(b).
  const as = ta ? [1, M] : [K, 1];
  const bs = tb ? [1, K] : [N, 1];
  const acc = new Float64Array(N);
  for (let i = 0; i < M; i++) {
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const av = a[aOff + i * as[0] + k * as[1]];
      if (av === 0) continue;
      const bRow = bOff + k * bs[0];
      for (let j = 0; j < N; j++) acc[j] += av * b[bRow + j * bs[1]];
    }
    o.set(acc, oOff + i * N);
  }
}

cpuKernel('MatMul', ([a, b], { transposeA, transposeB, dtype, shape }, cpu: CpuBackend) => {
  const out = cpu.makeOutput(shape, dtype);
  const batch = shape.slice(0, -2);
  const M = shape[shape.length - 2];
  const N = shape[shape.length - 1];
  const K = transposeA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
  const av = readNum(cpu, a);
  const bv = readNum(cpu, b);
  const ao = batchOffsets(a, batch);
  const bo = batchOffsets(b, batch);
  const res = new Float64Array(sizeOf(shape));
  for (let i = 0; i < ao.length; i++) matmulRef(av, ao[i], bv, bo[i], res, i * M * N, M, N, K, transposeA, transposeB);
  storeNumbers(cpu, out, res);
  return out;
});
