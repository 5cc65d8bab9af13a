/**
 * Whether the WebGPU tests can run here. With `CI=true` a missing adapter (or a missing `webgpu`
 * package) fails the run; elsewhere the WebGPU tests are skipped with one line saying why.
 */

import { webgpuAvailability } from '../../backends/webgpu/index.js';

let status: Promise<{ available: boolean; reason?: string; adapter?: string }> | null = null;
let announced = false;

/** Resolves the availability once per process. */
export function webgpuStatus(): Promise<{ available: boolean; reason?: string; adapter?: string }> {
  status ??= webgpuAvailability();
  return status;
}

/**
 * True when WebGPU tests should run. Throws when CI=true and no adapter is available; otherwise
 * prints one line the first time it returns false.
 */
export async function requireWebGPU(): Promise<boolean> {
  const s = await webgpuStatus();
  if (s.available) return true;
  if (process.env.CI === 'true') {
    throw new Error(`CI=true but WebGPU is unavailable: ${s.reason}. Install the lavapipe driver (.ci/install-webgpu-deps.sh) and the 'webgpu' package.`);
  }
  if (!announced) {
    announced = true;
    console.log(`  (WebGPU tests skipped: ${s.reason})`);
  }
  return false;
}
