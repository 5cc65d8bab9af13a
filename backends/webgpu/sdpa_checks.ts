/**
 * WebGPU-specific eligibility reasons for the attention dispatcher, computed from the device's
 * actual limits: workgroup memory for flash tiles, registers for the memory-efficient kernel,
 * storage-binding size (which also caps the math path's score tensor) and the launch grid.
 */

import { ENGINE } from '../../lib/engine.js';
import { sizeOf } from '../../lib/shape.js';
import { registerSdpaCheck, type SdpaParams } from '../../lib/sdpa_checks.js';
import type { WebGPUBackend } from './backend.js';
import { bytesPerKey, EFFICIENT_MAX_HEAD_DIM, MIN_BC, useF16Tiles } from './kernels/attention.js';
import { MAX_GROUPS } from './program.js';

/** Bytes of the float32 (B, H, L, S) score tensor the math path materialises. */
function mathScoreBytes(p: SdpaParams): number {
  return p.batch.reduce((a, b) => a * b, 1) * Math.max(p.Hq, p.Hkv) * p.L * p.S * 4;
}

function backendOf(p: SdpaParams): WebGPUBackend {
  return ENGINE.backendOf(p.q) as WebGPUBackend;
}

function bindingReason(p: SdpaParams, gpu: WebGPUBackend): string | undefined {
  const limit = gpu.limits.maxStorageBufferBindingSize;
  const el = p.dtype === 'float32' ? 4 : 2;
  const sizes: [string, number][] = [['query', p.q.size * el], ['key', p.k.size * el], ['value', p.v.size * el], ['output', sizeOf(p.outShape) * el]];
  const big = sizes.find(([, b]) => b > limit);
  return big ? `webgpu: the ${big[0]} tensor takes ${big[1]} bytes, over the device's maxStorageBufferBindingSize (${limit} bytes)` : undefined;
}

function gridReason(p: SdpaParams, rowsPerGroup: number, rows: number): string | undefined {
  const batch = p.batch.reduce((a, b) => a * b, 1);
  const x = Math.ceil(rows / rowsPerGroup);
  return batch > MAX_GROUPS || p.Hq > MAX_GROUPS || x > MAX_GROUPS
    ? `webgpu: the launch grid [${x}, ${p.Hq}, ${batch}] exceeds ${MAX_GROUPS} workgroups per dimension`
    : undefined;
}

registerSdpaCheck('webgpu', 'FLASH_ATTENTION', (p) => {
  const gpu = backendOf(p);
  const f16 = useF16Tiles(gpu, p.dtype);
  const need = MIN_BC * bytesPerKey(p.E, p.Ev, f16);
  const have = gpu.workgroupMemoryBudget;
  if (need > have) {
    return (
      `webgpu flash attention keeps a K and a V tile of at least ${MIN_BC} keys in workgroup memory: head dims E=${p.E}, Ev=${p.Ev} need ` +
      `${need} bytes, over the device's workgroup memory (maxComputeWorkgroupStorageSize budget ${have} bytes)`
    );
  }
  return bindingReason(p, gpu) ?? (p.rank === 4 ? gridReason(p, 8, (p.Hq / Math.max(1, p.Hkv)) * p.L) : undefined);
});

registerSdpaCheck('webgpu', 'EFFICIENT_ATTENTION', (p) => {
  if (p.E > EFFICIENT_MAX_HEAD_DIM || p.Ev > EFFICIENT_MAX_HEAD_DIM) {
    return `webgpu memory-efficient attention keeps the query and output rows in registers: head dims up to ${EFFICIENT_MAX_HEAD_DIM}, got E=${p.E}, Ev=${p.Ev}`;
  }
  if (p.mask && p.mask.rank > 4) return `webgpu memory-efficient attention takes masks of rank ≤ 4, got [${p.mask.shape}]`;
  const gpu = backendOf(p);
  return bindingReason(p, gpu) ?? (p.rank === 4 ? gridReason(p, 64, p.L) : undefined);
});

registerSdpaCheck('webgpu', 'MATH', (p) => {
  const gpu = backendOf(p);
  const bytes = mathScoreBytes(p);
  const limit = gpu.limits.maxStorageBufferBindingSize;
  return bytes > limit
    ? `webgpu: the math path's float32 score tensor (B·H·L·S·4 = ${bytes} bytes) exceeds the device's maxStorageBufferBindingSize (${limit} bytes)`
    : undefined;
});
