/**
 * `sdpa`: scaled dot-product attention routed per call by the dispatcher. Among the
 * implementations the current `sdpaKernel` scope allows, in priority order (flash →
 * memory-efficient → math), the first with no eligibility reasons runs; when none can,
 * NoAvailableKernelError lists every implementation's reasons.
 */

import { ENGINE } from '../../lib/engine.js';
import { NoAvailableKernelError, type SdpaRejection } from '../../lib/errors.js';
import { currentSdpaScope, DEFAULT_PRIORITY, SDPBackend } from '../../lib/sdpa_context.js';
import type { Tensor } from '../../lib/tensor.js';
import { SDPA_KERNELS, sdpaReasons } from './eligibility.js';
import { mathAttention } from './math.js';
import { validateSdpa, type SdpaOptions, type SdpaParams } from './params.js';

const NOT_ALLOWED = 'not allowed in the current sdpaKernel scope';

/** One implementation's verdict for a call, as `explainSdpa` reports it. */
export interface SdpaExplanation {
  backend: SDPBackend;
  eligible: boolean;
  reasons: string[];
}

const counts: Record<SDPBackend, number> = { FLASH_ATTENTION: 0, EFFICIENT_ATTENTION: 0, MATH: 0 };
let debug = typeof process !== 'undefined' && !!process.env?.FLASHTENSOR_SDPA_DEBUG;

/** How many calls each implementation has served since the last reset (for tests and tuning). */
export function sdpaCounts(): Record<SDPBackend, number> {
  return { ...counts };
}

/** Zeroes `sdpaCounts()`. */
export function resetSdpaCounts(): void {
  for (const k of Object.keys(counts) as SDPBackend[]) counts[k] = 0;
}

/** Logs every dispatch decision with the reasons for the implementations passed over. */
export function setSdpaDebug(on: boolean): void {
  debug = on;
}

function explain(p: SdpaParams): SdpaExplanation[] {
  const scope = currentSdpaScope();
  const order = [...scope.priority, ...DEFAULT_PRIORITY.filter((b) => !scope.priority.includes(b))];
  return order.map((backend) => {
    const reasons = scope.allowed.has(backend) ? sdpaReasons(backend, p) : [NOT_ALLOWED, ...sdpaReasons(backend, p)];
    return { backend, eligible: reasons.length === 0, reasons };
  });
}

/**
 * Why each implementation would or would not take this call under the current scope, in
 * priority order — without running anything.
 */
export function explainSdpa(query: Tensor, key: Tensor, value: Tensor, opts: SdpaOptions = {}): SdpaExplanation[] {
  return explain(validateSdpa(query, key, value, opts, 'explainSdpa'));
}

/** Picks the implementation for a validated call, or throws NoAvailableKernelError. */
export function chooseSdpa(p: SdpaParams): SDPBackend {
  const scope = currentSdpaScope();
  for (const impl of scope.priority) {
    if (scope.allowed.has(impl) && sdpaReasons(impl, p).length === 0) {
      if (debug) logChoice(impl, p);
      return impl;
    }
  }
  const rejections: SdpaRejection[] = explain(p).map((e) => ({ backend: e.backend, reasons: e.reasons }));
  throw new NoAvailableKernelError(rejections);
}

function logChoice(impl: SDPBackend, p: SdpaParams): void {
  const skipped = explain(p).filter((e) => e.backend !== impl && !e.eligible);
  console.warn(
    `[flashtensor] sdpa q[${p.q.shape}] ${p.dtype} → ${impl}` +
      skipped.map((e) => `\n  ${e.backend} skipped: ${e.reasons.join('; ')}`).join(''),
  );
}

/** Runs a chosen implementation. */
export function runSdpa(impl: SDPBackend, p: SdpaParams, returnLse = false): { output: Tensor; lse?: Tensor } {
  counts[impl]++;
  if (impl === SDPBackend.MATH) return mathAttention(p);
  const inputs = p.mask ? [p.q, p.k, p.v, p.mask] : [p.q, p.k, p.v];
  const attrs = { scale: p.scale, causal: p.causal, enableGqa: p.enableGqa, hasMask: !!p.mask, returnLse, kvLength: p.S };
  const out = ENGINE.runKernel(SDPA_KERNELS[impl], inputs, attrs);
  if (Array.isArray(out)) return { output: out[0], lse: out[1] };
  return { output: out };
}

/**
 * Scaled dot-product attention with PyTorch's contract: query (B, H, L, E), key (B, Hkv, S, E),
 * value (B, Hkv, S, Ev) → (B, H, L, Ev). See `SdpaOptions` for masks, causality, scale and GQA.
 */
export function sdpa(query: Tensor, key: Tensor, value: Tensor, opts: SdpaOptions = {}): Tensor {
  const p = validateSdpa(query, key, value, opts);
  return runSdpa(chooseSdpa(p), p).output;
}

/**
 * Flash attention called directly (like flash-attn's `flash_attn_func`), bypassing the scope:
 * throws NoAvailableKernelError with flash's reasons when it cannot run. Optionally returns the
 * per-row logsumexp (B, H, L) of the scaled, masked scores (float32; +∞ for rows that see no key).
 */
export function flashAttention(
  query: Tensor, key: Tensor, value: Tensor, opts: SdpaOptions & { returnLse?: boolean } = {},
): { output: Tensor; lse?: Tensor } {
  const p = validateSdpa(query, key, value, opts, 'flashAttention');
  const reasons = sdpaReasons('FLASH_ATTENTION', p);
  if (reasons.length) throw new NoAvailableKernelError([{ backend: 'FLASH_ATTENTION', reasons }]);
  return runSdpa('FLASH_ATTENTION', p, !!opts.returnLse);
}

/**
 * The math implementation called directly, returning the attention weights as well (what
 * `output_attentions` needs). Weights are float32 (…, H, L, S).
 */
export function sdpaWithWeights(query: Tensor, key: Tensor, value: Tensor, opts: SdpaOptions = {}): { output: Tensor; weights: Tensor } {
  const p = validateSdpa(query, key, value, opts, 'sdpaWithWeights');
  counts.MATH++;
  const r = mathAttention(p, true);
  return { output: r.output, weights: r.weights! };
}
