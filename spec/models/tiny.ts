/** Tiny random checkpoints (models.md §7) written to temporary folders for loader and model tests. */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoConfig, FalconForCausalLM, LlamaForCausalLM, OPTForCausalLM, randn, saveSafetensors, type CausalLM, type Tensor } from '../../index.js';

/** Builds an (unloaded) model for a raw config. */
export function skeleton(raw: Record<string, unknown>): CausalLM {
  const cfg = AutoConfig.fromDict(raw);
  if (cfg.modelType === 'llama') return new LlamaForCausalLM(cfg);
  if (cfg.modelType === 'falcon') return new FalconForCausalLM(cfg);
  return new OPTForCausalLM(cfg);
}

/** Options of `writeTiny`. */
export interface TinyOptions {
  /** Split the weights over two shards with an index. */
  sharded?: boolean;
  /** Rename tensors before saving (e.g. strip a prefix); return null to drop one. */
  rename?: (name: string) => string | null;
  /** Extra tensors to save. */
  extra?: Record<string, Tensor>;
  seed?: number;
}

/** Writes config.json + random weights named as the architecture declares; returns the folder. */
export async function writeTiny(raw: Record<string, unknown>, opts: TinyOptions = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'flashtensor-tiny-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(raw));
  const tensors = new Map<string, Tensor>();
  let seed = opts.seed ?? 1;
  for (const d of skeleton(raw).declaredParameters()) {
    if (d.spec.tiedTo) continue;
    const isNorm = d.spec.shape.length === 1;
    const name = opts.rename ? opts.rename(d.name) : d.name;
    if (name === null) continue;
    tensors.set(name, randn(d.spec.shape, { seed: seed++, std: isNorm ? 0.1 : 0.2, mean: isNorm && /norm|ln/.test(d.name) && d.name.endsWith('weight') ? 1 : 0 }));
  }
  for (const [k, v] of Object.entries(opts.extra ?? {})) tensors.set(k, v);
  if (!opts.sharded) {
    await saveSafetensors(join(dir, 'model.safetensors'), tensors);
  } else {
    const names = [...tensors.keys()];
    const half = Math.ceil(names.length / 2);
    const parts = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    for (const [i, part] of parts.entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await saveSafetensors(join(dir, file), new Map(part.map((n) => [n, tensors.get(n)!])));
      for (const n of part) weightMap[n] = file;
    }
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  }
  for (const t of tensors.values()) t.dispose();
  return dir;
}

/** models.md §7 configs. */
export const TINY = {
  llamaA: {
    model_type: 'llama', vocab_size: 256, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: 16, hidden_act: 'silu', rms_norm_eps: 1e-5, max_position_embeddings: 131072, rope_theta: 500000.0,
    rope_scaling: { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 },
    attention_bias: false, mlp_bias: false, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: [2, 3], pad_token_id: 0, torch_dtype: 'float32',
  },
  llamaB: {
    model_type: 'llama', vocab_size: 128, hidden_size: 48, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 4, head_dim: 16, rms_norm_eps: 1e-6, rope_theta: 10000.0, rope_scaling: { type: 'linear', factor: 2.0 },
    max_position_embeddings: 64, attention_bias: true, mlp_bias: true, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
  },
  llamaC: {
    model_type: 'llama', vocab_size: 128, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 1, max_position_embeddings: 16, rms_norm_eps: 1e-5, rope_parameters: { rope_type: 'dynamic', factor: 2.0, rope_theta: 10000.0 },
    tie_word_embeddings: false, dtype: 'float32',
  },
  falconA: {
    model_type: 'falcon', vocab_size: 128, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, multi_query: true,
    new_decoder_architecture: false, parallel_attn: true, alibi: false, bias: false, layer_norm_epsilon: 1e-5, rope_theta: 10000.0,
    max_position_embeddings: 2048, tie_word_embeddings: true, bos_token_id: 11, eos_token_id: 11,
  },
  falconB: {
    model_type: 'falcon', vocab_size: 128, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 8, num_kv_heads: 2,
    new_decoder_architecture: true, parallel_attn: true, alibi: false, bias: false, tie_word_embeddings: true,
  },
  falconC: {
    model_type: 'falcon', vocab_size: 128, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 8, num_kv_heads: 2,
    new_decoder_architecture: true, parallel_attn: true, alibi: false, bias: false, tie_word_embeddings: true, num_ln_in_parallel_attn: 1,
  },
  falconD: {
    model_type: 'falcon', vocab_size: 128, hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 6, multi_query: false,
    new_decoder_architecture: false, parallel_attn: false, alibi: true, bias: true, tie_word_embeddings: true,
  },
  optA: {
    model_type: 'opt', vocab_size: 128, hidden_size: 32, word_embed_proj_dim: 32, ffn_dim: 64, num_hidden_layers: 2, num_attention_heads: 4,
    max_position_embeddings: 32, do_layer_norm_before: true, activation_function: 'relu', enable_bias: true, layer_norm_elementwise_affine: true,
    tie_word_embeddings: true, pad_token_id: 1, bos_token_id: 2, eos_token_id: 2,
  },
  optB: {
    model_type: 'opt', vocab_size: 128, hidden_size: 32, word_embed_proj_dim: 16, ffn_dim: 64, num_hidden_layers: 2, num_attention_heads: 4,
    max_position_embeddings: 32, do_layer_norm_before: false, activation_function: 'relu', enable_bias: true, layer_norm_elementwise_affine: true,
    tie_word_embeddings: true, pad_token_id: 1, bos_token_id: 2, eos_token_id: 2,
  },
  optC: {
    model_type: 'opt', vocab_size: 128, hidden_size: 32, word_embed_proj_dim: 32, ffn_dim: 64, num_hidden_layers: 2, num_attention_heads: 4,
    max_position_embeddings: 32, do_layer_norm_before: true, activation_function: 'relu', enable_bias: false, layer_norm_elementwise_affine: false,
    _remove_final_layer_norm: true, tie_word_embeddings: true, pad_token_id: 1, bos_token_id: 2, eos_token_id: 2,
  },
} satisfies Record<string, Record<string, unknown>>;
