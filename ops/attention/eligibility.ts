/**
 * Which attention implementation may run which call, as data: each implementation lists its
 * checks, each returning a reason (PyTorch-like wording) or nothing. Backends can add their own
 * checks (e.g. a workgroup-memory limit on tile sizes) with `registerSdpaCheck`.
 */

import { hasKernel } from '../../lib/backend.js';
import { ENGINE } from '../../lib/engine.js';
import type { SDPBackend } from '../../lib/sdpa_context.js';
import { backendSdpaChecks, type SdpaCheck, type SdpaParams } from '../../lib/sdpa_checks.js';

export { registerSdpaCheck, type SdpaCheck } from '../../lib/sdpa_checks.js';


/** Kernel name each fused implementation is registered under. */
export const SDPA_KERNELS = { FLASH_ATTENTION: 'SdpaFlash', EFFICIENT_ATTENTION: 'SdpaEfficient' } as const;

/** Default byte budget of the math path's (B, H, L, S) float32 score buffer. */
export const DEFAULT_MATH_BUDGET = 4 * 2 ** 30;
let mathBudget = DEFAULT_MATH_BUDGET;

/** Sets the math path's score-buffer budget in bytes (default 4 GiB); returns the previous one. */
export function setMathAttentionBudget(bytes: number): number {
  const prev = mathBudget;
  mathBudget = bytes;
  return prev;
}

/** Bytes of the float32 score matrix the math path would materialise. */
export function mathScoreBytes(p: SdpaParams): number {
  return p.batch.reduce((a, b) => a * b, 1) * Math.max(p.Hq, p.Hkv) * p.L * p.S * 4;
}

const hasFusedKernel = (impl: keyof typeof SDPA_KERNELS, what: string): SdpaCheck => (_p, backend) =>
  hasKernel(SDPA_KERNELS[impl], backend) ? undefined : `backend '${backend}' has no ${what} kernel`;

const fourD: SdpaCheck = (p) =>
  p.rank === 4 ? undefined : `fused kernels require query, key and value to be 4-D (B, H, L, E), got query [${p.q.shape}]`;

const sameBatch: SdpaCheck = (p) =>
  p.q.shape[0] === p.k.shape[0] ? undefined : `fused kernels require query, key and value to have the same batch size, got query ${p.q.shape[0]} and key ${p.k.shape[0]}`;

const heads: SdpaCheck = (p) => {
  if (p.Hq === p.Hkv) return undefined;
  if (!p.enableGqa) return `fused kernels require query, key and value to have the same number of heads unless enableGqa is set, got query ${p.Hq} and key/value ${p.Hkv}`;
  return undefined;
};

const nonEmpty: SdpaCheck = (p) =>
  p.L > 0 && p.S > 0 ? undefined : `fused kernels do not support zero-length sequences, got L=${p.L}, S=${p.S}`;

const noDropout: SdpaCheck = (p) =>
  p.dropoutP === 0 ? undefined : `fused kernels do not support dropout here, got dropoutP=${p.dropoutP}`;

/** Each implementation's checks, in the order they are reported. */
export const SDPA_CHECKS: Record<SDPBackend, SdpaCheck[]> = {
  FLASH_ATTENTION: [
    hasFusedKernel('FLASH_ATTENTION', 'flash attention'),
    fourD,
    sameBatch,
    heads,
    (p) => (p.mask ? 'Flash attention does not support a non-null attnMask (use the memory-efficient implementation)' : undefined),
    (p) =>
      p.E === p.Ev && p.E <= 256 && p.E % 8 === 0
        ? undefined
        : `Flash attention requires query, key and value to have the same last dimension, a multiple of 8 and at most 256, got query ${p.E} and value ${p.Ev}`,
    (p) =>
      p.causal === 'upperLeft' && p.L !== p.S
        ? `Flash attention does not support top-left isCausal when L != S (got L=${p.L}, S=${p.S}); pass causalVariant: 'lowerRight' for a KV cache`
        : undefined,
    (p) =>
      p.dtype === 'float16' || p.dtype === 'bfloat16'
        ? undefined
        : `Flash attention requires query, key and value of dtype float16 or bfloat16, got ${p.dtype}`,
    nonEmpty,
    noDropout,
  ],
  EFFICIENT_ATTENTION: [
    hasFusedKernel('EFFICIENT_ATTENTION', 'memory-efficient attention'),
    fourD,
    sameBatch,
    heads,
    nonEmpty,
    noDropout,
  ],
  MATH: [
    (p) => {
      const bytes = mathScoreBytes(p);
      return bytes > mathBudget
        ? `the math path would materialise a ${bytes}-byte float32 score buffer (B·H·L·S·4), over its budget of ${mathBudget} bytes (setMathAttentionBudget)`
        : undefined;
    },
  ],
};

/** Every reason `impl` cannot take the call on `backendName` (empty when eligible). */
export function sdpaReasons(impl: SDPBackend, p: SdpaParams, backendName = ENGINE.backendOf(p.q).name): string[] {
  const reasons: string[] = [];
  for (const c of SDPA_CHECKS[impl]) {
    const r = c(p, backendName);
    if (r) reasons.push(r);
  }
  for (const c of backendSdpaChecks(backendName, impl)) {
    const r = c(p, backendName);
    if (r) reasons.push(r);
  }
  return reasons;
}
