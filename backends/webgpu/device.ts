/**
 * Getting a GPUDevice: `navigator.gpu` in browsers (and Deno), the optional `webgpu` npm package
 * (Dawn) in Node. The Dawn instance is a process-wide singleton kept on `globalThis`: letting it be
 * garbage-collected while a device made from it is alive crashes the process.
 */

import { BackendError } from '../../lib/errors.js';

/** What the backend knows about the device it runs on. */
export interface GpuDeviceInfo {
  device: GPUDevice;
  /** Adapter description, e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)". */
  description: string;
  vendor: string;
  architecture: string;
  /** True for software adapters (lavapipe, SwiftShader). */
  isFallback: boolean;
  /** `shader-f16` was granted: kernels may use native f16 arithmetic. */
  f16: boolean;
  /** `subgroups` was granted. */
  subgroups: boolean;
  /** WGSL's packed_4x8_integer_dot_product (`dot4I8Packed`) is available. */
  dot4I8: boolean;
  /** Where the GPU came from. */
  source: 'navigator.gpu' | 'webgpu (Dawn)';
}

const DAWN_KEY = Symbol.for('flashtensor.webgpu.dawnInstance');

type GlobalWithDawn = typeof globalThis & { [DAWN_KEY]?: GPU };

function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}

/** Imports a module by name (swappable in tests to simulate a missing optional package). */
export type Importer = (specifier: string) => Promise<unknown>;

// A variable specifier keeps bundlers and tsc from requiring the optional package.
const defaultImporter: Importer = (spec) => import(spec);

/**
 * Loads the `webgpu` package's `create`, or throws BackendError("install webgpu to use backend
 * webgpu …") when it is not installed.
 */
export async function loadDawn(importer: Importer = defaultImporter): Promise<(flags: string[]) => GPU> {
  let mod: { create?: (flags: string[]) => GPU };
  try {
    mod = (await importer('webgpu')) as typeof mod;
  } catch (e) {
    throw new BackendError(
      `install webgpu to use backend webgpu: the optional package 'webgpu' (Dawn for Node) could not be loaded ` +
        `(npm install webgpu); cause: ${(e as Error).message ?? e}`,
    );
  }
  if (typeof mod.create !== 'function') throw new BackendError(`install webgpu to use backend webgpu: the 'webgpu' package has no create()`);
  return mod.create;
}

let dawnPending: Promise<GPU> | null = null;

/** The GPU entry point: navigator.gpu, or Dawn's `create()` (once per process, even under concurrent calls). */
async function gpuEntry(): Promise<{ gpu: GPU; source: GpuDeviceInfo['source'] }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, source: 'navigator.gpu' };
  if (!isNode()) {
    throw new BackendError('backend webgpu: this environment has no navigator.gpu (WebGPU is not available or not enabled)');
  }
  const g = globalThis as GlobalWithDawn;
  if (!g[DAWN_KEY]) {
    dawnPending ??= loadDawn().then(
      (create) => {
        const flags = (process.env.FLASHTENSOR_DAWN_FLAGS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
        return (g[DAWN_KEY] ??= create(flags));
      },
      (e) => {
        dawnPending = null;
        throw e;
      },
    );
    await dawnPending;
  }
  return { gpu: g[DAWN_KEY]!, source: 'webgpu (Dawn)' };
}

/** Adapter limits worth asking for (the defaults are the spec minimums, e.g. 16 KiB of workgroup memory). */
const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

/**
 * Returns an adapter, or null when the platform has none (no driver: Dawn resolves null rather
 * than throwing). Never hangs on a machine without a GPU driver.
 */
export async function requestAdapter(): Promise<{ adapter: GPUAdapter | null; source: GpuDeviceInfo['source']; wgsl: ReadonlySet<string> }> {
  const { gpu, source } = await gpuEntry();
  const wgsl = ((gpu as { wgslLanguageFeatures?: ReadonlySet<string> }).wgslLanguageFeatures ?? new Set<string>()) as ReadonlySet<string>;
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch {
    adapter = null;
  }
  return { adapter, source, wgsl };
}

/** Options of `acquireDevice`. */
export interface AcquireOptions {
  /** Ask for `shader-f16` when offered (default true). */
  f16?: boolean;
}

/** Requests a device with the adapter's full limits and the features the kernels can use. */
export async function acquireDevice(opts: AcquireOptions = {}): Promise<GpuDeviceInfo> {
  const { adapter, source, wgsl } = await requestAdapter();
  if (!adapter) {
    throw new BackendError(
      'backend webgpu: no GPU adapter (requestAdapter() returned null). On Linux without a GPU, install Mesa lavapipe ' +
        '(mesa-vulkan-drivers ≥ 25; see .ci/install-webgpu-deps.sh)',
    );
  }
  const wantF16 = opts.f16 ?? true;
  const features: GPUFeatureName[] = [];
  if (wantF16 && adapter.features.has('shader-f16')) features.push('shader-f16');
  if (adapter.features.has('subgroups')) features.push('subgroups' as GPUFeatureName);
  const requiredLimits: Record<string, number> = {};
  for (const k of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  } catch (e) {
    throw new BackendError(`backend webgpu: requestDevice failed: ${(e as Error).message ?? e}`);
  }
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  return {
    device,
    description: info.description || info.device || 'unknown adapter',
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    isFallback: !!fallback,
    f16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups'),
    dot4I8: wgsl.has('packed_4x8_integer_dot_product'),
    source,
  };
}
