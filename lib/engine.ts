/**
 * The engine: owns the backends, runs kernels from the registry, wraps their outputs as tensors,
 * tracks lifetimes (`tidy`, `dispose`, `keep`) and counts memory, including a resettable peak.
 */

import { getKernel, type Attrs, type Backend, type DataId, type TensorInfo } from './backend.js';
import { decodeBf16, decodeF16 } from './float16.js';
import type { DataArray, DType, StorageArray } from './dtype.js';
import { bytesPerElement, storageCtor } from './dtype.js';
import { ArgumentError, BackendError, OutOfMemoryError } from './errors.js';
import { sizeOf, type Shape } from './shape.js';
import { KernelTimer, type ProfileInfo } from './profiler.js';
import { setTensorHost, Tensor } from './tensor.js';

/** Factory for a backend; async factories are awaited by `setBackend`. */
export type BackendFactory = () => Backend | Promise<Backend>;

interface BackendEntry {
  factory: BackendFactory;
  priority: number;
  instance?: Backend;
  pending?: Promise<Backend>;
}

interface DataRecord {
  refCount: number;
  bytes: number;
  backend: Backend;
}

/** Live and peak byte counters for one backend. */
export interface MemoryCounters {
  numBytes: number;
  peakBytes: number;
  /** Bytes of kernel scratch space currently held (counted in numBytes too). */
  scratchBytes: number;
}

/** What `memory()` reports. `peakBytes` includes kernel scratch, so it bounds a call's footprint. */
export interface MemoryInfo {
  numTensors: number;
  numDataBuffers: number;
  numBytes: number;
  peakBytes: number;
  backends: Record<string, MemoryCounters>;
}

/** Anything `tidy` can return and keep: tensors in (nested) arrays or plain objects. */
export type TensorContainer = void | Tensor | string | number | boolean | null | undefined | TensorContainer[] | { [k: string]: TensorContainer };

class Engine {
  private readonly backends = new Map<string, BackendEntry>();
  private active: Backend | null = null;
  private readonly data = new Map<DataId, DataRecord>();
  private readonly counters = new Map<string, MemoryCounters>();
  private numTensors = 0;
  private totalBytes = 0;
  private totalPeak = 0;
  private readonly scopes: Tensor[][] = [];
  /** Set while `profile` runs: every kernel call is timed into it. */
  private timer: KernelTimer | null = null;

  registerBackend(name: string, factory: BackendFactory, priority = 1): void {
    if (this.backends.has(name)) {
      const e = this.backends.get(name)!;
      e.factory = factory;
      e.priority = priority;
      return;
    }
    this.backends.set(name, { factory, priority });
  }

  registeredBackends(): string[] {
    return [...this.backends.keys()];
  }

  /** Initialises (once) and returns a backend by name. */
  async initBackend(name: string): Promise<Backend> {
    const e = this.backends.get(name);
    if (!e) throw new BackendError(`unknown backend '${name}'; registered: ${this.registeredBackends().join(', ') || 'none'}`);
    if (e.instance) return e.instance;
    e.pending ??= Promise.resolve(e.factory()).then(
      (b) => (e.instance = b),
      (err) => {
        e.pending = undefined;
        throw err instanceof BackendError ? err : new BackendError(`backend '${name}' failed to initialise: ${(err as Error).message ?? err}`);
      },
    );
    return e.pending;
  }

  /** A backend that is already initialised, or one whose factory is synchronous. */
  backendSync(name: string): Backend {
    const e = this.backends.get(name);
    if (!e) throw new BackendError(`unknown backend '${name}'; registered: ${this.registeredBackends().join(', ') || 'none'}`);
    if (e.instance) return e.instance;
    const b = e.factory();
    if (b instanceof Promise) {
      throw new BackendError(`backend '${name}' initialises asynchronously: call 'await setBackend("${name}")' first`);
    }
    return (e.instance = b);
  }

  async setBackend(name: string): Promise<void> {
    const e = this.backends.get(name);
    if (e?.instance) {
      this.active = e.instance;
      return;
    }
    this.active = await this.initBackend(name);
  }

  /** Runs `fn` with `backend` as the active backend (creation ops inside allocate there). */
  withBackend<T>(backend: Backend, fn: () => T): T {
    const prev = this.active;
    this.active = backend;
    try {
      return fn();
    } finally {
      this.active = prev;
    }
  }

  get backend(): Backend {
    if (this.active) return this.active;
    const best = [...this.backends.entries()].sort((a, b) => b[1].priority - a[1].priority);
    for (const [name] of best) {
      try {
        this.active = this.backendSync(name);
        return this.active;
      } catch {
        /* try the next one */
      }
    }
    throw new BackendError('no backend available: import flashtensor (registers "cpu") first');
  }

  // ---------------------------------------------------------------- tensors

  /** Creates a tensor holding a copy of raw storage `values` (or uninitialised when null). */
  makeTensor(values: StorageArray | null, shape: Shape, dtype: DType, backend: Backend = this.backend): Tensor {
    const dataId = backend.write(values, sizeOf(shape), dtype);
    return this.wrap({ dataId, shape, dtype }, backend);
  }

  /**
   * A new tensor sharing `t`'s data under another shape of the same size (no copy). With `dtype`,
   * the same bytes reinterpreted as another dtype (a bitcast; the byte size must match).
   */
  makeView(t: Tensor, shape: Shape, dtype: DType = t.dtype): Tensor {
    const rec = this.data.get(t.dataId);
    if (!rec) throw new BackendError(`view of a tensor with no data record (#${t.id})`);
    if (dtype !== t.dtype && sizeOf(shape) * bytesPerElement(dtype) !== t.size * bytesPerElement(t.dtype)) {
      throw new ArgumentError(
        `bitcast view: ${t.dtype} [${t.shape}] holds ${t.size * bytesPerElement(t.dtype)} bytes, ${dtype} [${shape}] needs ${sizeOf(shape) * bytesPerElement(dtype)}`,
      );
    }
    return this.wrap({ dataId: t.dataId, shape, dtype }, rec.backend);
  }

  private wrap(info: TensorInfo, backend: Backend): Tensor {
    let rec = this.data.get(info.dataId);
    if (rec) {
      rec.refCount++;
    } else {
      const bytes = sizeOf(info.shape) * bytesPerElement(info.dtype);
      rec = { refCount: 1, bytes, backend };
      this.data.set(info.dataId, rec);
      this.noteAlloc(backend.name, bytes);
    }
    const t = new Tensor(info.shape.slice(), info.dtype, info.dataId, backend.name);
    this.numTensors++;
    const scope = this.scopes[this.scopes.length - 1];
    if (scope) scope.push(t);
    return t;
  }

  disposeTensor(t: Tensor): void {
    if (t.isDisposedInternal) return;
    t.isDisposedInternal = true;
    this.numTensors--;
    const rec = this.data.get(t.dataId);
    if (!rec) return;
    if (--rec.refCount === 0) {
      this.data.delete(t.dataId);
      rec.backend.disposeData(t.dataId);
      this.noteFree(rec.backend.name, rec.bytes);
    }
  }

  /** Runs `kernelName` on the backend holding the inputs (the active one when there are none). */
  runKernel(kernelName: string, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor | Tensor[] {
    let backend: Backend;
    if (inputs.length) {
      const name = inputs[0].backendName;
      for (let i = 0; i < inputs.length; i++) {
        inputs[i].throwIfDisposed(kernelName, `input ${i}`);
        if (inputs[i].backendName !== name) {
          throw new BackendError(
            `${kernelName}: inputs live on different backends (input 0 on '${name}', input ${i} on '${inputs[i].backendName}'); move them with toBackend() first`,
          );
        }
      }
      backend = this.data.get(inputs[0].dataId)!.backend;
    } else {
      backend = this.backend;
    }
    const kernel = getKernel(kernelName, backend.name);
    let out: TensorInfo | TensorInfo[];
    try {
      if (this.timer) {
        const t0 = performance.now();
        out = kernel.kernelFunc(inputs, attrs, backend);
        this.timer.add(kernelName, performance.now() - t0);
      } else {
        out = kernel.kernelFunc(inputs, attrs, backend);
      }
    } catch (e) {
      if (e instanceof OutOfMemoryError) throw new OutOfMemoryError(`${kernelName}: ${e.message}`);
      throw e;
    }
    return Array.isArray(out) ? out.map((o) => this.wrap(o, backend)) : this.wrap(out, backend);
  }

  /** Like runKernel, for kernels with exactly one output. */
  run(kernelName: string, inputs: readonly Tensor[], attrs: Attrs = {}): Tensor {
    return this.runKernel(kernelName, inputs, attrs) as Tensor;
  }

  async read(t: Tensor): Promise<DataArray> {
    const rec = this.data.get(t.dataId)!;
    return decodeStorage(await rec.backend.read(t.dataId, t.size, t.dtype), t.dtype);
  }

  readSync(t: Tensor): DataArray {
    const rec = this.data.get(t.dataId)!;
    if (!rec.backend.readSync) {
      throw new BackendError(`dataSync: backend '${rec.backend.name}' computes asynchronously; use 'await t.data()'`);
    }
    return decodeStorage(rec.backend.readSync(t.dataId, t.size, t.dtype), t.dtype);
  }

  /** Raw storage of a tensor, synchronously (float16/bfloat16 as bits). CPU-side helpers only. */
  readRawSync(t: Tensor): StorageArray {
    const rec = this.data.get(t.dataId)!;
    if (!rec.backend.readSync) throw new BackendError(`backend '${rec.backend.name}' cannot read synchronously`);
    return rec.backend.readSync(t.dataId, t.size, t.dtype);
  }

  /** Backend instance holding a tensor's data. */
  backendOf(t: Tensor): Backend {
    return this.data.get(t.dataId)!.backend;
  }

  // ---------------------------------------------------------------- profiling

  /**
   * Runs `fn` (sync or async) timing every kernel call; nested profiles are not supported (the
   * inner one throws), so figures are never split between two reports.
   */
  profile<T>(fn: () => T): T extends Promise<infer R> ? Promise<{ result: R; profile: ProfileInfo }> : { result: T; profile: ProfileInfo } {
    if (this.timer) throw new ArgumentError('profile: a profile is already running');
    const timer = (this.timer = new KernelTimer());
    const t0 = performance.now();
    const finish = () => {
      this.timer = null;
      return timer.report(performance.now() - t0);
    };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      finish();
      throw e;
    }
    if (result instanceof Promise) {
      return result.then(
        (r) => ({ result: r, profile: finish() }),
        (e) => {
          finish();
          throw e;
        },
      ) as never;
    }
    return { result, profile: finish() } as never;
  }

  // ---------------------------------------------------------------- scopes

  tidy<T extends TensorContainer>(fn: () => T): T {
    this.scopes.push([]);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.endScope(undefined);
      throw e;
    }
    if (result instanceof Promise) {
      this.endScope(undefined);
      throw new ArgumentError('tidy: the function returned a Promise; tidy only works with synchronous code (dispose tensors explicitly across awaits)');
    }
    this.endScope(result);
    return result;
  }

  private endScope(result: TensorContainer): void {
    const tracked = this.scopes.pop()!;
    const keep = new Set<Tensor>();
    collectTensors(result, keep);
    const parent = this.scopes[this.scopes.length - 1];
    for (const t of tracked) {
      if (t.isDisposedInternal) continue;
      if (keep.has(t)) {
        if (parent) parent.push(t);
      } else if (!t.kept) {
        this.disposeTensor(t);
      }
    }
  }

  // ---------------------------------------------------------------- memory

  /** Counts `bytes` of kernel scratch (or any non-tensor allocation) against a backend. */
  noteAlloc(backendName: string, bytes: number, scratch = false): void {
    const c = this.counter(backendName);
    c.numBytes += bytes;
    if (scratch) c.scratchBytes += bytes;
    if (c.numBytes > c.peakBytes) c.peakBytes = c.numBytes;
    this.totalBytes += bytes;
    if (this.totalBytes > this.totalPeak) this.totalPeak = this.totalBytes;
  }

  noteFree(backendName: string, bytes: number, scratch = false): void {
    const c = this.counter(backendName);
    c.numBytes -= bytes;
    if (scratch) c.scratchBytes -= bytes;
    this.totalBytes -= bytes;
  }

  private counter(name: string): MemoryCounters {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { numBytes: 0, peakBytes: 0, scratchBytes: 0 }));
    return c;
  }

  memory(): MemoryInfo {
    const backends: Record<string, MemoryCounters> = {};
    for (const [k, v] of this.counters) backends[k] = { ...v };
    return {
      numTensors: this.numTensors,
      numDataBuffers: this.data.size,
      numBytes: this.totalBytes,
      peakBytes: this.totalPeak,
      backends,
    };
  }

  resetPeakMemory(): void {
    this.totalPeak = this.totalBytes;
    for (const c of this.counters.values()) c.peakBytes = c.numBytes;
  }
}

function decodeStorage(raw: StorageArray, dtype: DType): DataArray {
  if (dtype === 'float16') return decodeF16(raw as Uint16Array);
  if (dtype === 'bfloat16') return decodeBf16(raw as Uint16Array);
  return raw as DataArray;
}

/** Adds every tensor inside a container (arrays, plain objects) to `out`. */
export function collectTensors(c: TensorContainer, out: Set<Tensor>): void {
  if (c instanceof Tensor) out.add(c);
  else if (Array.isArray(c)) for (const x of c) collectTensors(x, out);
  else if (c && typeof c === 'object') for (const x of Object.values(c)) collectTensors(x as TensorContainer, out);
}

/** The process-wide engine. */
export const ENGINE = new Engine();
setTensorHost(ENGINE);

/** Makes a storage array of the right type for a dtype. */
export function allocStorage(dtype: DType, size: number): StorageArray {
  return new (storageCtor(dtype))(size);
}
