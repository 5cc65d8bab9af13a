/**
 * OPT (`model_type: "opt"`, OPTForCausalLM): learned absolute positions (offset 2, derived from
 * the attention mask), pre- or post-LayerNorm blocks with a ReLU MLP, optional project_in /
 * project_out when the embedding width differs from the hidden size, and a tied LM head.
 */

import type { DType } from '../../lib/dtype.js';
import type { Tensor } from '../../lib/tensor.js';
import { fromStorage } from '../../ops/creation.js';
import { add, mul } from '../../ops/elementwise.js';
import { reshape, transpose } from '../../ops/shape_ops.js';
import { Embedding, LayerNorm, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { activation, type Activation } from '../common/activations.js';
import { attend } from '../common/attention.js';
import { CausalLM, lastPositions, runLayers, type BaseModelConfig, type ForwardContext } from '../common/causal_lm.js';
import { bool, int, num, readSpecialTokens, storedDType, str, type RawConfig } from '../common/config.js';

// ------------------------------------------------------------------------------------ config

/** OPT's config.json, normalised. */
export interface OPTConfig extends BaseModelConfig {
  modelType: 'opt';
  hiddenSize: number;
  /** E: width of the token embeddings and the LM head. */
  wordEmbedProjDim: number;
  ffnDim: number;
  numHeads: number;
  maxPositions: number;
  doLayerNormBefore: boolean;
  removeFinalLayerNorm: boolean;
  activationFunction: string;
  enableBias: boolean;
  layerNormElementwiseAffine: boolean;
  tieWordEmbeddings: boolean;
}

/** Reads an OPT config.json. */
export function parseOPTConfig(raw: RawConfig): OPTConfig {
  const hiddenSize = int(raw, 'hidden_size', 768);
  return {
    modelType: 'opt',
    raw,
    vocabSize: int(raw, 'vocab_size', 50272),
    hiddenSize,
    wordEmbedProjDim: num(raw, 'word_embed_proj_dim', null) ?? hiddenSize,
    ffnDim: int(raw, 'ffn_dim', 3072),
    numLayers: int(raw, 'num_hidden_layers', 12),
    numHeads: int(raw, 'num_attention_heads', 12),
    maxPositions: int(raw, 'max_position_embeddings', 2048),
    doLayerNormBefore: bool(raw, 'do_layer_norm_before', true),
    removeFinalLayerNorm: bool(raw, '_remove_final_layer_norm', false),
    activationFunction: str(raw, 'activation_function', 'relu'),
    enableBias: bool(raw, 'enable_bias', true),
    layerNormElementwiseAffine: bool(raw, 'layer_norm_elementwise_affine', true),
    tieWordEmbeddings: bool(raw, 'tie_word_embeddings', true),
    storedDType: storedDType(raw),
    ...readSpecialTokens(raw, { bos: 2, eos: 2, pad: 1 }),
  };
}

/** Row offset of the learned position table: position p uses row p + 2. */
const POSITION_OFFSET = 2;

// ------------------------------------------------------------------------------------ modules

/** Multi-head attention; q is scaled by hd^-0.5 after its bias. */
export class OPTAttention extends Module {
  /** [D, D] */ q_proj: Linear;
  /** [D, D] */ k_proj: Linear;
  /** [D, D] */ v_proj: Linear;
  /** [D, D] */ out_proj: Linear;

  constructor(readonly cfg: OPTConfig, readonly layerIdx: number) {
    super();
    const { hiddenSize: D, enableBias: bias } = cfg;
    this.q_proj = Linear.declare(D, D, { bias });
    this.k_proj = Linear.declare(D, D, { bias });
    this.v_proj = Linear.declare(D, D, { bias });
    this.out_proj = Linear.declare(D, D, { bias });
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const { hiddenSize: D, numHeads: H } = this.cfg;
    const hd = D / H;
    const [B, L] = x.shape;
    const heads = (t: Tensor) => transpose(reshape(t, [B, L, H, hd]), [0, 2, 1, 3]); // (B, H, L, hd)
    const q = heads(mul(this.q_proj.forward(x), hd ** -0.5));
    let k = heads(this.k_proj.forward(x));
    let v = heads(this.v_proj.forward(x));
    let kvLength: number | undefined;
    if (ctx.cache) ({ k, v, length: kvLength } = ctx.cache.update(this.layerIdx, k, v));
    const { out, weights } = attend(ctx.impl, { q, k, v, kvLength, mask: ctx.mask, scale: 1, outputAttentions: ctx.outputAttentions });
    if (weights) ctx.attentions.push(Object.assign(weights, { kept: true }));
    return this.out_proj.forward(reshape(transpose(out, [0, 2, 1, 3]), [B, L, D]));
  }
}

/** One block, pre-LN (most OPT models) or post-LN (OPT-350m). */
export class OPTDecoderLayer extends Module {
  self_attn: OPTAttention;
  /** [D] */ self_attn_layer_norm: LayerNorm;
  /** [F, D] */ fc1: Linear;
  /** [D, F] */ fc2: Linear;
  /** [D] the block's FFN norm */ final_layer_norm: LayerNorm;
  private readonly act: Activation;

  constructor(readonly cfg: OPTConfig, layerIdx: number) {
    super();
    const { hiddenSize: D, ffnDim: F, enableBias: bias } = cfg;
    const ln = () => new LayerNorm(D, { affine: cfg.layerNormElementwiseAffine });
    this.self_attn = new OPTAttention(cfg, layerIdx);
    this.self_attn_layer_norm = ln();
    this.fc1 = Linear.declare(D, F, { bias });
    this.fc2 = Linear.declare(F, D, { bias });
    this.final_layer_norm = ln();
    this.act = activation(cfg.activationFunction, 'activation_function');
  }

  forward(h: Tensor, ctx: ForwardContext): Tensor {
    const pre = this.cfg.doLayerNormBefore;
    let a = add(h, this.self_attn.forward(pre ? this.self_attn_layer_norm.forward(h) : h, ctx));
    if (!pre) a = this.self_attn_layer_norm.forward(a);
    const m = this.fc2.forward(this.act(this.fc1.forward(pre ? this.final_layer_norm.forward(a) : a)));
    const out = add(a, m);
    return pre ? out : this.final_layer_norm.forward(out);
  }
}

/** Embeddings, blocks and the optional final norm / projections (`model.decoder.` prefix). */
export class OPTDecoder extends Module {
  /** [vocab, E] */ embed_tokens: Embedding;
  /** [P + 2, D] */ embed_positions: Embedding;
  /** [D, E] when E ≠ D */ project_in?: Linear;
  /** [E, D] when E ≠ D */ project_out?: Linear;
  /** [D] pre-LN models unless _remove_final_layer_norm */ final_layer_norm?: LayerNorm;
  layers: OPTDecoderLayer[];

  constructor(cfg: OPTConfig) {
    super();
    const { hiddenSize: D, wordEmbedProjDim: E } = cfg;
    this.embed_tokens = new Embedding([cfg.vocabSize, E]);
    this.embed_positions = new Embedding([cfg.maxPositions + POSITION_OFFSET, D]);
    if (E !== D) {
      this.project_in = Linear.declare(E, D);
      this.project_out = Linear.declare(D, E);
    }
    if (cfg.doLayerNormBefore && !cfg.removeFinalLayerNorm) this.final_layer_norm = new LayerNorm(D, { affine: cfg.layerNormElementwiseAffine });
    this.layers = Array.from({ length: cfg.numLayers }, (_, i) => new OPTDecoderLayer(cfg, i));
  }
}

/** The base model (`model.`). */
export class OPTModel extends Module {
  decoder: OPTDecoder;

  constructor(cfg: OPTConfig) {
    super();
    this.decoder = new OPTDecoder(cfg);
  }
}

// ------------------------------------------------------------------------------------ forward

/** Positions from the mask: cumsum(mask)·mask − 1 over past + current, last L kept (pads → −1). */
function maskPositions(ctx: ForwardContext): Int32Array {
  const S = ctx.mask.keyLength;
  const L = ctx.length;
  const out = new Int32Array(ctx.batch * L);
  for (let b = 0; b < ctx.batch; b++) {
    const row = ctx.mask.keyRow(b);
    let c = 0;
    for (let j = 0; j < S; j++) {
      c += row[j];
      if (j >= S - L) out[b * L + j - (S - L)] = c * row[j] - 1;
    }
  }
  return out;
}

/** OPT with its LM head. */
export class OPTForCausalLM extends CausalLM {
  model: OPTModel;
  /** [vocab, E]; tied to model.decoder.embed_tokens.weight by default. */
  lm_head: Linear;

  constructor(readonly config: OPTConfig) {
    super();
    this.model = new OPTModel(config);
    this.lm_head = Linear.declare(config.wordEmbedProjDim, config.vocabSize, {
      tiedTo: config.tieWordEmbeddings ? 'model.decoder.embed_tokens.weight' : undefined,
    });
  }

  get dtype(): DType {
    return this.model.decoder.embed_tokens.weight.dtype;
  }

  protected run(ctx: ForwardContext): Tensor {
    const d = this.model.decoder;
    let x = d.embed_tokens.forward(ctx.inputIds); // (B, L, E)
    if (d.project_in) x = d.project_in.forward(x); // (B, L, D)
    const pos = ctx.positionIds ?? maskPositions(ctx);
    const rows = fromStorage(pos.map((p) => p + POSITION_OFFSET), [ctx.batch, ctx.length], 'int32');
    let h = add(x, d.embed_positions.forward(rows)); // (B, L, D)
    h = runLayers(h, d.layers, (layer, y) => layer.forward(y, ctx));
    h = lastPositions(h, ctx.logitsToKeep);
    if (d.final_layer_norm) h = d.final_layer_norm.forward(h);
    if (d.project_out) h = d.project_out.forward(h); // (B, L', E)
    return this.lm_head.forward(h); // (B, L', vocab)
  }
}
