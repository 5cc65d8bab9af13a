/**
 * flashtensor: tensors, attention, quantized layers and language models for Node and browsers.
 * This entry point re-exports the public API and registers the CPU backend.
 */

import './backends/cpu/index.js';
import { ENGINE, type MemoryInfo, type TensorContainer, collectTensors } from './lib/engine.js';
import { ArgumentError } from './lib/errors.js';
import { describe } from './lib/shape.js';
import { Tensor } from './lib/tensor.js';
import { checkTensor } from './ops/util.js';

export { Tensor, type NestedArray } from './lib/tensor.js';
export type { DType, DataArray } from './lib/dtype.js';
export { DTYPES, bytesPerElement, isFloat, promoteTypes } from './lib/dtype.js';
export type { Shape } from './lib/shape.js';
export * from './lib/errors.js';
export { registerKernel, unregisterKernel, getKernel, hasKernel, kernelsForBackend } from './lib/backend.js';
export type { Backend, KernelConfig, KernelFunc, TensorInfo, DataId } from './lib/backend.js';
export type { MemoryInfo, TensorContainer } from './lib/engine.js';
export { formatProfile, type KernelProfile, type ProfileInfo } from './lib/profiler.js';
export { Random } from './lib/random.js';
export * as float16 from './lib/float16.js';
export * from './lib/safetensors.js';
export * from './ops/index.js';
export { SDPBackend, sdpaKernel, currentSdpaScope, SDPA_SCOPES_ARE_ASYNC_SAFE, type SdpaKernelOptions } from './lib/sdpa_context.js';
export {
  cpuInfo, cpuStats, resetCpuStats, setNumThreads, getNumThreads, setCpuKernels, setSpinMicros,
  type CpuInfo, type CpuKernelMode,
} from './backends/cpu/index.js';

/** Runs `fn` and disposes every tensor it created except those it returns (or `keep`s). Synchronous only. */
export function tidy<T extends TensorContainer>(fn: () => T): T {
  if (typeof fn !== 'function') throw new ArgumentError(`tidy: 'fn' must be a function, got ${describe(fn)}`);
  return ENGINE.tidy(fn);
}

/**
 * Runs `fn` (synchronous or async) and reports the time and number of calls of every kernel it
 * ran, by kernel name, beside `fn`'s result. Kernel times are wall times of the kernel functions
 * (on CPU, the work itself); `totalMs - kernelMs` is what ops, the engine and user code cost.
 * `formatProfile` prints the report as a table. Profiles do not nest.
 *
 * @example
 * const { result, profile: p } = await profile(() => model.generate(ids, { maxNewTokens: 8 }));
 * console.log(formatProfile(p));
 */
export function profile<T>(fn: () => T): ReturnType<typeof ENGINE.profile<T>> {
  if (typeof fn !== 'function') throw new ArgumentError(`profile: 'fn' must be a function, got ${describe(fn)}`);
  return ENGINE.profile(fn);
}

/** Marks a tensor to survive the enclosing `tidy`. */
export function keep<T extends Tensor>(t: T): T {
  checkTensor(t, 'keep', 't');
  t.kept = true;
  return t;
}

/** Disposes every tensor in a container (tensor, array, object). */
export function dispose(container: TensorContainer): void {
  const set = new Set<Tensor>();
  collectTensors(container, set);
  for (const t of set) t.dispose();
}

/** Live tensors, bytes and the peak bytes (including kernel scratch) since the last reset. */
export function memory(): MemoryInfo {
  return ENGINE.memory();
}

/** Starts a new peak-memory measurement from the current usage. */
export function resetPeakMemory(): void {
  ENGINE.resetPeakMemory();
}

/** Makes `name` the backend for new tensors (awaits initialisation for GPU backends). */
export function setBackend(name: string): Promise<void> {
  return ENGINE.setBackend(name);
}

/** Name of the active backend. */
export function getBackend(): string {
  return ENGINE.backend.name;
}

/** Registered backend names. */
export function listBackends(): string[] {
  return ENGINE.registeredBackends();
}

/** Copies a tensor's data to another backend (a new tensor; the original is untouched). */
export async function toBackend(t: Tensor, name: string): Promise<Tensor> {
  checkTensor(t, 'toBackend', 't');
  const target = await ENGINE.initBackend(name);
  const raw = await ENGINE.backendOf(t).read(t.dataId, t.size, t.dtype);
  return ENGINE.makeTensor(raw, t.shape, t.dtype, target);
}
export * from './models/index.js';
export * from './models/quant/index.js';
