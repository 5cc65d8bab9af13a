/** The WebGPU backend's data store, queue, pool and error behaviour (kernel numerics live in spec/conformance). */

import { expect } from 'chai';
import * as ft from '../../index.js';
import { getWebGPUBackend, WebGPUBackend, acquireDevice, sizeClass } from '../../backends/webgpu/index.js';
import { loadDawn } from '../../backends/webgpu/device.js';
import { Uniforms } from '../../backends/webgpu/program.js';
import { ENGINE } from '../../lib/engine.js';
import { BackendError, OutOfMemoryError } from '../../lib/errors.js';
import { requireWebGPU } from '../helpers/webgpu_env.js';

describe('webgpu: optional dependency', () => {
  it('a missing `webgpu` package gives "install webgpu to use backend webgpu"', async () => {
    let err: unknown;
    try {
      await loadDawn(() => Promise.reject(new Error("Cannot find package 'webgpu'")));
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(BackendError);
    expect((err as Error).message).to.match(/^install webgpu to use backend webgpu/);
  });

  it('registers itself without initialising a device, below the CPU', () => {
    expect(ft.listBackends()).to.include('webgpu');
    expect(ft.getBackend()).to.equal('cpu');
  });

  it('size classes bucket allocations (≤ 33% waste, 16-byte multiples)', () => {
    for (const n of [1, 15, 16, 17, 100, 1000, 4097, 123456, 1 << 20]) {
      const c = sizeClass(n);
      expect(c).to.be.at.least(n);
      expect(c % 16).to.equal(0);
      if (n > 64) expect(c / n).to.be.below(1.34);
    }
  });
});

const run = await requireWebGPU();

(run ? describe : describe.skip)('webgpu: backend', function () {
  this.timeout(60000);
  let gpu: WebGPUBackend;

  before(async () => {
    gpu = await getWebGPUBackend();
  });

  const onGpu = <T>(fn: () => T): T => ENGINE.withBackend(gpu, fn);

  it('ops return at once; values come back with await data()', async () => {
    const [a, c] = onGpu(() => {
      const a = ft.tensor([[1, 2], [3, 4]]);
      return [a, ft.matmul(a, a)];
    });
    expect(c.backendName).to.equal('webgpu');
    expect(Array.from(await c.data())).to.deep.equal([7, 10, 15, 22]);
    expect(() => c.dataSync()).to.throw(BackendError, /use 'await t.data\(\)'/);
    // Small uploads keep a host copy, so dataSync works for them (e.g. cu_seqlens, masks).
    expect(Array.from(a.dataSync())).to.deep.equal([1, 2, 3, 4]);
    ft.dispose([a, c]);
  });

  it('stores 16-bit and 8-bit tensors packed, odd element counts included', async () => {
    const vals = [1.5, -2.25, 65504, 3.140625, -0.0001];
    for (const dtype of ['float16', 'bfloat16'] as const) {
      for (let n = 1; n <= 5; n++) {
        const t = onGpu(() => ft.tensor(vals.slice(0, n), [n], dtype));
        const cpu = ft.tensor(vals.slice(0, n), [n], dtype);
        const doubled = onGpu(() => ft.add(t, t));
        expect(Array.from(await doubled.data())).to.deep.equal(Array.from(ft.add(cpu, cpu).dataSync()));
        ft.dispose([t, cpu, doubled]);
      }
    }
    for (const dtype of ['int8', 'uint8', 'bool'] as const) {
      for (let n = 1; n <= 6; n++) {
        const src = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? i % 2 : i * 37 - 60));
        const t = onGpu(() => ft.tensor(src, [n], dtype));
        const back = onGpu(() => ft.cast(ft.cast(t, 'int32'), dtype));
        expect(Array.from(await back.data())).to.deep.equal(Array.from(ft.tensor(src, [n], dtype).dataSync()));
        ft.dispose([t, back]);
      }
    }
  });

  it('reuses pooled buffers across steps: no allocation churn in a steady-state loop', async () => {
    const step = (x: ft.Tensor) => onGpu(() => ft.tidy(() => ft.softmax(ft.matmul(ft.add(x, 1), x, { transposeB: true }), -1)));
    const x = onGpu(() => ft.randn([8, 32], { seed: 1 }));
    for (let i = 0; i < 20; i++) {
      const y = step(x);
      if (i % 10 === 0) await y.data();
      y.dispose();
    }
    await gpu.sync();
    const before = gpu.memoryInfo();
    for (let i = 0; i < 50; i++) {
      const y = step(x);
      if (i % 10 === 0) await y.data();
      y.dispose();
    }
    await gpu.sync();
    const after = gpu.memoryInfo();
    expect(after.misses, 'new buffers created after warm-up').to.equal(before.misses);
    expect(after.liveBytes).to.equal(before.liveBytes);
    expect(after.hits).to.be.above(before.hits);
    x.dispose();
  });

  it('counts tensor bytes in memory() and returns to the baseline after dispose', async () => {
    const base = ft.memory().backends.webgpu?.numBytes ?? 0;
    const t = onGpu(() => ft.zeros([3, 5], 'float16'));
    expect(ft.memory().backends.webgpu.numBytes - base).to.equal(30);
    ft.resetPeakMemory();
    // f16 with an odd inner size computes through a float32 scratch tensor: counted in the peak.
    const y = onGpu(() => ft.matmul(t, ft.ones([5, 3], 'float16')));
    await y.data();
    const m = ft.memory().backends.webgpu;
    expect(m.peakBytes).to.be.above(m.numBytes);
    expect(m.scratchBytes).to.equal(0);
    ft.dispose([t, y]);
    expect(ft.memory().backends.webgpu.numBytes).to.equal(base + 30); // the ones() input of matmul
  });

  it('throws OutOfMemoryError at once for a buffer over maxBufferSize or the configured limit', () => {
    const huge = Math.ceil(gpu.limits.maxBufferSize / 4) + 1024;
    expect(() => ENGINE.makeTensor(null, [huge], 'float32', gpu)).to.throw(OutOfMemoryError, /maxBufferSize/);
    const prev = gpu.memoryLimit;
    try {
      gpu.memoryLimit = gpu.memoryInfo().liveBytes + 4096;
      expect(() => ENGINE.makeTensor(null, [1 << 20], 'float32', gpu)).to.throw(OutOfMemoryError, /memory limit/);
    } finally {
      gpu.memoryLimit = prev;
    }
  });

  it('surfaces a kernel that fails validation as a typed error on the next read, then keeps working', async () => {
    const out = gpu.makeOutput([4], 'float32');
    gpu.run(
      { name: 'Broken', key: 'broken', inputs: [], outputs: ['f32'], uniforms: new Uniforms().u32('n', 4), grid: [1, 1, 1], body: () => '@compute @workgroup_size(4) fn main() { out0[0] = undefined_thing; }' },
      [],
      [out],
    );
    const t = onGpu(() => ft.tensor([1, 2, 3]));
    const y = onGpu(() => ft.mul(t, 2));
    let err: unknown;
    try {
      await y.data();
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(BackendError);
    expect((err as Error).message).to.match(/Broken/);
    gpu.disposeData(out.dataId);
    const z = onGpu(() => ft.mul(t, 3));
    expect(Array.from(await z.data())).to.deep.equal([3, 6, 9]);
    ft.dispose([t, y, z]);
  });

  it('batches work: many ops without a read are submitted by the end of the job, and sync() waits for them', async () => {
    let x = onGpu(() => ft.ones([64]));
    for (let i = 0; i < 200; i++) {
      const y = onGpu(() => ft.add(x, 1));
      x.dispose();
      x = y;
    }
    await gpu.sync();
    expect((await x.data())[0]).to.equal(201);
    x.dispose();
  });

  it('keeps one pipeline per (kernel, dtypes, rank): growing shapes reuse it', async () => {
    const x = onGpu(() => ft.randn([1, 4, 3, 16], { seed: 2 }));
    for (let S = 1; S <= 3; S++) {
      const kv = onGpu(() => ft.randn([1, 4, S, 16], { seed: S }));
      const o = onGpu(() => ft.sdpa(x, kv, kv, { isCausal: true, causalVariant: 'lowerRight' }));
      await o.data();
      ft.dispose([kv, o]);
    }
    const n = gpu.memoryInfo().pipelines;
    for (let S = 4; S <= 12; S++) {
      const kv = onGpu(() => ft.randn([1, 4, S, 16], { seed: S }));
      const o = onGpu(() => ft.sdpa(x, kv, kv, { isCausal: true, causalVariant: 'lowerRight' }));
      await o.data();
      ft.dispose([kv, o]);
    }
    expect(gpu.memoryInfo().pipelines).to.equal(n);
    x.dispose();
  });

  it('a lost device makes calls throw BackendError instead of hanging', async () => {
    const other = new WebGPUBackend(await acquireDevice());
    const t = ENGINE.makeTensor(new Float32Array([1, 2, 3, 4]), [4], 'float32', other);
    const y = ft.exp(t);
    const pending = y.data();
    other.device.destroy();
    let err: unknown;
    try {
      await pending;
    } catch (e) {
      err = e;
    }
    // The read either completed before the loss or failed with a typed error — it never hangs.
    if (err) expect(err).to.be.instanceOf(BackendError);
    await other.device.lost;
    expect(() => ft.exp(t)).to.throw(BackendError, /lost/);
    let readErr: unknown;
    try {
      await y.data();
    } catch (e) {
      readErr = e;
    }
    expect(readErr).to.be.instanceOf(BackendError);
  });
});
