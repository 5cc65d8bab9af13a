/**
 * The key/value cache: one pre-allocated (B, KV, capacity, hd) buffer per layer for keys and one
 * for values. New entries are written in place with `writeSlice`; the buffers grow in chunks
 * when a call would overflow them. Keys are stored after RoPE, with un-repeated KV heads.
 */

import type { DType } from '../../lib/dtype.js';
import { ArgumentError, ShapeError } from '../../lib/errors.js';
import type { Tensor } from '../../lib/tensor.js';
import { zeros } from '../../ops/creation.js';
import { writeSlice } from '../../ops/nn.js';
import { reshape, slice } from '../../ops/shape_ops.js';

/** Options of `KVCache`. */
export interface KVCacheOptions {
  /** Positions to allocate up front (generate() passes prompt + maxNewTokens). */
  capacity?: number;
  /** Growth step in positions when a call overflows the capacity (default 256). */
  chunk?: number;
}

/** Per-layer key/value storage shared by all layers' positions. */
export class KVCache {
  /** Tokens stored so far (the past length of the next call). */
  length = 0;
  private capacity: number;
  private readonly chunk: number;
  private readonly keys: (Tensor | null)[];
  private readonly values: (Tensor | null)[];
  private pending = 0;

  constructor(readonly numLayers: number, opts: KVCacheOptions = {}) {
    this.capacity = opts.capacity ?? 0;
    this.chunk = opts.chunk ?? 256;
    if (!Number.isInteger(this.chunk) || this.chunk < 1) throw new ArgumentError(`KVCache: 'chunk' must be a positive integer, got ${this.chunk}`);
    this.keys = new Array(numLayers).fill(null);
    this.values = new Array(numLayers).fill(null);
  }

  /** Positions the buffers hold before the next growth. */
  get allocated(): number {
    return this.capacity;
  }

  /**
   * Appends layer `layer`'s new keys and values (B, KV, L, hd) at position `length` and returns
   * views (the caller disposes them) of the layer's whole buffers (B, KV, capacity, hd) plus the
   * number of filled positions, `length + L`: attention reads that prefix in place (`kvLength`),
   * so no step copies the cache.
   */
  update(layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor; length: number } {
    if (layer < 0 || layer >= this.numLayers) throw new ArgumentError(`KVCache.update: layer ${layer} is out of range (0 … ${this.numLayers - 1})`);
    const [B, KV, L, hd] = k.shape;
    const total = this.length + L;
    this.ensure(layer, B, KV, hd, k.dtype, total);
    const kb = this.keys[layer]!;
    const vb = this.values[layer]!;
    if (kb.shape[0] !== B || kb.shape[1] !== KV || kb.shape[3] !== hd) {
      throw new ShapeError(`KVCache.update: layer ${layer} holds [${kb.shape}] but got keys [${k.shape}]`);
    }
    writeSlice(kb, k, [0, 0, this.length, 0]);
    writeSlice(vb, v, [0, 0, this.length, 0]);
    this.pending = L;
    return { k: reshape(kb, kb.shape.slice()), v: reshape(vb, vb.shape.slice()), length: total };
  }

  /** Marks the tokens written by the last forward call as stored (called once per forward, after every layer). */
  commit(): void {
    this.length += this.pending;
    this.pending = 0;
  }

  /** Grows every layer's buffers so that `total` positions fit (reserving ahead in chunks). */
  reserve(total: number): void {
    if (total > this.capacity) this.capacity = Math.ceil(total / this.chunk) * this.chunk;
  }

  private ensure(layer: number, B: number, KV: number, hd: number, dtype: DType, total: number): void {
    if (total > this.capacity) this.reserve(total);
    const cur = this.keys[layer];
    if (cur && cur.shape[2] >= total) return;
    const cap = Math.max(this.capacity, total);
    for (const store of [this.keys, this.values]) {
      const fresh = zeros([B, KV, cap, hd], dtype);
      fresh.kept = true; // owned by the cache: survives any tidy scope around the forward call
      const old = store[layer];
      if (old) {
        if (this.length > 0) {
          const kept = slice(old, [0, 0, 0, 0], [B, KV, this.length, hd]);
          writeSlice(fresh, kept, [0, 0, 0, 0]);
          kept.dispose();
        }
        old.dispose();
      }
      store[layer] = fresh;
    }
  }

  /** Frees every buffer; the cache is empty afterwards. */
  dispose(): void {
    for (const store of [this.keys, this.values]) {
      for (let i = 0; i < store.length; i++) {
        store[i]?.dispose();
        store[i] = null;
      }
    }
    this.length = 0;
    this.pending = 0;
  }
}
