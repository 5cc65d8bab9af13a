/** The narrow interface every compute backend implements, and the kernel registry. */

import type { DType, StorageArray } from './dtype.js';
import { ArgumentError, KernelNotFoundError } from './errors.js';
import type { Shape } from './shape.js';

/** Opaque handle to a backend's storage for one buffer; several tensors may share one (views). */
export interface DataId {
  readonly backendName: string;
}

/** What kernels see of a tensor: no methods, just where its data lives and how it is laid out. */
export interface TensorInfo {
  readonly dataId: DataId;
  readonly shape: Shape;
  readonly dtype: DType;
}

/** Attributes of a kernel call: plain data only. */
export type Attrs = Record<string, unknown>;

/** A compute backend: a data store plus the kernels registered under its name. */
export interface Backend {
  readonly name: string;
  /** Allocates storage for `size` elements of `dtype`, copying `values` (raw storage) in when given. */
  write(values: StorageArray | null, size: number, dtype: DType): DataId;
  /** Copies a buffer's raw storage out (float16/bfloat16 as bits). */
  read(dataId: DataId, size: number, dtype: DType): Promise<StorageArray>;
  /** Synchronous read, for backends that can (the CPU). */
  readSync?(dataId: DataId, size: number, dtype: DType): StorageArray;
  /** Frees a buffer. Called once, when the last tensor using it is disposed. */
  disposeData(dataId: DataId): void;
  /** Waits for queued work (GPU backends); resolves at once on synchronous backends. */
  sync?(): Promise<void>;
  /** Frees everything the backend holds (device, worker threads). */
  dispose(): void;
}

/** A kernel: takes tensor infos and attributes, returns freshly allocated (or view) outputs. */
export type KernelFunc = (inputs: readonly TensorInfo[], attrs: Attrs, backend: Backend) => TensorInfo | TensorInfo[];

/** One registry entry: registering a kernel is adding data. */
export interface KernelConfig {
  kernelName: string;
  backendName: string;
  kernelFunc: KernelFunc;
}

const registry = new Map<string, KernelConfig>();
const key = (kernel: string, backend: string) => `${backend}\u0000${kernel}`;

/** Registers (or replaces) the kernel `kernelName` for `backendName`. */
export function registerKernel(config: KernelConfig): void {
  if (!config.kernelName || !config.backendName || typeof config.kernelFunc !== 'function') {
    throw new ArgumentError('registerKernel: expected { kernelName, backendName, kernelFunc }');
  }
  registry.set(key(config.kernelName, config.backendName), config);
}

/** Removes a kernel registration; returns whether one existed. */
export function unregisterKernel(kernelName: string, backendName: string): boolean {
  return registry.delete(key(kernelName, backendName));
}

/** The kernel for (kernel, backend), or KernelNotFoundError naming both. */
export function getKernel(kernelName: string, backendName: string): KernelConfig {
  const k = registry.get(key(kernelName, backendName));
  if (!k) throw new KernelNotFoundError(kernelName, backendName);
  return k;
}

/** True when (kernel, backend) has a registration. */
export function hasKernel(kernelName: string, backendName: string): boolean {
  return registry.has(key(kernelName, backendName));
}

/** Names of the kernels registered for a backend. */
export function kernelsForBackend(backendName: string): string[] {
  const out: string[] = [];
  for (const k of registry.values()) if (k.backendName === backendName) out.push(k.kernelName);
  return out.sort();
}
