/**
 * What every causal language model shares: the `forward` contract (input ids, attention mask,
 * position ids, KV cache → logits and the cache), the attention implementation switch, and
 * `generate()`. Each family (models/llama, models/falcon, models/opt) supplies only its decoder.
 */

import type { DType } from '../../lib/dtype.js';
import type { Backend } from '../../lib/backend.js';
import { ENGINE } from '../../lib/engine.js';
import { ArgumentError, ShapeError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import { fromStorage } from '../../ops/creation.js';
import { slice } from '../../ops/shape_ops.js';
import { Module } from '../nn/module.js';
import { checkAttnImplementation, type AttnImplementation } from './attention.js';
import type { SpecialTokenConfig } from './config.js';
import { KVCache } from './kv_cache.js';
import { AttentionMask, cachePositions, flattenMask } from './masks.js';
import type { GenerationConfig } from './generation_config.js';
import { generate, type GenerateOptions } from '../generation/generate.js';

/** Token ids as a tensor (B, T) of int32, nested arrays (B rows of T), or one row. */
export type TokenInput = Tensor | readonly (readonly number[])[] | readonly number[];

/** Options of `forward`. */
export interface ForwardOptions {
  /** (B, past + T) 0/1 padding mask over cached and current tokens; default all ones. */
  attentionMask?: TokenInput | null;
  /** (B, T) positions; default past … past + T − 1 (RoPE models) or derived from the mask (OPT, ALiBi). */
  positionIds?: TokenInput | null;
  /** The cache from a previous call (updated in place); a new one is created when absent and `useCache` is on. */
  pastKeyValues?: KVCache | null;
  /** Keep a cache (default true). */
  useCache?: boolean;
  /** Also return every layer's attention weights (forces the eager implementation for the call). */
  outputAttentions?: boolean;
  /** Compute logits only for the last N positions (0 = all, the default). */
  logitsToKeep?: number;
}

/** Output of `forward`. */
export interface CausalLMOutput {
  /** (B, T or logitsToKeep, vocab), in the model dtype. */
  logits: Tensor;
  pastKeyValues: KVCache | null;
  /** Per layer (B, H, T, S) float32, with `outputAttentions`. */
  attentions?: Tensor[];
}

/** Everything a decoder needs for one call, prepared once. */
export interface ForwardContext {
  /** (B, T) int32 */
  inputIds: Tensor;
  batch: number;
  length: number;
  pastLength: number;
  cache: KVCache | null;
  mask: AttentionMask;
  /** The caller's position ids (B × T), or null for the family's default. */
  positionIds: Int32Array | null;
  /** Position ids as a plain forward uses them for RoPE: the caller's or cache positions. */
  ropePositions: Int32Array;
  impl: AttnImplementation;
  outputAttentions: boolean;
  attentions: Tensor[];
  logitsToKeep: number;
}

/** Settings common to every family's config. */
export interface BaseModelConfig extends SpecialTokenConfig {
  modelType: string;
  numLayers: number;
  vocabSize: number;
  /** The dtype the checkpoint says it was saved in. */
  storedDType: DType | null;
  /** The parsed config.json as read. */
  raw: Record<string, unknown>;
}

/** Converts token ids to an int32 (B, T) tensor; returns whether it was created here. */
export function toIdTensor(ids: TokenInput, what: string): { t: Tensor; owned: boolean } {
  if (ids instanceof Tensor) {
    if (ids.dtype !== 'int32') throw new ArgumentError(`${what}: expected an int32 tensor, got ${ids.dtype}`);
    if (ids.rank === 2) return { t: ids, owned: false };
    if (ids.rank === 1) return { t: fromStorage(ids.dataSync() as Int32Array, [1, ids.shape[0]], 'int32'), owned: true };
    throw new ShapeError(`${what}: expected (B, T), got [${ids.shape}]`);
  }
  const rows = (Array.isArray(ids[0]) ? ids : [ids]) as readonly (readonly number[])[];
  const T = rows[0]?.length ?? 0;
  for (const [i, r] of rows.entries()) {
    if (r.length !== T) throw new ShapeError(`${what}: rows must have equal lengths (left-pad them, or pass ragged prompts to generate()); row 0 has ${T}, row ${i} has ${r.length}`);
  }
  const flat = new Int32Array(rows.length * T);
  rows.forEach((r, b) => r.forEach((v, j) => {
    if (!Number.isInteger(v)) throw new ArgumentError(`${what}: ids must be integers, got ${v} at [${b}, ${j}]`);
    flat[b * T + j] = v;
  }));
  return { t: fromStorage(flat, [rows.length, T], 'int32'), owned: true };
}

function hostInts(x: TokenInput, what: string): { data: ArrayLike<number>; shape: number[] } {
  if (x instanceof Tensor) return { data: x.dataSync(), shape: x.shape.slice() };
  const rows = (Array.isArray(x[0]) ? x : [x]) as readonly (readonly number[])[];
  return { data: rows.flat(), shape: [rows.length, rows[0]?.length ?? 0] };
}

/** A causal LM: a decoder plus an LM head, with forward() and generate(). */
export abstract class CausalLM extends Module {
  /** Attention implementation used by forward(). */
  declare attnImplementation: AttnImplementation;
  /** Defaults for generate() (generation_config.json, else config.json). */
  declare generationConfig: GenerationConfig;

  constructor() {
    super();
    Object.defineProperty(this, 'attnImplementation', { value: 'sdpa', writable: true, enumerable: false });
    Object.defineProperty(this, 'generationConfig', { value: {}, writable: true, enumerable: false });
  }

  /** The parsed config. */
  abstract readonly config: BaseModelConfig;

  /** The compute dtype (of the embedding table). */
  abstract get dtype(): DType;

  /** Runs the decoder and LM head for a prepared call; returns logits for the last `ctx.logitsToKeep` positions (all when 0). */
  protected abstract run(ctx: ForwardContext): Tensor;

  /**
   * Switches the attention implementation ('eager' | 'sdpa' | 'flash_attention_2'), as Hugging
   * Face's `set_attn_implementation`. flash_attention_2 needs float16 or bfloat16 weights.
   */
  setAttentionImplementation(impl: AttnImplementation): void {
    checkAttnImplementation(impl);
    if (impl === 'flash_attention_2' && this.dtype === 'float32') {
      throw new ArgumentError(
        `attnImplementation 'flash_attention_2' needs a float16 or bfloat16 model, but this one is float32; load it with { dtype: 'float16' } or { dtype: 'bfloat16' } (or use 'sdpa')`,
      );
    }
    this.checkAttentionSupport(impl);
    this.attnImplementation = impl;
  }

  /** Families refuse implementations they cannot run (Falcon ALiBi with flash). */
  protected checkAttentionSupport(_impl: AttnImplementation): void {}

  /** A fresh, empty KV cache for this model (capacity in positions, grown in chunks). */
  newCache(capacity = 0): KVCache {
    return new KVCache(this.config.numLayers, { capacity });
  }

  /**
   * One forward pass. `inputIds` (B, T); returns logits (B, T, vocab) — or the last
   * `logitsToKeep` positions — and the updated cache. Tensors in the result belong to the caller.
   */
  forward(inputIds: TokenInput, opts: ForwardOptions = {}): CausalLMOutput {
    // Inputs, masks and caches are created where the weights live, whatever backend is active.
    return ENGINE.withBackend(this.weightsBackend(), () => this.forwardHere(inputIds, opts));
  }

  /** The backend holding the model's weights (found once). */
  private weightsBackend(): Backend {
    const self = this as unknown as { _backend?: Backend };
    if (!self._backend) {
      const first = this.namedParameters().find(([, p]) => p instanceof Tensor)?.[1] as Tensor | undefined;
      const b = first ? ENGINE.backendOf(first) : ENGINE.backend;
      Object.defineProperty(this, '_backend', { value: b, enumerable: false });
    }
    return self._backend!;
  }

  private forwardHere(inputIds: TokenInput, opts: ForwardOptions): CausalLMOutput {
    const { t: ids, owned } = toIdTensor(inputIds, 'forward: inputIds');
    const [B, T] = ids.shape;
    const useCache = opts.useCache ?? true;
    const cache = opts.pastKeyValues ?? (useCache ? this.newCache() : null);
    if (cache && cache.numLayers !== this.config.numLayers) {
      throw new ArgumentError(`forward: pastKeyValues has ${cache.numLayers} layers, this model has ${this.config.numLayers}`);
    }
    const past = cache?.length ?? 0;
    let padding: Uint8Array | null = null;
    if (opts.attentionMask) {
      const m = hostInts(opts.attentionMask, 'forward: attentionMask');
      if (m.shape[0] !== B || m.shape[1] !== past + T) {
        throw new ShapeError(`forward: attentionMask must be (B, past + T) = [${B}, ${past + T}], got [${m.shape}]`);
      }
      padding = flattenMask(m.data, B, past + T);
    }
    let positionIds: Int32Array | null = null;
    if (opts.positionIds) {
      const p = hostInts(opts.positionIds, 'forward: positionIds');
      if (p.shape[0] !== B || p.shape[1] !== T) throw new ShapeError(`forward: positionIds must be (B, T) = [${B}, ${T}], got [${p.shape}]`);
      positionIds = Int32Array.from(p.data);
    }
    const keep = opts.logitsToKeep ?? 0;
    if (!Number.isInteger(keep) || keep < 0) throw new ArgumentError(`forward: 'logitsToKeep' must be a non-negative integer, got ${keep}`);
    const mask = new AttentionMask(B, T, past, padding);
    const ctx: ForwardContext = {
      inputIds: ids, batch: B, length: T, pastLength: past, cache, mask, positionIds,
      ropePositions: positionIds ?? cachePositions(B, past, T),
      impl: this.attnImplementation, outputAttentions: !!opts.outputAttentions, attentions: [],
      logitsToKeep: keep >= T ? 0 : keep,
    };
    try {
      const { logits, attentions } = ENGINE.tidy(() => {
        const logits = this.run(ctx);
        return { logits, attentions: ctx.attentions };
      });
      cache?.commit();
      return { logits, pastKeyValues: cache, ...(opts.outputAttentions ? { attentions } : {}) };
    } finally {
      mask.dispose();
      if (owned) ids.dispose();
    }
  }

  /**
   * Generates continuations: returns, per sequence, the prompt ids (without padding) followed by
   * the new tokens. See GenerateOptions for sampling, stopping, streaming and batching.
   */
  generate(inputIds: TokenInput, opts: GenerateOptions = {}): Promise<number[][]> {
    return generate(this, inputIds, opts);
  }
}

/**
 * Runs `fn` over the layers, each in its own tidy scope, freeing a layer's input once its output
 * exists: intermediates never pile up across layers.
 */
export function runLayers<L>(h: Tensor, layers: readonly L[], fn: (layer: L, h: Tensor) => Tensor): Tensor {
  for (const layer of layers) {
    const next = ENGINE.tidy(() => fn(layer, h));
    h.dispose();
    h = next;
  }
  return h;
}

/** Keeps the last `n` positions of hidden states (B, T, D); n = 0 keeps all. */
export function lastPositions(h: Tensor, n: number): Tensor {
  if (n === 0 || n >= h.shape[1]) return h;
  return slice(h, [0, h.shape[1] - n, 0], [h.shape[0], n, h.shape[2]]);
}
