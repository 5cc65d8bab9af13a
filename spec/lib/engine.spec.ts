/** The engine: tensor handles and reads, tidy/keep/dispose, memory accounting, kernel registry, backends. */

import { expect } from 'chai';
import {
  add,
  ArgumentError,
  broadcastTo,
  OutOfMemoryError,
  repeat,
  repeatInterleave,
  BackendError,
  DisposedError,
  dispose,
  exp,
  getBackend,
  getKernel,
  hasKernel,
  keep,
  KernelNotFoundError,
  kernelsForBackend,
  listBackends,
  matmul,
  memory,
  mul,
  ones,
  registerKernel,
  reshape,
  resetPeakMemory,
  setBackend,
  sum,
  Tensor,
  tensor,
  tidy,
  toBackend,
  transpose,
  unregisterKernel,
  zeros,
  type Backend,
  type DataId,
  type TensorInfo,
} from '../../index.js';
import { ENGINE } from '../../lib/engine.js';
import {
  BINARY_KERNELS,
  BroadcastTo,
  Concat,
  Gather,
  LayerNorm,
  LogSoftmax,
  MatMul,
  REDUCE_KERNELS,
  RmsNorm,
  Rope,
  Slice,
  Softmax,
  Tile,
  TopK,
  Transpose,
  Triangle,
  UNARY_KERNELS,
  Where,
  WriteSlice,
} from '../../lib/kernel_names.js';
import type { StorageArray } from '../../lib/dtype.js';
import { expectError } from '../helpers/assert.js';
import { checkLeaks } from '../helpers/tensors.js';

/** Expects an async call to fail with `Cls` (whether it throws synchronously or rejects). */
async function expectAsyncError(fn: () => Promise<unknown>, Cls: new (...a: never[]) => Error, substrings: string[] = []) {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').to.be.instanceOf(Cls);
  for (const s of substrings) expect((err as Error).message).to.contain(s);
}

describe('lib/engine', () => {
  checkLeaks();

  describe('tensor handles and reads', () => {
    it('exposes shape, dtype, size and rank', () => {
      const t = tensor([[1, 2, 3], [4, 5, 6]]);
      expect(t.shape).to.deep.equal([2, 3]);
      expect(t.dtype).to.equal('float32');
      expect(t.size).to.equal(6);
      expect(t.rank).to.equal(2);
      t.dispose();
    });

    it('data(), dataSync() and array() return the values (copies, not live views)', async () => {
      const t = tensor([[1, 2], [3, 4]]);
      const d = await t.data();
      expect(d).to.be.instanceOf(Float32Array);
      expect(Array.from(d)).to.deep.equal([1, 2, 3, 4]);
      d[0] = 99;
      expect(Array.from(t.dataSync())).to.deep.equal([1, 2, 3, 4]);
      expect(await t.array()).to.deep.equal([[1, 2], [3, 4]]);
      t.dispose();
    });

    it('array() of a scalar is a number; of an empty tensor nested empties', async () => {
      const s = tensor(3.5);
      expect(s.shape).to.deep.equal([]);
      expect(await s.array()).to.equal(3.5);
      const e = zeros([2, 0]);
      expect(await e.array()).to.deep.equal([[], []]);
      s.dispose();
      e.dispose();
    });

    it('float16 and bfloat16 data come back decoded as Float32Array', async () => {
      for (const dtype of ['float16', 'bfloat16'] as const) {
        const t = tensor([1, -2.5, 0.1, 65504], [4], dtype);
        const d = await t.data();
        expect(d, dtype).to.be.instanceOf(Float32Array);
        expect(d[0]).to.equal(1);
        expect(d[1]).to.equal(-2.5);
        // 0.1 is rounded to the 16-bit format.
        expect(d[2]).to.equal(dtype === 'float16' ? 0.0999755859375 : 0.10009765625);
        expect(d[3]).to.equal(dtype === 'float16' ? 65504 : 65536);
        expect(t.dataSync()).to.be.instanceOf(Float32Array);
        t.dispose();
      }
    });

    it('integer and bool data come back in their own typed arrays', () => {
      const cases = [
        ['int32', Int32Array],
        ['int8', Int8Array],
        ['uint8', Uint8Array],
        ['bool', Uint8Array],
      ] as const;
      for (const [dtype, Ctor] of cases) {
        const t = tensor([1, 0, 1], [3], dtype);
        expect(t.dataSync(), dtype).to.be.instanceOf(Ctor);
        t.dispose();
      }
    });

    it('toString names id, dtype, shape and backend', () => {
      const t = zeros([2, 3]);
      expect(t.toString()).to.match(/Tensor #\d+ float32 \[2,3\] on cpu/);
      t.dispose();
      expect(t.toString()).to.contain('disposed');
    });
  });

  describe('dispose and use-after-dispose', () => {
    it('dispose is idempotent and frees memory', () => {
      const before = memory();
      const t = zeros([10]);
      expect(memory().numTensors).to.equal(before.numTensors + 1);
      expect(memory().numBytes).to.equal(before.numBytes + 40);
      t.dispose();
      t.dispose();
      expect(t.isDisposed).to.equal(true);
      expect(memory().numTensors).to.equal(before.numTensors);
      expect(memory().numBytes).to.equal(before.numBytes);
    });

    it('reading a disposed tensor throws DisposedError naming the call', async () => {
      const t = zeros([2]);
      t.dispose();
      expectError(() => t.dataSync(), DisposedError, ['dataSync', 'disposed']);
      await expectAsyncError(() => t.data(), DisposedError, ['data']);
      await expectAsyncError(() => t.array(), DisposedError, ['data']);
    });

    it('ops on a disposed tensor throw DisposedError naming the op and the argument', () => {
      const a = zeros([2]);
      const b = zeros([2]);
      b.dispose();
      expectError(() => add(a, b), DisposedError, ['add', "'b'"]);
      expectError(() => add(b, a), DisposedError, ['add', "'a'"]);
      expectError(() => exp(b), DisposedError, ['exp', "'x'"]);
      expectError(() => matmul(a, b), DisposedError, ['matmul', "'b'"]);
      a.dispose();
    });

    it('runKernel itself refuses disposed inputs, naming the kernel', () => {
      const a = zeros([2]);
      a.dispose();
      expectError(() => ENGINE.runKernel('Exp', [a], { dtype: 'float32' }), DisposedError, ['Exp', 'input 0']);
    });

    it('dispose(container) disposes every tensor in nested arrays and objects', () => {
      const a = zeros([1]);
      const b = zeros([1]);
      const c = zeros([1]);
      dispose({ x: [a, { y: b }], z: c, n: 3, s: 'str' });
      expect([a, b, c].every((t) => t.isDisposed)).to.equal(true);
    });
  });

  describe('tidy and keep', () => {
    it('disposes intermediates and keeps the returned tensor', () => {
      const before = memory().numTensors;
      let inner: Tensor | undefined;
      const out = tidy(() => {
        inner = ones([3]);
        const twice = add(inner, inner);
        return mul(twice, 2);
      });
      expect(inner!.isDisposed).to.equal(true);
      expect(out.isDisposed).to.equal(false);
      expect(Array.from(out.dataSync())).to.deep.equal([4, 4, 4]);
      expect(memory().numTensors).to.equal(before + 1);
      out.dispose();
    });

    it('keeps tensors returned inside nested arrays and objects', () => {
      let tmp: Tensor | undefined;
      const res = tidy(() => {
        tmp = zeros([1]);
        return { a: [ones([1]), { b: ones([2]) }], c: ones([3]), n: 1, s: 'x', u: undefined, z: null };
      });
      expect(tmp!.isDisposed).to.equal(true);
      const a0 = res.a[0] as Tensor;
      const b = (res.a[1] as { b: Tensor }).b;
      expect([a0, b, res.c].map((t) => t.isDisposed)).to.deep.equal([false, false, false]);
      dispose(res);
    });

    it('nested tidy: the inner result survives the inner scope and is disposed by the outer one unless returned', () => {
      let innerResult: Tensor | undefined;
      let innerTmp: Tensor | undefined;
      let outerTmp: Tensor | undefined;
      const out = tidy(() => {
        outerTmp = zeros([1]);
        innerResult = tidy(() => {
          innerTmp = zeros([1]);
          return ones([1]);
        });
        expect(innerTmp!.isDisposed, 'inner temporary inside the outer scope').to.equal(true);
        expect(innerResult!.isDisposed, 'inner result inside the outer scope').to.equal(false);
        return add(innerResult!, 1);
      });
      expect(outerTmp!.isDisposed).to.equal(true);
      expect(innerResult!.isDisposed).to.equal(true);
      expect(out.dataSync()[0]).to.equal(2);
      out.dispose();
    });

    it('returning an inner result from both scopes keeps it', () => {
      const out = tidy(() => tidy(() => ones([2])));
      expect(out.isDisposed).to.equal(false);
      out.dispose();
    });

    it('tidy / keep / toBackend reject non-functions and non-tensors with ArgumentError', async () => {
      expectError(() => tidy('x' as unknown as () => void), ArgumentError, ['tidy', "'fn'"]);
      expectError(() => keep(undefined as unknown as Tensor), ArgumentError, ['keep', "'t'"]);
      await expectAsyncError(() => toBackend(3 as unknown as Tensor, 'cpu'), ArgumentError, ['toBackend', "'t'"]);
      const t = zeros([1]);
      t.dispose();
      expectError(() => keep(t), DisposedError, ['keep']);
    });

    it('keep() protects a tensor from the enclosing tidy', () => {
      let kept: Tensor | undefined;
      let other: Tensor | undefined;
      tidy(() => {
        kept = keep(ones([2]));
        other = ones([2]);
      });
      expect(kept!.isDisposed).to.equal(false);
      expect(other!.isDisposed).to.equal(true);
      kept!.dispose();
    });

    it('does not dispose tensors created before the scope', () => {
      const outside = ones([2]);
      const r = tidy(() => {
        add(outside, 1);
        return outside;
      });
      expect(r).to.equal(outside);
      expect(outside.isDisposed).to.equal(false);
      outside.dispose();
    });

    it('on a throw, disposes the scope and rethrows', () => {
      const before = memory().numTensors;
      expect(() =>
        tidy(() => {
          ones([4]);
          throw new Error('boom');
        }),
      ).to.throw('boom');
      expect(memory().numTensors).to.equal(before);
    });

    it('throws ArgumentError (and cleans up) when the function returns a Promise', async () => {
      const before = memory().numTensors;
      let p: Promise<unknown> | undefined;
      expectError(
        () =>
          tidy((() => {
            ones([2]);
            p = Promise.resolve(1);
            return p;
          }) as unknown as () => Tensor),
        ArgumentError,
        ['tidy', 'Promise'],
      );
      await p;
      expect(memory().numTensors).to.equal(before);
    });

    it('a returned view keeps the shared data alive while the original is disposed', () => {
      let base: Tensor | undefined;
      const v = tidy(() => {
        base = tensor([1, 2, 3, 4]);
        return reshape(base, [2, 2]);
      });
      expect(base!.isDisposed).to.equal(true);
      expect(Array.from(v.dataSync())).to.deep.equal([1, 2, 3, 4]);
      v.dispose();
    });
  });

  describe('memory()', () => {
    it('counts tensors, buffers and bytes per dtype', () => {
      const m0 = memory();
      const ts = [zeros([3, 5]), zeros([7], 'float16'), zeros([7], 'bfloat16'), zeros([9], 'int8'), zeros([2], 'int32'), zeros([3], 'bool')];
      const m1 = memory();
      expect(m1.numTensors - m0.numTensors).to.equal(6);
      expect(m1.numDataBuffers - m0.numDataBuffers).to.equal(6);
      expect(m1.numBytes - m0.numBytes).to.equal(60 + 14 + 14 + 9 + 8 + 3);
      expect(m1.backends.cpu.numBytes - m0.backends.cpu.numBytes).to.equal(108);
      dispose(ts);
      const m2 = memory();
      expect(m2.numTensors).to.equal(m0.numTensors);
      expect(m2.numBytes).to.equal(m0.numBytes);
      expect(m2.numDataBuffers).to.equal(m0.numDataBuffers);
    });

    it('views (reshape) share bytes: one more tensor, no more bytes; data freed with the last view', () => {
      const m0 = memory();
      const a = zeros([4, 6]);
      const v = reshape(a, [24]);
      const m1 = memory();
      expect(m1.numTensors - m0.numTensors).to.equal(2);
      expect(m1.numDataBuffers - m0.numDataBuffers).to.equal(1);
      expect(m1.numBytes - m0.numBytes).to.equal(96);
      a.dispose();
      expect(memory().numBytes - m0.numBytes, 'view still holds the data').to.equal(96);
      expect(Array.from(v.dataSync()).length).to.equal(24);
      v.dispose();
      expect(memory().numBytes).to.equal(m0.numBytes);
    });

    it('peakBytes tracks the high-water mark until resetPeakMemory()', () => {
      resetPeakMemory();
      const m0 = memory();
      expect(m0.peakBytes).to.equal(m0.numBytes);
      const big = zeros([1000]);
      big.dispose();
      const m1 = memory();
      expect(m1.numBytes).to.equal(m0.numBytes);
      expect(m1.peakBytes).to.equal(m0.numBytes + 4000);
      expect(m1.backends.cpu.peakBytes).to.be.at.least(m0.backends.cpu.numBytes + 4000);
      resetPeakMemory();
      expect(memory().peakBytes).to.equal(m0.numBytes);
      const small = zeros([10]);
      expect(memory().peakBytes).to.equal(m0.numBytes + 40);
      small.dispose();
    });

    it('peakBytes includes the outputs of an op chain but not what was freed before', () => {
      const a = ones([100]);
      resetPeakMemory();
      const base = memory().numBytes;
      const r = tidy(() => sum(exp(a)));
      // exp allocates 400 bytes, sum 4: both live at once.
      expect(memory().peakBytes - base).to.equal(404);
      expect(memory().numBytes - base).to.equal(4);
      dispose([a, r]);
    });
  });

  describe('out of memory', () => {
    it('an impossible allocation is an OutOfMemoryError naming the op or kernel, and leaks nothing', () => {
      const m0 = memory();
      expectError(() => zeros([1e6, 1e6]), OutOfMemoryError, ['zeros']);
      const x = zeros([1]);
      expectError(() => broadcastTo(x, [1e5, 1e5]), OutOfMemoryError, ['BroadcastTo', 'cpu backend']);
      expectError(() => repeat(x, [2 ** 40]), OutOfMemoryError, ['Tile', 'cpu backend']);
      expectError(() => repeatInterleave(x, 2 ** 40, 0), OutOfMemoryError, ['BroadcastTo']);
      x.dispose();
      const m1 = memory();
      expect([m1.numTensors, m1.numBytes]).to.deep.equal([m0.numTensors, m0.numBytes]);
    });
  });

  describe('kernel registry', () => {
    it('has a CPU kernel for every name in the kernel vocabulary', () => {
      const names = [
        ...UNARY_KERNELS, ...BINARY_KERNELS, ...REDUCE_KERNELS,
        Where, MatMul, Softmax, LogSoftmax, LayerNorm, RmsNorm, Rope, Gather, Concat, Slice, Transpose, BroadcastTo, Tile, Triangle, TopK, WriteSlice,
      ];
      const registered = kernelsForBackend('cpu');
      for (const n of names) {
        expect(hasKernel(n, 'cpu'), n).to.equal(true);
        expect(registered).to.include(n);
      }
      expect(getKernel('Add', 'cpu').kernelName).to.equal('Add');
    });

    it('a missing kernel is a KernelNotFoundError naming the kernel and the backend', () => {
      const e = expectError(() => getKernel('NoSuchKernel', 'cpu'), KernelNotFoundError, ["'NoSuchKernel'", "'cpu'"]) as KernelNotFoundError;
      expect(e.kernelName).to.equal('NoSuchKernel');
      expect(e.backendName).to.equal('cpu');
      expectError(() => ENGINE.runKernel('NoSuchKernel', []), KernelNotFoundError, ['NoSuchKernel', 'cpu']);
    });

    it('registerKernel adds data that runKernel dispatches to; unregisterKernel removes it', () => {
      const name = 'TestDoubleIt';
      registerKernel({
        kernelName: name,
        backendName: 'cpu',
        kernelFunc: ([x], _attrs, backend) => {
          const cpu = backend as import('../../backends/cpu/backend.js').CpuBackend;
          const out = cpu.makeOutput(x.shape, 'float32');
          const src = cpu.viewOf(x) as Float32Array;
          const dst = cpu.viewOf(out) as Float32Array;
          for (let i = 0; i < dst.length; i++) dst[i] = 2 * src[i];
          return out;
        },
      });
      try {
        expect(hasKernel(name, 'cpu')).to.equal(true);
        const x = tensor([1, 2, 3]);
        const y = ENGINE.run(name, [x]);
        expect(Array.from(y.dataSync())).to.deep.equal([2, 4, 6]);
        dispose([x, y]);
      } finally {
        expect(unregisterKernel(name, 'cpu')).to.equal(true);
      }
      expect(unregisterKernel(name, 'cpu')).to.equal(false);
      expect(hasKernel(name, 'cpu')).to.equal(false);
    });

    it('registerKernel rejects an incomplete config with ArgumentError', () => {
      expectError(() => registerKernel({ kernelName: '', backendName: 'cpu', kernelFunc: () => [] }), ArgumentError, ['registerKernel']);
      expectError(
        () => registerKernel({ kernelName: 'X', backendName: 'cpu', kernelFunc: null as unknown as () => [] }),
        ArgumentError,
        ['registerKernel'],
      );
    });
  });

  describe('backends', () => {
    /** A minimal in-memory backend with no kernels. */
    class MapBackend implements Backend {
      readonly name = 'spec-map';
      readonly store = new Map<DataId, StorageArray>();
      write(values: StorageArray | null, size: number, dtype: import('../../index.js').DType): DataId {
        const id = { backendName: this.name };
        const Ctor = { float32: Float32Array, float16: Uint16Array, bfloat16: Uint16Array, int32: Int32Array, int8: Int8Array, uint8: Uint8Array, bool: Uint8Array }[dtype];
        this.store.set(id, values ? (values.slice() as StorageArray) : new Ctor(size));
        return id;
      }
      read(dataId: DataId): Promise<StorageArray> {
        return Promise.resolve(this.store.get(dataId)!.slice() as StorageArray);
      }
      disposeData(dataId: DataId): void {
        this.store.delete(dataId);
      }
      dispose(): void {}
    }

    it('cpu is registered and active by default', () => {
      expect(getBackend()).to.equal('cpu');
      expect(listBackends()).to.include('cpu');
    });

    it('setBackend to an unknown name rejects with BackendError listing the registered ones', async () => {
      await expectAsyncError(() => setBackend('no-such-backend'), BackendError, ['no-such-backend', 'cpu']);
      expect(getBackend()).to.equal('cpu');
    });

    it('switches backends; a missing kernel names kernel and backend; mixing backends is a BackendError; toBackend copies', async () => {
      const backend = new MapBackend();
      ENGINE.registerBackend('spec-map', () => backend, 0);
      const onCpu = tensor([1, 2, 3]);
      await setBackend('spec-map');
      try {
        expect(getBackend()).to.equal('spec-map');
        const t = tensor([4, 5, 6]);
        expect(t.backendName).to.equal('spec-map');
        expect(backend.store.size).to.equal(1);
        expect(Array.from(await t.data())).to.deep.equal([4, 5, 6]);
        // No readSync on this backend.
        expectError(() => t.dataSync(), BackendError, ['dataSync', 'spec-map']);
        expectError(() => exp(t), KernelNotFoundError, ["'Exp'", "'spec-map'"]);
        expectError(() => add(onCpu, t), BackendError, ['Add', 'cpu', 'spec-map']);
        const moved = await toBackend(t, 'cpu');
        expect(moved.backendName).to.equal('cpu');
        expect(Array.from(moved.dataSync())).to.deep.equal([4, 5, 6]);
        dispose([t, moved]);
        expect(backend.store.size).to.equal(0);
      } finally {
        await setBackend('cpu');
        onCpu.dispose();
      }
      expect(getBackend()).to.equal('cpu');
    });
  });
});

describe('lib/engine: transpose view bookkeeping', () => {
  checkLeaks();
  it('a transpose that only moves size-1 axes is a view; others copy', () => {
    const m0 = memory();
    const a = zeros([3, 1, 4]);
    const v = transpose(a, [1, 0, 2]);
    expect(memory().numDataBuffers - m0.numDataBuffers).to.equal(1);
    const c = transpose(a, [2, 1, 0]);
    expect(memory().numDataBuffers - m0.numDataBuffers).to.equal(2);
    dispose([a, v, c]);
  });
});
