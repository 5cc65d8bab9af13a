/**
 * The WebGPU backend's data store and command queue. Kernels record dispatches into one command
 * encoder (one compute pass); the batch is submitted when it reaches `flushEvery` dispatches, when
 * data is read, on `sync()`, and at the end of the current synchronous job (a microtask), so ops
 * return at once and the GPU sees few, large submits.
 *
 * Errors: validation, out-of-memory and internal errors of each batch are captured with error
 * scopes and thrown, typed, from the next `read`/`sync` (BackendError, OutOfMemoryError). Requests
 * beyond the device's buffer limits or the configured budget throw OutOfMemoryError at once. A lost
 * device makes every later call throw BackendError instead of hanging.
 */

import type { Backend, DataId, TensorInfo } from '../../lib/backend.js';
import { bytesPerElement, storageCtor, type DType, type StorageArray } from '../../lib/dtype.js';
import { ENGINE } from '../../lib/engine.js';
import { BackendError, OutOfMemoryError } from '../../lib/errors.js';
import { sizeOf, type Shape } from '../../lib/shape.js';
import { BufferPool, type PoolStats } from './buffer_pool.js';
import type { GpuDeviceInfo } from './device.js';
import { pipelineKey, programSource, type Program } from './program.js';

/** GPUBufferUsage / GPUMapMode / GPUShaderStage values (spec constants; no globals needed). */
export const USAGE = { MAP_READ: 1, COPY_SRC: 4, COPY_DST: 8, UNIFORM: 64, STORAGE: 128 } as const;
const MAP_READ_MODE = 1;
const STAGE_COMPUTE = 4;
const TENSOR_USAGE = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
const ARENA_BYTES = 1 << 16;
/** Bind groups kept for reuse (the cache is dropped when it grows past this). */
const MAX_CACHED_GROUPS = 4096;
/** Small uploads keep a host copy: `dataSync` and host-side index checks can then use it. */
const SHADOW_MAX_BYTES = 1 << 16;

const align = (n: number, a: number) => Math.ceil(n / a) * a;

/** A WebGPU buffer holding one tensor's storage (null for empty tensors). */
export class GpuDataId implements DataId {
  readonly backendName = 'webgpu';
  /** Host copy of the contents when the tensor was uploaded small and never written by a kernel. */
  shadow: StorageArray | null = null;
  constructor(
    public buffer: GPUBuffer | null,
    readonly bytes: number,
  ) {}
}

/** Something a kernel can bind: a tensor, or a raw buffer with its used byte size. */
export type Bindable = TensorInfo | { buffer: GPUBuffer; bytes: number };

/** Memory as the backend sees it: the pool's real GPU footprint plus what is in flight. */
export interface WebGPUMemoryInfo extends PoolStats {
  pipelines: number;
  stagingBytes: number;
}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly device: GPUDevice;
  readonly limits: GPUSupportedLimits;
  /** Submit after this many recorded dispatches. */
  flushEvery = 64;
  /** Optional cap on the pool's GPU bytes; allocations beyond it throw OutOfMemoryError. */
  memoryLimit = Infinity;
  /** Use native f16 arithmetic where the device offers `shader-f16` and results are bit-identical. */
  nativeF16 = true;
  /** Workgroup memory a kernel may use: the device's limit (lower it to test or to leave headroom). */
  workgroupMemoryBudget: number;

  private readonly pool: BufferPool;
  private readonly staging: BufferPool;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, [GPUBindGroupLayout, GPUPipelineLayout]>();
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private flushScheduled = false;
  private readonly arena: GPUBuffer;
  private readonly arenaData = new Uint8Array(ARENA_BYTES);
  private arenaUsed = 0;
  private readonly uniformAlign: number;
  private readonly dummy: GPUBuffer;
  private readonly batchErrors: Promise<Error | null>[] = [];
  private deferred: Error | null = null;
  private lostReason: string | null = null;
  private readonly lostPromise: Promise<never>;
  private disposed = false;

  constructor(readonly info: GpuDeviceInfo) {
    this.device = info.device;
    this.limits = this.device.limits;
    this.uniformAlign = this.limits.minUniformBufferOffsetAlignment || 256;
    this.workgroupMemoryBudget = this.limits.maxComputeWorkgroupStorageSize;
    this.pool = new BufferPool((size, usage) => this.createBuffer(size, usage));
    this.staging = new BufferPool((size, usage) => this.createBuffer(size, usage), 64 << 20);
    this.device.addEventListener('uncapturederror', (ev: Event) => {
      ev.preventDefault();
      const err = (ev as GPUUncapturedErrorEvent).error;
      this.recordError(toTypedError(err, 'uncaptured'));
    });
    this.lostPromise = this.device.lost.then((i) => {
      this.lostReason = `${i.reason}: ${i.message}`;
      throw new BackendError(`webgpu: the GPU device was lost (${this.lostReason})`);
    });
    this.lostPromise.catch(() => undefined);
    this.arena = this.createBuffer(ARENA_BYTES, USAGE.UNIFORM | USAGE.COPY_DST);
    this.dummy = this.createBuffer(16, TENSOR_USAGE);
  }

  // ------------------------------------------------------------------ Backend interface

  write(values: StorageArray | null, size: number, dtype: DType): GpuDataId {
    this.checkAlive('write');
    const bytes = size * bytesPerElement(dtype);
    if (bytes === 0) return new GpuDataId(null, 0);
    const id = new GpuDataId(this.acquire(bytes, !values), bytes);
    if (values) {
      let src = new Uint8Array(values.buffer, values.byteOffset, bytes);
      if (bytes % 4) {
        const padded = new Uint8Array(align(bytes, 4));
        padded.set(src);
        src = padded;
      }
      this.device.queue.writeBuffer(id.buffer!, 0, src);
      if (bytes <= SHADOW_MAX_BYTES) id.shadow = values.slice(0, size) as StorageArray;
    }
    return id;
  }

  async read(dataId: DataId, size: number, dtype: DType): Promise<StorageArray> {
    const id = dataId as GpuDataId;
    const Ctor = storageCtor(dtype);
    const bytes = size * bytesPerElement(dtype);
    if (bytes === 0) return new Ctor(0);
    if (id.shadow) return id.shadow.slice() as StorageArray;
    this.checkAlive('read');
    const padded = align(bytes, 4);
    const staging = this.staging.acquire(padded, USAGE.MAP_READ | USAGE.COPY_DST);
    this.copy(id.buffer!, staging, padded);
    this.flush();
    try {
      await Promise.race([staging.mapAsync(MAP_READ_MODE, 0, padded), this.lostPromise]);
    } catch (e) {
      await this.throwPendingErrors();
      throw e instanceof BackendError ? e : new BackendError(`webgpu: reading a tensor failed: ${(e as Error).message ?? e}`);
    }
    const out = staging.getMappedRange(0, padded).slice(0, bytes);
    staging.unmap();
    this.staging.releaseNow(staging);
    await this.throwPendingErrors();
    return new Ctor(out) as StorageArray;
  }

  /** Only tensors uploaded from the host (small, never overwritten) can be read synchronously. */
  readSync(dataId: DataId, size: number, dtype: DType): StorageArray {
    const id = dataId as GpuDataId;
    if (size === 0) return new (storageCtor(dtype))(0);
    if (id.shadow) return id.shadow.slice() as StorageArray;
    throw new BackendError(`dataSync: backend 'webgpu' computes asynchronously; use 'await t.data()'`);
  }

  disposeData(dataId: DataId): void {
    const id = dataId as GpuDataId;
    if (!id.buffer) return;
    this.releaseBuffer(id.buffer);
    id.buffer = null;
    id.shadow = null;
  }

  async sync(): Promise<void> {
    this.checkAlive('sync');
    this.flush();
    await Promise.race([this.device.queue.onSubmittedWorkDone(), this.lostPromise]);
    await this.throwPendingErrors();
  }

  dispose(): void {
    if (this.disposed) return;
    this.flush();
    this.disposed = true;
    this.pool.trim();
    this.staging.trim();
    this.device.destroy();
  }

  // ------------------------------------------------------------------ memory

  /** Pool counters plus pipeline count (for leak tests and diagnostics). */
  memoryInfo(): WebGPUMemoryInfo {
    return { ...this.pool.getStats(), pipelines: this.pipelines.size, stagingBytes: this.staging.getStats().liveBytes };
  }

  /** Destroys idle pooled buffers (after a submit, so recorded work keeps its buffers). */
  releaseCachedMemory(): void {
    this.flush();
    this.groups.clear();
    this.pool.trim();
    this.staging.trim();
  }

  /** A tensor-usage buffer of at least `bytes` from the pool; `gpuWrite`: only recorded commands will write it. */
  acquire(bytes: number, gpuWrite = false): GPUBuffer {
    return this.pool.acquire(align(bytes, 4), TENSOR_USAGE, gpuWrite);
  }

  /** Returns a pool buffer; parked until the next submit when recorded work may still use it. */
  releaseBuffer(buf: GPUBuffer): void {
    if (this.encoder) this.pool.release(buf);
    else this.pool.releaseNow(buf);
  }

  /** Allocates an output tensor (uninitialised). */
  makeOutput(shape: Shape, dtype: DType): TensorInfo {
    return { dataId: this.write(null, sizeOf(shape), dtype), shape, dtype };
  }

  /** A temporary tensor for a kernel's intermediate result, counted as scratch until `disposeTemp`. */
  makeTemp(shape: Shape, dtype: DType): TensorInfo {
    const t = this.makeOutput(shape, dtype);
    ENGINE.noteAlloc(this.name, (t.dataId as GpuDataId).bytes, true);
    return t;
  }

  /** Frees a `makeTemp` tensor (safe right after recording the kernels that use it). */
  disposeTemp(t: TensorInfo): void {
    ENGINE.noteFree(this.name, (t.dataId as GpuDataId).bytes, true);
    this.disposeData(t.dataId);
  }

  /** Marks a tensor's storage as written by a kernel (drops its host copy). */
  invalidateShadow(t: TensorInfo): void {
    (t.dataId as GpuDataId).shadow = null;
  }

  private createBuffer(size: number, usage: number): GPUBuffer {
    this.checkAlive('allocate');
    if (size > this.limits.maxBufferSize) {
      throw new OutOfMemoryError(`webgpu: a ${size}-byte buffer exceeds the device's maxBufferSize (${this.limits.maxBufferSize} bytes)`);
    }
    const live = this.pool ? this.pool.getStats().liveBytes : 0;
    if (live + size > this.memoryLimit) {
      this.pool.trim();
      const after = this.pool.getStats().liveBytes;
      if (after + size > this.memoryLimit) {
        throw new OutOfMemoryError(
          `webgpu: allocating ${size} bytes would exceed the backend's memory limit of ${this.memoryLimit} bytes (${after} bytes in use)`,
        );
      }
    }
    this.device.pushErrorScope('out-of-memory');
    const buf = this.device.createBuffer({ size, usage });
    this.device.popErrorScope().then(
      (err) => err && this.recordError(new OutOfMemoryError(`webgpu: the device could not allocate ${size} bytes: ${err.message}`)),
      () => undefined,
    );
    return buf;
  }

  // ------------------------------------------------------------------ recording and submitting

  /** Records one program dispatch. Outputs must be fresh (or, for in-place kernels, only outputs). */
  run(p: Program, inputs: readonly Bindable[], outputs: readonly Bindable[]): void {
    this.checkAlive(p.name);
    if (p.grid.some((g) => g === 0)) return;
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    if (p.grid.some((g) => g > maxGroups)) {
      throw new BackendError(`webgpu: kernel '${p.name}' needs a grid of [${p.grid}] workgroups, over the device limit of ${maxGroups} per dimension`);
    }
    const pipeline = this.pipeline(p);
    const data = p.uniforms.data();
    if (this.arenaUsed + data.byteLength > ARENA_BYTES) this.flush();
    this.beginPass();
    const offset = this.arenaUsed;
    this.arenaData.set(new Uint8Array(data.buffer), offset);
    this.arenaUsed = align(offset + data.byteLength, this.uniformAlign);
    const bindings = [...inputs, ...outputs].map((b, i) => this.binding(b, p.name, i));
    const group = this.bindGroup(p.inputs.length, p.outputs.length, bindings, data.byteLength);
    this.pass!.setPipeline(pipeline);
    this.pass!.setBindGroup(0, group, [offset]);
    this.pass!.dispatchWorkgroups(p.grid[0], p.grid[1], p.grid[2]);
    for (const o of outputs) if ('dataId' in o) this.invalidateShadow(o);
    if (++this.dispatches >= this.flushEvery) this.flush();
  }

  /** Records a buffer-to-buffer copy of `bytes` (a multiple of 4). */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0): void {
    this.checkAlive('copy');
    this.beginEncoder();
    this.endPass();
    this.encoder!.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder || this.disposed) return;
    this.endPass();
    if (this.arenaUsed) this.device.queue.writeBuffer(this.arena, 0, this.arenaData, 0, this.arenaUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.dispatches = 0;
    this.arenaUsed = 0;
    const internal = this.device.popErrorScope();
    const oom = this.device.popErrorScope();
    const validation = this.device.popErrorScope();
    this.batchErrors.push(
      Promise.all([validation, oom, internal]).then(
        ([v, o, i]) => (o ? toTypedError(o, 'out-of-memory') : v ? toTypedError(v, 'validation') : i ? toTypedError(i, 'internal') : null),
        () => null,
      ),
    );
    this.pool.onSubmit();
  }

  private beginEncoder(): void {
    if (this.encoder) return;
    // One error scope per batch, closed in flush().
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('internal');
    this.encoder = this.device.createCommandEncoder();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  private beginPass(): void {
    this.beginEncoder();
    this.pass ??= this.encoder!.beginComputePass();
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private binding(b: Bindable, kernel: string, index: number): GPUBufferBinding {
    let buffer: GPUBuffer | null;
    let bytes: number;
    if ('dataId' in b) {
      const id = b.dataId as GpuDataId;
      if (id.backendName !== 'webgpu') throw new BackendError(`webgpu: kernel '${kernel}': binding ${index} is not a webgpu tensor`);
      buffer = id.buffer;
      bytes = id.bytes;
      if (!buffer && bytes) throw new BackendError(`webgpu: kernel '${kernel}': binding ${index} was already disposed`);
    } else {
      buffer = b.buffer;
      bytes = b.bytes;
    }
    if (!buffer) return { buffer: this.dummy };
    const limit = this.limits.maxStorageBufferBindingSize;
    if (bytes > limit) {
      throw new OutOfMemoryError(
        `webgpu: kernel '${kernel}': binding ${index} holds ${bytes} bytes, over the device's maxStorageBufferBindingSize (${limit} bytes)`,
      );
    }
    return buffer.size > limit ? { buffer, size: align(bytes, 4) } : { buffer };
  }

  /**
   * A bind group for these buffers, cached: creating one costs ~20 µs (more than the dispatch on a
   * software adapter), and steady-state loops bind the same pooled buffers over and over. The
   * uniform block binds the arena with a dynamic offset, so it is not part of the key.
   */
  private bindGroup(nIn: number, nOut: number, bindings: GPUBufferBinding[], uniformBytes: number): GPUBindGroup {
    let key = `${nIn}:${nOut}:${uniformBytes}`;
    for (const b of bindings) key += `|${this.bufferId(b.buffer)}${b.size ? `:${b.size}` : ''}`;
    let g = this.groups.get(key);
    if (!g) {
      const entries: GPUBindGroupEntry[] = bindings.map((resource, binding) => ({ binding, resource }));
      entries.push({ binding: bindings.length, resource: { buffer: this.arena, offset: 0, size: uniformBytes } });
      g = this.device.createBindGroup({ layout: this.layout(nIn, nOut)[0], entries });
      if (this.groups.size >= MAX_CACHED_GROUPS) this.groups.clear();
      this.groups.set(key, g);
    }
    return g;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  private layout(nIn: number, nOut: number): [GPUBindGroupLayout, GPUPipelineLayout] {
    const key = `${nIn}:${nOut}`;
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (let i = 0; i < nIn + nOut; i++) {
        entries.push({ binding: i, visibility: STAGE_COMPUTE, buffer: { type: i < nIn ? 'read-only-storage' : 'storage' } });
      }
      entries.push({ binding: nIn + nOut, visibility: STAGE_COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } });
      const bgl = this.device.createBindGroupLayout({ entries });
      l = [bgl, this.device.createPipelineLayout({ bindGroupLayouts: [bgl] })];
      this.layouts.set(key, l);
    }
    return l;
  }

  private pipeline(p: Program): GPUComputePipeline {
    const key = pipelineKey(p);
    let pl = this.pipelines.get(key);
    if (pl) return pl;
    if (p.f16 && !this.info.f16) throw new BackendError(`webgpu: kernel '${p.name}' needs shader-f16, which this device lacks`);
    const code = programSource(p);
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: p.name });
    pl = this.device.createComputePipeline({ layout: this.layout(p.inputs.length, p.outputs.length)[1], compute: { module, entryPoint: 'main' }, label: p.name });
    this.device.popErrorScope().then(
      (err) => {
        if (!err) return;
        this.pipelines.delete(key);
        const src = typeof process !== 'undefined' && process.env?.FLASHTENSOR_WEBGPU_DEBUG ? `\n${code}` : '';
        this.recordError(new BackendError(`webgpu: kernel '${p.name}' failed to compile: ${err.message}${src}`));
      },
      () => undefined,
    );
    this.pipelines.set(key, pl);
    return pl;
  }

  // ------------------------------------------------------------------ errors

  private recordError(e: Error): void {
    this.deferred ??= e;
  }

  private async throwPendingErrors(): Promise<void> {
    const batches = this.batchErrors.splice(0);
    const errs = await Promise.all(batches);
    const first = this.deferred ?? errs.find((e) => e);
    this.deferred = null;
    if (first) throw first;
  }

  private checkAlive(what: string): void {
    if (this.lostReason) throw new BackendError(`webgpu: ${what}: the GPU device was lost (${this.lostReason})`);
    if (this.disposed) throw new BackendError(`webgpu: ${what}: the backend was disposed`);
  }

  /** True once the device is lost. */
  get isLost(): boolean {
    return this.lostReason !== null;
  }
}

function toTypedError(err: GPUError, filter: string): Error {
  const kind = (err as { constructor?: { name?: string } }).constructor?.name ?? '';
  if (filter === 'out-of-memory' || kind === 'GPUOutOfMemoryError') return new OutOfMemoryError(`webgpu: out of GPU memory: ${err.message}`);
  return new BackendError(`webgpu ${filter} error: ${err.message}`);
}
