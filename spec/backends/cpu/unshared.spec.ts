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

  it('runs the elementwise, row and copy kernels (float32 arguments included) single-threaded', () => {
    const heap = new Heap({ shared: false });
    const rt = WasmRuntime.create(heap)!;
    const n = 13;
    const a = heap.alloc(n * 4), b = heap.alloc(n * 4), out = heap.alloc(n * 4);
    for (let i = 0; i < n; i++) {
      heap.f32[(a >> 2) + i] = i - 6;
      heap.f32[(b >> 2) + i] = 0.5 * i;
    }
    const view = () => Array.from(heap.f32.subarray(out >> 2, (out >> 2) + n));
    rt.run('binary', 2, [a, b, out, n, n, 0, 0]); // add, float32
    expect(view()).to.deep.equal(Array.from({ length: n }, (_, i) => i - 6 + 0.5 * i));
    rt.run('unary', 1, [a, out, n, 3, 0, 0]); // relu
    expect(view()).to.deep.equal(Array.from({ length: n }, (_, i) => Math.max(i - 6, 0)));
    rt.run('rmsNorm', 1, [a, 0, out, 1, n, 1e-5, 0], 1 << 5); // eps is a float32 argument
    const rms = Math.sqrt(Array.from({ length: n }, (_, i) => (i - 6) ** 2).reduce((x, y) => x + y) / n + 1e-5);
    view().forEach((v, i) => expect(v).to.be.closeTo((i - 6) / rms, 1e-6));
    // 3 runs of 2 floats: from a[1], a[5], a[9] (16-byte source stride) to out[0], out[3], out[6].
    rt.run('copyRuns', 2, [out, a + 4, 8, 1, 1, 3, 0, 0, 12, 0, 0, 16]);
    const o = view();
    expect([o[0], o[1], o[3], o[4], o[6], o[7]]).to.deep.equal([-5, -4, -1, 0, 3, 4]);
  });
});
