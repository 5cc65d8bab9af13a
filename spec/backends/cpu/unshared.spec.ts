/**
 * Without SharedArrayBuffer the CPU heap is a plain WebAssembly.Memory: the kernels still run
 * (the non-shared SIMD build), single-threaded, with no pool.
 */

import { expect } from 'chai';
import { Heap } from '../../../backends/cpu/heap.js';
import { WasmRuntime } from '../../../backends/cpu/runtime.js';

describe('cpu WebAssembly kernels on a non-shared heap', () => {
  it('runs gemm and gemv single-threaded', () => {
    const heap = new Heap({ shared: false });
    const rt = WasmRuntime.create(heap)!;
    expect(rt).to.not.equal(null);
    expect(rt.pool).to.equal(null);
    expect(rt.threads).to.equal(1);
    const M = 13, N = 11, K = 37;
    const a = heap.alloc(M * K * 4), b = heap.alloc(K * N * 4), c = heap.alloc(M * N * 4);
    for (let i = 0; i < M * K; i++) heap.f32[(a >> 2) + i] = ((i * 7) % 11) - 5;
    for (let i = 0; i < K * N; i++) heap.f32[(b >> 2) + i] = ((i * 5) % 13) - 6;
    const ref = new Float64Array(M * N);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) ref[i * N + j] += heap.f32[(a >> 2) + i * K + k] * heap.f32[(b >> 2) + k * N + j];
    const wsStride = rt.kernels.gemmWorkspaceBytes(M, N, K);
    const ws = heap.alloc(2 * wsStride);
    rt.run('gemm', 2, [a, b, c, M, N, K, 0, 1, 0, 0, ws, wsStride]); // 2 shares, run in turn
    expect(Array.from(heap.f32.subarray(c >> 2, (c >> 2) + M * N))).to.deep.equal(Array.from(ref)); // small integers: exact
    const y = heap.alloc(N * 4);
    rt.run('gemv', 1, [a, b, y, 1, N, K, 0, 1, 0, 0, 0, 0]);
    expect(Array.from(heap.f32.subarray(y >> 2, (y >> 2) + N))).to.deep.equal(Array.from(ref.subarray(0, N)));
  });
});
