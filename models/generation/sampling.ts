/**
 * Choosing the next token from one row of logits, as Hugging Face's logits processors do, on
 * the host: repetition penalty, then (when sampling) temperature, top-k and top-p, then argmax
 * or a seeded draw.
 */

import { ArgumentError } from '../../lib/errors.js';
import type { Random } from '../../lib/random.js';

/** Resolved sampling settings. */
export interface SamplingSettings {
  doSample: boolean;
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 1 = off. */
  repetitionPenalty: number;
}

/** Validates settings, naming the option and its domain. */
export function checkSampling(s: SamplingSettings): void {
  if (!(s.temperature >= 0) || !Number.isFinite(s.temperature)) throw new ArgumentError(`generate: 'temperature' must be a finite number ≥ 0, got ${s.temperature}`);
  if (!Number.isInteger(s.topK) || s.topK < 0) throw new ArgumentError(`generate: 'topK' must be an integer ≥ 0 (0 = off), got ${s.topK}`);
  if (!(s.topP > 0 && s.topP <= 1)) throw new ArgumentError(`generate: 'topP' must be in (0, 1], got ${s.topP}`);
  if (!(s.repetitionPenalty > 0)) throw new ArgumentError(`generate: 'repetitionPenalty' must be > 0, got ${s.repetitionPenalty}`);
}

/** Divides positive logits of seen tokens by the penalty and multiplies negative ones (in place). */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const t of new Set(seen)) {
    if (t < 0 || t >= logits.length) continue;
    const v = logits[t];
    logits[t] = v < 0 ? v * penalty : v / penalty;
  }
}

/** Index of the largest value (first on ties). */
export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/**
 * Picks the next token from `logits` (mutated): greedy argmax, or temperature → top-k → top-p
 * filtering and a draw from the softmax with `rng`.
 */
export function pickToken(logits: Float32Array, seen: readonly number[], s: SamplingSettings, rng: Random): number {
  applyRepetitionPenalty(logits, seen, s.repetitionPenalty);
  if (!s.doSample || s.temperature === 0) return argmax(logits);
  const n = logits.length;
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i++) scaled[i] = logits[i] / s.temperature;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scaled[b] - scaled[a] || a - b);
  let keep = n;
  if (s.topK > 0) keep = Math.min(keep, s.topK);
  // Ties at the k-th value stay in (HF keeps every logit ≥ the k-th largest).
  while (keep < n && scaled[order[keep]] === scaled[order[keep - 1]]) keep++;
  const max = scaled[order[0]];
  const probs = new Float64Array(keep);
  let sum = 0;
  for (let i = 0; i < keep; i++) sum += probs[i] = Math.exp(scaled[order[i]] - max);
  if (s.topP < 1) {
    // Keep the smallest prefix whose mass exceeds 1 − topP when removed from the bottom (HF's rule): at least one token.
    let cum = 0;
    let cut = keep;
    for (let i = keep - 1; i > 0; i--) {
      cum += probs[i] / sum;
      if (cum > 1 - s.topP) break;
      cut = i;
    }
    for (let i = cut; i < keep; i++) sum -= probs[i];
    keep = cut;
  }
  let u = rng.uniform() * sum;
  for (let i = 0; i < keep; i++) {
    u -= probs[i];
    if (u < 0) return order[i];
  }
  return order[keep - 1];
}
