/**
 * Falcon (`model_type: "falcon"`; legacy "RefinedWeb"/"RefinedWebModel"): LayerNorm decoder
 * with a fused query_key_value projection in one of three layouts, rotary positions or ALiBi,
 * parallel or sequential attention + GELU MLP, and a tied LM head by default.
 */

import type { DType } from '../../lib/dtype.js';
import { ArgumentError } from '../../lib/errors.js';
import { bf16BitsToNumber, numberToBf16Bits } from '../../lib/float16.js';
import type { Tensor } from '../../lib/tensor.js';
import { add } from '../../ops/elementwise.js';
import { rope } from '../../ops/nn.js';
import { reshape, split, transpose } from '../../ops/shape_ops.js';
import { Embedding, LayerNorm, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { activation, type Activation } from '../common/activations.js';
import { attend, type AttnImplementation } from '../common/attention.js';
import { CausalLM, lastPositions, runLayers, type BaseModelConfig, type ForwardContext } from '../common/causal_lm.js';
import { bool, int, num, readRope, readSpecialTokens, storedDType, str, type RawConfig, type RopeConfig } from '../common/config.js';
import { RotaryEmbedding } from '../common/rotary.js';

// ------------------------------------------------------------------------------------ config

/** Falcon's config.json, normalised (legacy RW key aliases resolved). */
export interface FalconConfig extends BaseModelConfig {
  modelType: 'falcon';
  hiddenSize: number;
  numHeads: number;
  /** Effective KV heads: num_kv_heads (new arch), 1 (old arch multi_query) or H. */
  numKvHeads: number;
  headDim: number;
  newDecoderArchitecture: boolean;
  multiQuery: boolean;
  parallelAttn: boolean;
  /** New architecture only: 2 = ln_attn + ln_mlp, 1 = one input_layernorm. */
  numLnInParallelAttn: number;
  alibi: boolean;
  bias: boolean;
  layerNormEpsilon: number;
  ffnHiddenSize: number;
  activation: string;
  rope: RopeConfig;
  tieWordEmbeddings: boolean;
}

/** Reads a Falcon config.json, including legacy RefinedWeb keys (n_embed, n_head, n_layer, n_head_kv). */
export function parseFalconConfig(raw: RawConfig): FalconConfig {
  const hiddenSize = int(raw, ['hidden_size', 'n_embed'], 4544);
  const numHeads = int(raw, ['num_attention_heads', 'n_head'], 71);
  // The presence of the legacy n_head_kv means the new (grouped) decoder architecture.
  const newArch = bool(raw, 'new_decoder_architecture', raw.n_head_kv !== undefined && raw.n_head_kv !== null);
  const multiQuery = bool(raw, 'multi_query', true);
  const configuredKv = num(raw, ['num_kv_heads', 'n_head_kv'], null) ?? numHeads;
  return {
    modelType: 'falcon',
    raw,
    vocabSize: int(raw, 'vocab_size', 65024),
    hiddenSize,
    numLayers: int(raw, ['num_hidden_layers', 'n_layer'], 32),
    numHeads,
    numKvHeads: newArch ? configuredKv : multiQuery ? 1 : numHeads,
    headDim: hiddenSize / numHeads,
    newDecoderArchitecture: newArch,
    multiQuery,
    parallelAttn: bool(raw, 'parallel_attn', true),
    numLnInParallelAttn: num(raw, 'num_ln_in_parallel_attn', null) ?? 2,
    alibi: bool(raw, 'alibi', false),
    bias: bool(raw, 'bias', false),
    layerNormEpsilon: num(raw, 'layer_norm_epsilon', 1e-5),
    ffnHiddenSize: num(raw, 'ffn_hidden_size', null) ?? 4 * hiddenSize,
    activation: str(raw, 'activation', 'gelu'),
    rope: readRope(raw, 10000),
    tieWordEmbeddings: bool(raw, 'tie_word_embeddings', true),
    storedDType: storedDType(raw),
    ...readSpecialTokens(raw, { bos: 11, eos: 11, pad: null }),
  };
}

/** Rows of the fused query_key_value weight. */
function fusedRows(c: FalconConfig): number {
  if (c.newDecoderArchitecture) return (c.numHeads + 2 * c.numKvHeads) * c.headDim;
  return c.multiQuery ? c.hiddenSize + 2 * c.headDim : 3 * c.hiddenSize;
}

/**
 * ALiBi slopes for n heads: base^1 … base^c with c = 2^⌊log₂ n⌋ and base = 2^(−8/c), then the odd
 * powers of 2^(−4/c) for the remaining heads; float32 as Hugging Face computes them.
 */
export function alibiSlopes(n: number): Float32Array {
  const c = 2 ** Math.floor(Math.log2(n));
  const base = Math.fround(2 ** -(2 ** -(Math.log2(c) - 3)));
  const out = new Float32Array(n);
  for (let i = 0; i < c && i < n; i++) out[i] = Math.pow(base, i + 1);
  if (c < n) {
    const extra = Math.fround(2 ** -(2 ** -(Math.log2(2 * c) - 3)));
    for (let i = 0; i < n - c; i++) out[c + i] = Math.pow(extra, 2 * i + 1);
  }
  return out;
}

// ------------------------------------------------------------------------------------ modules

/** Attention with the fused QKV projection. */
export class FalconAttention extends Module {
  /** [(H + 2·KV)·hd | D + 2·hd | 3·D, D] */ query_key_value: Linear;
  /** [D, D] */ dense: Linear;

  constructor(readonly cfg: FalconConfig, readonly layerIdx: number) {
    super();
    this.query_key_value = Linear.declare(cfg.hiddenSize, fusedRows(cfg), { bias: cfg.bias });
    this.dense = Linear.declare(cfg.hiddenSize, cfg.hiddenSize, { bias: cfg.bias });
  }

  /** Splits the fused projection (B, L, rows) into q (B, L, H, hd) and k, v (B, L, KV, hd). */
  private splitQkv(fused: Tensor): [Tensor, Tensor, Tensor] {
    const { numHeads: H, numKvHeads: KV, headDim: hd } = this.cfg;
    const [B, L] = fused.shape;
    if (this.cfg.newDecoderArchitecture) {
      // Per KV group g: [q(g·R) … q(g·R + R − 1), k(g), v(g)].
      const R = H / KV;
      const [q, k, v] = split(reshape(fused, [B, L, KV, R + 2, hd]), [R, 1, 1], 3);
      return [reshape(q, [B, L, H, hd]), reshape(k, [B, L, KV, hd]), reshape(v, [B, L, KV, hd])];
    }
    if (this.cfg.multiQuery) {
      // [q0 … q(H−1), k, v]
      const [q, k, v] = split(fused, [H * hd, hd, hd], 2);
      return [reshape(q, [B, L, H, hd]), reshape(k, [B, L, 1, hd]), reshape(v, [B, L, 1, hd])];
    }
    // Per head h: [q(h), k(h), v(h)].
    const [q, k, v] = split(reshape(fused, [B, L, H, 3, hd]), 3, 3);
    return [reshape(q, [B, L, H, hd]), reshape(k, [B, L, H, hd]), reshape(v, [B, L, H, hd])];
  }

  forward(x: Tensor, rot: { cos: Tensor; sin: Tensor } | null, biasMask: Tensor | null, ctx: ForwardContext): Tensor {
    const { numHeads: H, headDim: hd } = this.cfg;
    const [B, L] = x.shape;
    const [q4, k4, v4] = this.splitQkv(this.query_key_value.forward(x));
    let q = transpose(q4, [0, 2, 1, 3]); // (B, H, L, hd)
    let k = transpose(k4, [0, 2, 1, 3]); // (B, KV, L, hd)
    let v = transpose(v4, [0, 2, 1, 3]);
    if (rot) {
      q = rope(q, rot.cos, rot.sin);
      k = rope(k, rot.cos, rot.sin);
    }
    let kvLength: number | undefined;
    if (ctx.cache) ({ k, v, length: kvLength } = ctx.cache.update(this.layerIdx, k, v));
    const { out, weights } = attend(ctx.impl, { q, k, v, kvLength, mask: ctx.mask, biasMask, scale: 1 / Math.sqrt(hd), outputAttentions: ctx.outputAttentions });
    if (weights) ctx.attentions.push(Object.assign(weights, { kept: true }));
    return this.dense.forward(reshape(transpose(out, [0, 2, 1, 3]), [B, L, H * hd])); // (B, L, D)
  }
}

/** dense_4h_to_h(gelu(dense_h_to_4h(x))). */
export class FalconMLP extends Module {
  /** [F, D] */ dense_h_to_4h: Linear;
  /** [D, F] */ dense_4h_to_h: Linear;
  private readonly act: Activation;

  constructor(cfg: FalconConfig) {
    super();
    this.dense_h_to_4h = Linear.declare(cfg.hiddenSize, cfg.ffnHiddenSize, { bias: cfg.bias });
    this.dense_4h_to_h = Linear.declare(cfg.ffnHiddenSize, cfg.hiddenSize, { bias: cfg.bias });
    this.act = activation(cfg.activation, 'activation');
  }

  forward(x: Tensor): Tensor {
    return this.dense_4h_to_h.forward(this.act(this.dense_h_to_4h.forward(x)));
  }
}

/** One block: parallel (one or two norms) or sequential attention + MLP. */
export class FalconDecoderLayer extends Module {
  self_attention: FalconAttention;
  mlp: FalconMLP;
  /** [D] old architecture, or new with num_ln_in_parallel_attn = 1 */ input_layernorm?: LayerNorm;
  /** [D] sequential blocks only */ post_attention_layernorm?: LayerNorm;
  /** [D] new architecture with two norms */ ln_attn?: LayerNorm;
  /** [D] */ ln_mlp?: LayerNorm;

  constructor(readonly cfg: FalconConfig, layerIdx: number) {
    super();
    const ln = () => new LayerNorm(cfg.hiddenSize, {}, cfg.layerNormEpsilon);
    this.self_attention = new FalconAttention(cfg, layerIdx);
    this.mlp = new FalconMLP(cfg);
    if (cfg.newDecoderArchitecture && cfg.numLnInParallelAttn === 2) {
      this.ln_attn = ln();
      this.ln_mlp = ln();
    } else {
      this.input_layernorm = ln();
      if (!cfg.parallelAttn) this.post_attention_layernorm = ln();
    }
  }

  forward(h: Tensor, rot: { cos: Tensor; sin: Tensor } | null, biasMask: Tensor | null, ctx: ForwardContext): Tensor {
    const twoNorms = !!this.ln_attn;
    const attnIn = twoNorms ? this.ln_attn!.forward(h) : this.input_layernorm!.forward(h);
    const attnOut = this.self_attention.forward(attnIn, rot, biasMask, ctx);
    if (!this.cfg.newDecoderArchitecture && !this.cfg.parallelAttn) {
      const h1 = add(attnOut, h); // sequential
      return add(this.mlp.forward(this.post_attention_layernorm!.forward(h1)), h1);
    }
    const mlpOut = this.mlp.forward(twoNorms ? this.ln_mlp!.forward(h) : attnIn);
    return add(add(mlpOut, attnOut), h); // parallel: h + attn + mlp
  }
}

/** The decoder stack (`transformer.` prefix). */
export class FalconModel extends Module {
  /** [vocab, D] */ word_embeddings: Embedding;
  h: FalconDecoderLayer[];
  /** [D] */ ln_f: LayerNorm;

  constructor(cfg: FalconConfig) {
    super();
    this.word_embeddings = new Embedding([cfg.vocabSize, cfg.hiddenSize]);
    this.h = Array.from({ length: cfg.numLayers }, (_, i) => new FalconDecoderLayer(cfg, i));
    this.ln_f = new LayerNorm(cfg.hiddenSize, {}, cfg.layerNormEpsilon);
  }
}

// ------------------------------------------------------------------------------------ forward

/** Falcon with its LM head. */
export class FalconForCausalLM extends CausalLM {
  transformer: FalconModel;
  /** [vocab, D]; tied to transformer.word_embeddings.weight by default. */
  lm_head: Linear;
  private readonly rotary: RotaryEmbedding | null;

  constructor(readonly config: FalconConfig) {
    super();
    this.transformer = new FalconModel(config);
    this.lm_head = Linear.declare(config.hiddenSize, config.vocabSize, {
      tiedTo: config.tieWordEmbeddings ? 'transformer.word_embeddings.weight' : undefined,
    });
    this.rotary = config.alibi ? null : new RotaryEmbedding(config.rope, config.headDim);
  }

  get dtype(): DType {
    return this.transformer.word_embeddings.weight.dtype;
  }

  protected override checkAttentionSupport(impl: AttnImplementation): void {
    if (impl === 'flash_attention_2' && this.config.alibi) {
      throw new ArgumentError(`attnImplementation 'flash_attention_2' cannot apply Falcon's ALiBi bias; use 'sdpa' or 'eager' for this model`);
    }
  }

  /**
   * ALiBi as an additive mask (B, H, L, S): slope_h · kp[j] / √hd where allowed, finfo.min where
   * blocked, with key positions kp = (cumsum(mask) − 1)·mask over past + current tokens. The
   * slope is rounded to bfloat16 and the product taken in bfloat16, as Hugging Face does.
   */
  private alibiMask(ctx: ForwardContext, dtype: DType): Tensor {
    const { numHeads: H, headDim: hd } = this.config;
    const B = ctx.batch;
    const S = ctx.mask.keyLength;
    const slopes = Array.from(alibiSlopes(H), (s) => bf16BitsToNumber(numberToBf16Bits(s)));
    const bias = new Float32Array(B * H * S);
    const scale = Math.sqrt(hd);
    for (let b = 0; b < B; b++) {
      const row = ctx.mask.keyRow(b);
      let c = 0;
      for (let j = 0; j < S; j++) {
        c += row[j];
        const kp = (c - 1) * row[j];
        for (let h = 0; h < H; h++) {
          const prod = bf16BitsToNumber(numberToBf16Bits(slopes[h] * kp));
          bias[(b * H + h) * S + j] = Math.fround(prod) / scale;
        }
      }
    }
    return ctx.mask.biasMask(bias, H, dtype);
  }

  protected run(ctx: ForwardContext): Tensor {
    const t = this.transformer;
    let h = t.word_embeddings.forward(ctx.inputIds); // (B, L, D)
    const rot = this.rotary ? this.rotary.cosSin(ctx.ropePositions, ctx.batch, h.dtype) : null;
    const biasMask = this.config.alibi ? this.alibiMask(ctx, h.dtype) : null;
    h = runLayers(h, t.h, (layer, x) => layer.forward(x, rot, biasMask, ctx));
    h = t.ln_f.forward(lastPositions(h, ctx.logitsToKeep));
    return this.lm_head.forward(h); // (B, L', vocab)
  }
}
