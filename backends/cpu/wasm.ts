/**
 * Loads the WebAssembly kernel module (built by backends/cpu/assembly/build.mjs) once per
 * process: picks the relaxed-SIMD (FMA) build when the runtime accepts it, else plain SIMD, and
 * compiles it at import time (asynchronously, which browsers require for modules over 4 KiB on
 * their main thread). Every CPU heap and worker instantiates this one compiled module.
 */

import * as binaries from './wasm_binaries.generated.js';
import { envVar, hasSharedArrayBuffer, nodeApi } from './platform.js';

/** What the runtime supports, as far as the CPU kernels are concerned. */
export interface WasmSupport {
  /** WebAssembly with 128-bit SIMD. */
  simd: boolean;
  /** Relaxed SIMD (fused multiply-add) accepted, so the FMA build is used. */
  relaxedSimd: boolean;
  /** Shared WebAssembly memory (SharedArrayBuffer), needed for worker threads. */
  sharedMemory: boolean;
}

function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const hasWasm = typeof WebAssembly === 'object' && typeof WebAssembly.validate === 'function';
const simdBytes = hasWasm ? decodeBase64(binaries.simd) : null;
const relaxedBytes = hasWasm ? decodeBase64(binaries.relaxed) : null;
const unsharedBytes = hasWasm ? decodeBase64(binaries.unshared) : null;

function validates(bytes: Uint8Array<ArrayBuffer> | null): boolean {
  try {
    return !!bytes && WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/**
 * Relaxed SIMD is standard in recent engines; V8 11.3 (Node 20) has it behind a flag that can be
 * set at run time before compiling (flags are process-wide, so workers inherit it).
 * FLASHTENSOR_WASM_RELAXED=0 forces the plain SIMD build (for comparisons).
 */
function relaxedAccepted(): boolean {
  if (!relaxedBytes || envVar('FLASHTENSOR_WASM_RELAXED') === '0') return false;
  if (validates(relaxedBytes)) return true;
  if (!nodeApi) return false;
  try {
    nodeApi.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return validates(relaxedBytes);
}

const sharedSimd = hasSharedArrayBuffer && validates(simdBytes);
const relaxed = sharedSimd && relaxedAccepted();
const unsharedSimd = validates(unsharedBytes);

/** Support detected at import. */
export const wasmSupport: WasmSupport = {
  simd: sharedSimd || unsharedSimd,
  relaxedSimd: relaxed,
  sharedMemory: sharedSimd,
};

async function compileOrNull(bytes: Uint8Array<ArrayBuffer> | null): Promise<WebAssembly.Module | null> {
  if (!bytes) return null;
  try {
    return await WebAssembly.compile(bytes);
  } catch {
    return null;
  }
}

const sharedModule: WebAssembly.Module | null = sharedSimd ? await compileOrNull(relaxed ? relaxedBytes : simdBytes) : null;
let unsharedModule: WebAssembly.Module | null = !sharedSimd && unsharedSimd ? await compileOrNull(unsharedBytes) : null;

/**
 * The compiled kernel module for a shared or a non-shared memory, or null when the runtime
 * cannot run it. The non-shared one is compiled on first request when SharedArrayBuffer exists
 * (only a heap built with `{ shared: false }` needs it).
 */
export function kernelModule(shared: boolean): WebAssembly.Module | null {
  if (shared) return sharedModule;
  if (!unsharedModule && unsharedSimd) unsharedModule = new WebAssembly.Module(unsharedBytes!);
  return unsharedModule;
}

