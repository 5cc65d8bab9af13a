/**
 * What the attention dispatcher knows about a call (validated SDPA arguments), and the registry
 * of backend-specific eligibility checks. It lives in lib/ so that backends can add checks (a
 * tile-memory limit, a binding-size limit) without importing ops/.
 */

import type { DType } from './dtype.js';
import type { SDPBackend } from './sdpa_context.js';
import type { Tensor } from './tensor.js';

/** Validated SDPA arguments. Sizes refer to the (…, H, L, E) layout; `batch` is the broadcast leading shape. */
export interface SdpaParams {
  readonly q: Tensor;
  readonly k: Tensor;
  readonly v: Tensor;
  readonly mask: Tensor | null;
  readonly rank: number;
  readonly batch: readonly number[];
  readonly Hq: number;
  readonly Hkv: number;
  readonly L: number;
  /** Key positions attended (kvLength, or all of them). */
  readonly S: number;
  /** Key positions allocated in key/value (≥ S); the stride between heads. */
  readonly SAlloc: number;
  readonly E: number;
  readonly Ev: number;
  readonly scale: number;
  readonly dropoutP: number;
  /** 'none' or the causal alignment. */
  readonly causal: 'none' | 'upperLeft' | 'lowerRight';
  readonly enableGqa: boolean;
  readonly dtype: DType;
  readonly seed?: number;
  /** Output shape: batch + [Hq, L, Ev] (rank-2 inputs: [L, Ev]). */
  readonly outShape: readonly number[];
}

/** A check: a reason the implementation cannot take the call on `backendName`, or undefined. */
export type SdpaCheck = (p: SdpaParams, backendName: string) => string | undefined;

const extraChecks: { backend: string; impl: SDPBackend; check: SdpaCheck }[] = [];

/** Adds a backend-specific eligibility check for one implementation (e.g. a tile-memory limit). */
export function registerSdpaCheck(backend: string, impl: SDPBackend, check: SdpaCheck): void {
  extraChecks.push({ backend, impl, check });
}

/** The checks registered for (backend, implementation). */
export function backendSdpaChecks(backend: string, impl: SDPBackend): SdpaCheck[] {
  return extraChecks.filter((e) => e.backend === backend && e.impl === impl).map((e) => e.check);
}
