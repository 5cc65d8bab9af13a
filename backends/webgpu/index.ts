/**
 * The WebGPU backend. Importing this module (`import 'flashtensor/webgpu'`) registers backend
 * 'webgpu'; `await setBackend('webgpu')` then acquires a device: `navigator.gpu` in browsers, the
 * optional `webgpu` npm package (Dawn) in Node — on a GPU-less Linux box through Mesa's lavapipe.
 * The CPU stays the default backend.
 */

import { ENGINE } from '../../lib/engine.js';
import { WebGPUBackend } from './backend.js';
import { acquireDevice, requestAdapter } from './device.js';
import './kernels/attention.js';
import './kernels/elementwise.js';
import './kernels/fused.js';
import './kernels/int8.js';
import './kernels/matmul.js';
import './kernels/movement.js';
import './kernels/nn.js';
import './kernels/quant4.js';
import './kernels/reduce.js';
import './kernels/topk.js';
import './sdpa_checks.js';

ENGINE.registerBackend('webgpu', async () => new WebGPUBackend(await acquireDevice()), 0);

/** Whether a WebGPU adapter can be had here, and if not, why (never throws, never hangs). */
export async function webgpuAvailability(): Promise<{ available: boolean; reason?: string; adapter?: string }> {
  try {
    const { adapter } = await requestAdapter();
    if (!adapter) return { available: false, reason: 'requestAdapter() returned null (no GPU driver; on Linux install Mesa lavapipe ≥ 25)' };
    return { available: true, adapter: adapter.info?.description || adapter.info?.device || 'unknown' };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
}

/** The initialised WebGPU backend instance (after `await setBackend('webgpu')` or `initBackend`). */
export async function getWebGPUBackend(): Promise<WebGPUBackend> {
  return (await ENGINE.initBackend('webgpu')) as WebGPUBackend;
}

export { WebGPUBackend, GpuDataId, type WebGPUMemoryInfo } from './backend.js';
export { acquireDevice, type GpuDeviceInfo } from './device.js';
export { sizeClass, type PoolStats } from './buffer_pool.js';
