/**
 * CPU MatMul: the WebAssembly path (matmul_wasm.ts) for float operands when available, else this
 * file's TypeScript reference (float64 accumulation), which also serves int32.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { sizeOf, type Shape } from '../../../lib/shape.js';
import type { CpuBackend } from '../backend.js';
import { countCall } from '../config.js';
import { matmulWasm } from './matmul_wasm.js';
import { batchOffsets, cpuKernel, readNum, storeNumbers } from './util.js';

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

/** The reference MatMul: exact float64 sums, one rounding to the output dtype. */
export function matmulReference(
  cpu: CpuBackend, a: TensorInfo, b: TensorInfo, attrs: { transposeA: boolean; transposeB: boolean; dtype: TensorInfo['dtype']; shape: Shape },
): TensorInfo {
  const { transposeA, transposeB, dtype, shape } = attrs;
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
  countCall('js', 'MatMul');
  return out;
}

cpuKernel('MatMul', ([a, b], attrs, cpu: CpuBackend) => matmulWasm(cpu, a, b, attrs) ?? matmulReference(cpu, a, b, attrs));
