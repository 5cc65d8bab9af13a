/**
 * `generate()`: the decoding loop. Left-pads batched prompts, pre-allocates the KV cache for
 * prompt + new tokens, runs one prefill then one token per step (bottom-right causal attention
 * against the cache), picks tokens greedily or by seeded sampling, stops per row on EOS or a stop
 * string, and streams every step.
 */

import { ArgumentError, ShapeError } from '../../lib/errors.js';
import { Random } from '../../lib/random.js';
import { Tensor } from '../../lib/tensor.js';
import type { CausalLM, TokenInput } from '../common/causal_lm.js';
import { positionsFromMask } from '../common/masks.js';
import type { TokenizerLike } from '../tokenizer/stream_decoder.js';
import { checkSampling, pickToken, type SamplingSettings } from './sampling.js';
import type { GenerationStreamer } from './streamers.js';

/** Options of `generate()`; unset ones fall back to the model's generation config, then HF's defaults. */
export interface GenerateOptions {
  /** New tokens to produce at most (default: generation config, else max_length 20 minus the prompt). */
  maxNewTokens?: number;
  /** Sample instead of greedy argmax. */
  doSample?: boolean;
  /** Softmax temperature when sampling (0 = greedy). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens when sampling (0 = off). Default 50, as Hugging Face. */
  topK?: number;
  /** Nucleus sampling mass (1 = off). */
  topP?: number;
  /** > 1 discourages tokens already in the sequence (prompt included). */
  repetitionPenalty?: number;
  /** Seed for sampling: the same seed gives the same tokens. */
  seed?: number;
  /** Stop ids: a number or list; null = never stop on EOS; undefined = the model's default. */
  eosTokenId?: number | readonly number[] | null;
  /** Id used to left-pad ragged prompts and to fill finished rows (default: pad, else eos, else 0). */
  padTokenId?: number;
  /** Stop a row once its generated text contains one of these (needs `tokenizer`). */
  stopStrings?: string | readonly string[];
  /** Tokenizer for stop strings. */
  tokenizer?: TokenizerLike;
  /** (B, T) 0/1 mask of the (left-padded) prompts; inferred for ragged prompts. */
  attentionMask?: TokenInput;
  /** Receives each step's tokens as they are produced. */
  streamer?: GenerationStreamer | ((tokens: number[], step: number) => void);
  /** Receives each step's raw last-position logits (B × vocab, before any processing); for debugging a cache. */
  onLogits?: (logits: Float32Array, step: number) => void;
}

/** Timing of the last `generate()` call on a model (tokens/s for prefill and decode). */
export interface GenerationStats {
  promptTokens: number;
  newTokens: number;
  prefillMs: number;
  decodeMs: number;
}

const lastStats = new WeakMap<CausalLM, GenerationStats>();

/** Timings of the model's last generate() call. */
export function generationStats(model: CausalLM): GenerationStats | undefined {
  return lastStats.get(model);
}

interface Prompts {
  rows: number[][];
  /** (B × T) 1 = real token */
  mask: Uint8Array;
  T: number;
}

/** Normalises prompts: a tensor, equal rows with an optional mask, or ragged rows (left-padded here). */
function preparePrompts(input: TokenInput, maskIn: TokenInput | undefined, pad: number): Prompts {
  let rows: number[][];
  if (input instanceof Tensor) {
    if (input.rank !== 2 && input.rank !== 1) throw new ShapeError(`generate: inputIds must be (B, T), got [${input.shape}]`);
    const d = Array.from(input.dataSync());
    const T = input.shape[input.rank - 1];
    rows = Array.from({ length: d.length / T }, (_, b) => d.slice(b * T, (b + 1) * T));
  } else {
    rows = (Array.isArray(input[0]) ? (input as number[][]) : [input as number[]]).map((r) => r.slice());
  }
  if (!rows.length || rows.some((r) => r.length === 0)) throw new ArgumentError('generate: every prompt needs at least one token');
  const T = Math.max(...rows.map((r) => r.length));
  const B = rows.length;
  const mask = new Uint8Array(B * T);
  if (maskIn !== undefined) {
    const m = maskIn instanceof Tensor ? Array.from(maskIn.dataSync()) : (Array.isArray(maskIn[0]) ? (maskIn as number[][]).flat() : (maskIn as number[]));
    if (m.length !== B * T || rows.some((r) => r.length !== T)) throw new ShapeError(`generate: attentionMask must be (B, T) = [${B}, ${T}] like inputIds`);
    m.forEach((v, i) => (mask[i] = v ? 1 : 0));
  } else {
    rows = rows.map((r, b) => {
      for (let j = 0; j < T; j++) mask[b * T + j] = j >= T - r.length ? 1 : 0;
      return [...new Array(T - r.length).fill(pad), ...r];
    });
  }
  return { rows, mask, T };
}

/** Runs the decoding loop (see GenerateOptions); returns each row's prompt (unpadded) plus its new tokens. */
export async function generate(model: CausalLM, inputIds: TokenInput, opts: GenerateOptions = {}): Promise<number[][]> {
  const g = model.generationConfig;
  const eosOpt = opts.eosTokenId === undefined ? (g.eosTokenId ?? model.config.eosTokenId) : opts.eosTokenId;
  const eos = new Set(eosOpt === null || eosOpt === undefined ? [] : typeof eosOpt === 'number' ? [eosOpt] : eosOpt);
  const pad = opts.padTokenId ?? g.padTokenId ?? model.config.padTokenId ?? [...eos][0] ?? 0;
  const { rows, mask, T } = preparePrompts(inputIds, opts.attentionMask, pad);
  const B = rows.length;
  const maxNew = opts.maxNewTokens ?? g.maxNewTokens ?? Math.max(0, (g.maxLength ?? 20) - T);
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new ArgumentError(`generate: 'maxNewTokens' must be an integer ≥ 0, got ${maxNew}`);
  const s: SamplingSettings = {
    doSample: opts.doSample ?? g.doSample ?? false,
    temperature: opts.temperature ?? g.temperature ?? 1,
    topK: opts.topK ?? g.topK ?? 50,
    topP: opts.topP ?? g.topP ?? 1,
    repetitionPenalty: opts.repetitionPenalty ?? g.repetitionPenalty ?? 1,
  };
  checkSampling(s);
  const stops = typeof opts.stopStrings === 'string' ? [opts.stopStrings] : (opts.stopStrings ?? []);
  if (stops.length && !opts.tokenizer) throw new ArgumentError(`generate: 'stopStrings' needs a 'tokenizer' option to read the generated text`);
  const rng = new Random(opts.seed);
  const streamer = typeof opts.streamer === 'function' ? { put: opts.streamer, end: () => {} } : opts.streamer;

  const real = rows.map((r, b) => r.filter((_, j) => mask[b * T + j] === 1));
  const generated: number[][] = rows.map(() => []);
  const finished = new Array<boolean>(B).fill(false);
  const cache = model.newCache(T + maxNew);
  let fullMask = mask;
  let total = T;
  let step = 0;
  let input: number[][] = rows;
  let positions = positionsFromMask(mask, B, T, T);
  const t0 = performance.now();
  let tPrefill = t0;
  try {
    while (step < maxNew && finished.some((f) => !f)) {
      const L = input[0].length;
      const { logits } = model.forward(input, {
        attentionMask: unflatten(fullMask, B, total),
        positionIds: unflatten(positions, B, L),
        pastKeyValues: cache,
        logitsToKeep: 1,
      });
      const data = (await logits.data()) as Float32Array;
      logits.dispose();
      if (step === 0) tPrefill = performance.now();
      opts.onLogits?.(data, step);
      const V = data.length / B;
      const next = new Array<number>(B);
      const streamed = new Array<number>(B).fill(-1);
      for (let b = 0; b < B; b++) {
        if (finished[b]) {
          next[b] = pad;
          continue;
        }
        const row = data.slice(b * V, (b + 1) * V);
        next[b] = pickToken(row, [...real[b], ...generated[b]], s, rng);
        generated[b].push(next[b]);
        streamed[b] = next[b];
        if (eos.has(next[b]) || (stops.length && hitsStop(opts.tokenizer!, generated[b], stops))) finished[b] = true;
      }
      step++;
      await streamer?.put(streamed, step);
      // Next step: the new token per row, the mask grown by one, positions + 1.
      const grown = new Uint8Array(B * (total + 1));
      for (let b = 0; b < B; b++) {
        grown.set(fullMask.subarray(b * total, (b + 1) * total), b * (total + 1));
        grown[b * (total + 1) + total] = 1;
      }
      fullMask = grown;
      positions = Int32Array.from({ length: B }, (_, b) => positions[b * (positions.length / B) + positions.length / B - 1] + 1);
      total++;
      input = next.map((t) => [t]);
    }
  } finally {
    cache.dispose();
    await streamer?.end();
  }
  const t1 = performance.now();
  lastStats.set(model, { promptTokens: real.reduce((a, r) => a + r.length, 0), newTokens: step, prefillMs: tPrefill - t0, decodeMs: t1 - tPrefill });
  return real.map((r, b) => [...r, ...generated[b]]);
}

function unflatten(x: ArrayLike<number>, B: number, n: number): number[][] {
  return Array.from({ length: B }, (_, b) => Array.from({ length: n }, (_, j) => x[b * n + j]));
}

function hitsStop(tok: TokenizerLike, ids: readonly number[], stops: readonly string[]): boolean {
  const text = tok.decode(ids.slice(-32), { skipSpecialTokens: false });
  return stops.some((s) => text.includes(s));
}
