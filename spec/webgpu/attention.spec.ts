/**
 * WebGPU attention beyond numerics (spec/conformance covers those): this backend's eligibility
 * reasons, flash running where the math path cannot bind its score tensor, memory staying linear
 * in the sequence length, and GQA without repeating K/V.
 */

import { expect } from 'chai';
import * as ft from '../../index.js';
import { getWebGPUBackend, type WebGPUBackend } from '../../backends/webgpu/index.js';
import { ENGINE } from '../../lib/engine.js';
import type { Tensor } from '../../lib/tensor.js';
import { requireWebGPU } from '../helpers/webgpu_env.js';

const run = await requireWebGPU();

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

(run ? describe : describe.skip)('webgpu: attention', function () {
  this.timeout(120_000);
  let gpu: WebGPUBackend;
  before(async () => {
    gpu = await getWebGPUBackend();
  });
  const onGpu = <T>(fn: () => T): T => ENGINE.withBackend(gpu, fn);
  const reasons = (q: Tensor, k: Tensor, v: Tensor, impl: string, opts: ft.SdpaOptions = {}) =>
    ft.explainSdpa(q, k, v, opts).find((e) => e.backend === impl)!.reasons;

  it('flash is refused with a reason naming the workgroup-memory budget when its smallest tile does not fit', () => {
    const [q, k, v] = onGpu(() => [0, 1, 2].map((s) => ft.randn([1, 2, 4, 128], { seed: s, dtype: 'float16' })));
    const prev = gpu.workgroupMemoryBudget;
    try {
      expect(reasons(q, k, v, 'FLASH_ATTENTION')).to.deep.equal([]);
      gpu.workgroupMemoryBudget = 2048; // 8 keys × (128 + 128) halves × 2 B = 4 KiB needed
      const r = reasons(q, k, v, 'FLASH_ATTENTION');
      expect(r).to.have.length(1);
      expect(r[0]).to.match(/workgroup memory/).and.match(/E=128/).and.match(/2048 bytes/);
      // The dispatcher falls through to the memory-efficient kernel.
      ft.resetSdpaCounts();
      onGpu(() => ft.sdpa(q, k, v)).dispose();
      expect(ft.sdpaCounts().EFFICIENT_ATTENTION).to.equal(1);
    } finally {
      gpu.workgroupMemoryBudget = prev;
      ft.dispose([q, k, v]);
    }
  });

  it('memory-efficient is refused for head dims over 512 on this backend', () => {
    const [q, k, v] = onGpu(() => [0, 1, 2].map((s) => ft.randn([1, 1, 2, 520], { seed: s })));
    expect(reasons(q, k, v, 'EFFICIENT_ATTENTION').join()).to.match(/head dims up to 512/);
    ft.dispose([q, k, v]);
  });

  it("flash runs where the math path's score tensor would exceed maxStorageBufferBindingSize, in linear memory", async () => {
    const limit = gpu.limits.maxStorageBufferBindingSize;
    const H = 32;
    const L = Math.ceil(Math.sqrt(limit / (H * 4))) + 16; // H·L² float32 scores just over the limit
    const E = 8;
    const [q, k, v] = onGpu(() => [0, 1, 2].map((s) => ft.randn([1, H, L, E], { seed: s, dtype: 'float16' })));
    const opts: ft.SdpaOptions = { isCausal: true };
    expect(reasons(q, k, v, 'MATH').join()).to.match(/maxStorageBufferBindingSize/);
    expect(reasons(q, k, v, 'FLASH_ATTENTION')).to.deep.equal([]);
    const base = ft.memory().numBytes;
    ft.resetPeakMemory();
    const out = onGpu(() => ft.sdpa(q, k, v, opts));
    const got = await out.data();
    const extra = ft.memory().peakBytes - base;
    expect(extra, 'peak bytes beyond the inputs').to.be.at.most(2 * out.size + 4096); // the output, never H·L·S
    // Head 0 against the CPU (the full CPU reference would take long).
    const [q0, k0, v0] = await Promise.all([q, k, v].map((t) => ft.toBackend(onGpu(() => ft.slice(t, [0, 0], [1, 1])), 'cpu')));
    const want = await ft.sdpa(q0, k0, v0, opts).data();
    expect(maxDiff(got.subarray(0, L * E), want)).to.be.below(2e-3);
    ft.dispose([q, k, v, out, q0, k0, v0]);
  });

  it('GQA reads K/V per group without materialising repeated heads', async () => {
    const [q, k, v] = onGpu(() => [ft.randn([1, 8, 64, 32], { seed: 1, dtype: 'float16' }), ft.randn([1, 2, 64, 32], { seed: 2, dtype: 'float16' }), ft.randn([1, 2, 64, 32], { seed: 3, dtype: 'float16' })]);
    const base = ft.memory().numBytes;
    ft.resetPeakMemory();
    const out = onGpu(() => ft.sdpaKernel(['FLASH_ATTENTION'], () => ft.sdpa(q, k, v, { enableGqa: true, isCausal: true })));
    await out.data();
    expect(ft.memory().peakBytes - base).to.equal(out.size * 2); // only the output: no repeated K/V
    const ref = onGpu(() => ft.sdpaKernel(['MATH'], () => ft.sdpa(q, k, v, { enableGqa: true, isCausal: true })));
    expect(maxDiff(await out.data(), await ref.data())).to.be.below(2e-3);
    ft.dispose([q, k, v, out, ref]);
  });
});
