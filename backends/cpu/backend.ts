/** The CPU backend: tensors live in one WebAssembly memory shared with the kernels and workers. */

import type { Backend, DataId, TensorInfo } from '../../lib/backend.js';
import { bytesPerElement, storageCtor, type DType, type StorageArray } from '../../lib/dtype.js';
import { ENGINE } from '../../lib/engine.js';
import { sizeOf, type Shape } from '../../lib/shape.js';
import { cpuConfig } from './config.js';
import { Heap } from './heap.js';
import { WasmRuntime } from './runtime.js';

/** Where a CPU buffer lives in the heap. */
export class CpuDataId implements DataId {
  readonly backendName = 'cpu';
  constructor(
    readonly ptr: number,
    readonly bytes: number,
  ) {}
}

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly heap: Heap;
  private runtime: WasmRuntime | null | undefined;

  constructor(opts: { shared?: boolean } = {}) {
    this.heap = new Heap(opts);
  }

  write(values: StorageArray | null, size: number, dtype: DType): CpuDataId {
    const bytes = size * bytesPerElement(dtype);
    const ptr = bytes ? this.heap.alloc(bytes) : 0;
    if (values && bytes) this.heap.u8.set(new Uint8Array(values.buffer, values.byteOffset, bytes), ptr);
    return new CpuDataId(ptr, bytes);
  }

  read(dataId: DataId, size: number, dtype: DType): Promise<StorageArray> {
    return Promise.resolve(this.readSync(dataId, size, dtype));
  }

  readSync(dataId: DataId, size: number, dtype: DType): StorageArray {
    return this.view(dataId, size, dtype).slice();
  }

  disposeData(dataId: DataId): void {
    const id = dataId as CpuDataId;
    if (id.bytes) this.heap.free(id.ptr);
  }

  dispose(): void {
    // Memory goes with the process; workers are unref'd but stopped here anyway.
    this.runtime?.dispose();
    this.runtime = undefined;
  }

  /**
   * The WebAssembly kernels and worker pool on this backend's heap, or null when kernels are set
   * to 'js' or the runtime cannot run them (kernels then use their TypeScript reference).
   */
  wasm(): WasmRuntime | null {
    if (cpuConfig.kernels === 'js') return null;
    if (this.runtime === undefined) this.runtime = WasmRuntime.create(this.heap);
    return this.runtime;
  }

  /** A live view (no copy) of a buffer's raw storage. Invalidated by any later allocation. */
  view(dataId: DataId, size: number, dtype: DType): StorageArray {
    const id = dataId as CpuDataId;
    const Ctor = storageCtor(dtype);
    return new Ctor(this.heap.memory.buffer, id.ptr, size) as StorageArray;
  }

  /** View of a tensor info's storage. */
  viewOf(t: TensorInfo): StorageArray {
    return this.view(t.dataId, sizeOf(t.shape), t.dtype);
  }

  /** Allocates an output tensor info (uninitialised storage). */
  makeOutput(shape: Shape, dtype: DType): TensorInfo {
    return { dataId: this.write(null, sizeOf(shape), dtype), shape, dtype };
  }

  /** Reserves scratch bytes for a kernel, counted in `memory()` until `freeScratch`. */
  allocScratch(bytes: number): number {
    const ptr = this.heap.alloc(bytes);
    ENGINE.noteAlloc(this.name, bytes, true);
    return ptr;
  }

  freeScratch(ptr: number, bytes: number): void {
    this.heap.free(ptr);
    ENGINE.noteFree(this.name, bytes, true);
  }
}
