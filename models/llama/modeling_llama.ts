/**
 * Llama (`model_type: "llama"`, LlamaForCausalLM): pre-norm decoder with RMSNorm, rotary
 * positions (default / linear / dynamic / llama3 scaling), grouped-query attention and a SiLU-gated
 * MLP. Field names are the checkpoint keys (`model.layers.0.self_attn.q_proj.weight`, …).
 */

import type { DType } from '../../lib/dtype.js';
import type { Tensor } from '../../lib/tensor.js';
import { add, mul } from '../../ops/elementwise.js';
import { addRmsNorm, swiglu } from '../../ops/fused.js';
import { rope } from '../../ops/nn.js';
import { reshape, transpose } from '../../ops/shape_ops.js';
import { Embedding, Linear, RMSNorm } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { activation, type Activation } from '../common/activations.js';
import { attend } from '../common/attention.js';
import { CausalLM, lastPositions, runLayers, type BaseModelConfig, type ForwardContext } from '../common/causal_lm.js';
import { bool, int, num, readRope, readSpecialTokens, storedDType, str, type RawConfig, type RopeConfig } from '../common/config.js';
import { RotaryEmbedding } from '../common/rotary.js';

// ------------------------------------------------------------------------------------ config

/** Llama's config.json, normalised (defaults as in transformers' LlamaConfig). */
export interface LlamaConfig extends BaseModelConfig {
  modelType: 'llama';
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  /** KV heads (1 = MQA, < numHeads = GQA). */
  numKvHeads: number;
  /** May differ from hiddenSize / numHeads. */
  headDim: number;
  hiddenAct: string;
  rmsNormEps: number;
  rope: RopeConfig;
  attentionBias: boolean;
  mlpBias: boolean;
  tieWordEmbeddings: boolean;
}

/** Reads a Llama config.json (v4 or v5 layout). */
export function parseLlamaConfig(raw: RawConfig): LlamaConfig {
  const hiddenSize = int(raw, 'hidden_size', 4096);
  const numHeads = int(raw, 'num_attention_heads', 32);
  return {
    modelType: 'llama',
    raw,
    vocabSize: int(raw, 'vocab_size', 32000),
    hiddenSize,
    intermediateSize: int(raw, 'intermediate_size', 11008),
    numLayers: int(raw, 'num_hidden_layers', 32),
    numHeads,
    numKvHeads: num(raw, 'num_key_value_heads', null) ?? numHeads,
    headDim: num(raw, 'head_dim', null) ?? hiddenSize / numHeads,
    hiddenAct: str(raw, 'hidden_act', 'silu'),
    rmsNormEps: num(raw, 'rms_norm_eps', 1e-6),
    rope: readRope(raw, 10000),
    attentionBias: bool(raw, 'attention_bias', false),
    mlpBias: bool(raw, 'mlp_bias', false),
    tieWordEmbeddings: bool(raw, 'tie_word_embeddings', false),
    storedDType: storedDType(raw),
    ...readSpecialTokens(raw, { bos: 1, eos: 2, pad: null }),
  };
}

// ------------------------------------------------------------------------------------ modules

/** Self-attention with RoPE and grouped-query heads. */
export class LlamaAttention extends Module {
  /** [H·hd, D] */ q_proj: Linear;
  /** [KV·hd, D] */ k_proj: Linear;
  /** [KV·hd, D] */ v_proj: Linear;
  /** [D, H·hd] */ o_proj: Linear;

  constructor(readonly cfg: LlamaConfig, readonly layerIdx: number) {
    super();
    const { hiddenSize: D, numHeads: H, numKvHeads: KV, headDim: hd, attentionBias: bias } = cfg;
    this.q_proj = Linear.declare(D, H * hd, { bias });
    this.k_proj = Linear.declare(D, KV * hd, { bias });
    this.v_proj = Linear.declare(D, KV * hd, { bias });
    this.o_proj = Linear.declare(H * hd, D, { bias });
  }

  forward(x: Tensor, cos: Tensor, sin: Tensor, ctx: ForwardContext): Tensor {
    const { numHeads: H, numKvHeads: KV, headDim: hd } = this.cfg;
    const [B, L] = x.shape;
    const heads = (t: Tensor, n: number) => transpose(reshape(t, [B, L, n, hd]), [0, 2, 1, 3]); // (B, n, L, hd)
    const q = rope(heads(this.q_proj.forward(x), H), cos, sin);
    let k = rope(heads(this.k_proj.forward(x), KV), cos, sin);
    let v = heads(this.v_proj.forward(x), KV);
    let kvLength: number | undefined;
    if (ctx.cache) ({ k, v, length: kvLength } = ctx.cache.update(this.layerIdx, k, v)); // (B, KV, past + L, hd)
    const { out, weights } = attend(ctx.impl, { q, k, v, kvLength, mask: ctx.mask, scale: 1 / Math.sqrt(hd), outputAttentions: ctx.outputAttentions });
    if (weights) ctx.attentions.push(Object.assign(weights, { kept: true })); // returned to the caller
    const merged = reshape(transpose(out, [0, 2, 1, 3]), [B, L, H * hd]); // (B, L, H·hd)
    return this.o_proj.forward(merged);
  }
}

/** down(act(gate(x)) ⊙ up(x)). */
export class LlamaMLP extends Module {
  /** [I, D] */ gate_proj: Linear;
  /** [I, D] */ up_proj: Linear;
  /** [D, I] */ down_proj: Linear;
  private readonly act: Activation;
  /** SiLU gating runs as one fused kernel (same numerics as silu then mul). */
  private readonly fusedSilu: boolean;

  constructor(cfg: LlamaConfig) {
    super();
    const { hiddenSize: D, intermediateSize: I, mlpBias: bias } = cfg;
    this.gate_proj = Linear.declare(D, I, { bias });
    this.up_proj = Linear.declare(D, I, { bias });
    this.down_proj = Linear.declare(I, D, { bias });
    this.act = activation(cfg.hiddenAct, 'hidden_act');
    this.fusedSilu = cfg.hiddenAct === 'silu' || cfg.hiddenAct === 'swish';
  }

  forward(x: Tensor): Tensor {
    const gate = this.gate_proj.forward(x);
    const up = this.up_proj.forward(x);
    return this.down_proj.forward(this.fusedSilu ? swiglu(gate, up) : mul(this.act(gate), up));
  }
}

/** h + attn(norm(h)), then h + mlp(norm(h)). */
export class LlamaDecoderLayer extends Module {
  self_attn: LlamaAttention;
  mlp: LlamaMLP;
  /** [D] */ input_layernorm: RMSNorm;
  /** [D] */ post_attention_layernorm: RMSNorm;

  constructor(cfg: LlamaConfig, layerIdx: number) {
    super();
    this.self_attn = new LlamaAttention(cfg, layerIdx);
    this.mlp = new LlamaMLP(cfg);
    this.input_layernorm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
    this.post_attention_layernorm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
  }

  forward(h: Tensor, cos: Tensor, sin: Tensor, ctx: ForwardContext): Tensor {
    const attn = this.self_attn.forward(this.input_layernorm.forward(h), cos, sin, ctx);
    // a = h + attn and its post-attention norm in one pass (bit-identical to add then rmsNorm).
    const post = this.post_attention_layernorm;
    const [a, m] = addRmsNorm(h, attn, post.weight, post.eps);
    return add(a, this.mlp.forward(m));
  }
}

/** The decoder stack (`model.` prefix). */
export class LlamaModel extends Module {
  /** [vocab, D] */ embed_tokens: Embedding;
  layers: LlamaDecoderLayer[];
  /** [D] */ norm: RMSNorm;

  constructor(cfg: LlamaConfig) {
    super();
    this.embed_tokens = new Embedding([cfg.vocabSize, cfg.hiddenSize]);
    this.layers = Array.from({ length: cfg.numLayers }, (_, i) => new LlamaDecoderLayer(cfg, i));
    this.norm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
  }
}

// ------------------------------------------------------------------------------------ forward

/** Llama with its LM head. */
export class LlamaForCausalLM extends CausalLM {
  model: LlamaModel;
  /** [vocab, D]; tied to model.embed_tokens.weight when tie_word_embeddings. */
  lm_head: Linear;
  private readonly rotary: RotaryEmbedding;

  constructor(readonly config: LlamaConfig) {
    super();
    this.model = new LlamaModel(config);
    this.lm_head = Linear.declare(config.hiddenSize, config.vocabSize, {
      tiedTo: config.tieWordEmbeddings ? 'model.embed_tokens.weight' : undefined,
    });
    this.rotary = new RotaryEmbedding(config.rope, config.headDim);
  }

  get dtype(): DType {
    return this.model.embed_tokens.weight.dtype;
  }

  protected run(ctx: ForwardContext): Tensor {
    let h = this.model.embed_tokens.forward(ctx.inputIds); // (B, L, D)
    const { cos, sin } = this.rotary.cosSin(ctx.ropePositions, ctx.batch, h.dtype); // (B, 1, L, hd/2)
    h = runLayers(h, this.model.layers, (layer, x) => layer.forward(x, cos, sin, ctx));
    h = this.model.norm.forward(lastPositions(h, ctx.logitsToKeep));
    return this.lm_head.forward(h); // (B, L', vocab)
  }
}
