/**
 * `AutoConfig` and `AutoModelForCausalLM`: read a Hugging Face model folder's config.json, pick
 * the family from `model_type`, build the model and stream its weights in.
 */

import type { DType } from '../lib/dtype.js';
import { ENGINE } from '../lib/engine.js';
import { ArgumentError, FlashTensorError } from '../lib/errors.js';
import { checkAttnImplementation, type AttnImplementation } from './common/attention.js';
import type { CausalLM } from './common/causal_lm.js';
import { parseDType, type RawConfig } from './common/config.js';
import { parseGenerationConfig, type GenerationConfig } from './common/generation_config.js';
import { FalconForCausalLM, parseFalconConfig, type FalconConfig } from './falcon/modeling_falcon.js';
import { LlamaForCausalLM, parseLlamaConfig, type LlamaConfig } from './llama/modeling_llama.js';
import { openCheckpoint } from './loading/checkpoint.js';
import { loadWeights, type LoadProgress, type WeightTransform } from './loading/load_weights.js';
import { OPTForCausalLM, parseOPTConfig, type OPTConfig } from './opt/modeling_opt.js';
import { BitsAndBytesConfig } from './quant/config.js';

/** Any supported model config. */
export type ModelConfig = LlamaConfig | FalconConfig | OPTConfig;

/** `model_type` names no supported family. */
export class UnsupportedModelError extends FlashTensorError {}

interface Family {
  parse(raw: RawConfig): ModelConfig;
  build(cfg: ModelConfig): CausalLM;
  basePrefix: string;
}

const FAMILIES: Record<string, Family> = {
  llama: { parse: parseLlamaConfig, build: (c) => new LlamaForCausalLM(c as LlamaConfig), basePrefix: 'model.' },
  falcon: { parse: parseFalconConfig, build: (c) => new FalconForCausalLM(c as FalconConfig), basePrefix: 'transformer.' },
  opt: { parse: parseOPTConfig, build: (c) => new OPTForCausalLM(c as OPTConfig), basePrefix: 'model.' },
};
const ALIASES: Record<string, string> = { RefinedWeb: 'falcon', RefinedWebModel: 'falcon' };
const LATER: Record<string, string> = { mllama: 'Llama 3.2 Vision (mllama) is not supported yet' };

function family(raw: RawConfig, where: string): Family {
  const t = raw.model_type;
  if (typeof t !== 'string') throw new UnsupportedModelError(`${where}: config.json has no 'model_type'; supported: ${Object.keys(FAMILIES).join(', ')}`);
  const f = FAMILIES[ALIASES[t] ?? t];
  if (!f) {
    throw new UnsupportedModelError(`${where}: unsupported model_type '${t}'${LATER[t] ? ` (${LATER[t]})` : ''}; supported: ${Object.keys(FAMILIES).join(', ')}`);
  }
  return f;
}

async function readJson(path: string): Promise<RawConfig | null> {
  const { promises, existsSync } = await import('node:fs');
  if (!existsSync(path)) return null;
  return JSON.parse(await promises.readFile(path, 'utf8')) as RawConfig;
}

async function readConfig(dir: string): Promise<RawConfig> {
  const { join } = await import('node:path');
  const raw = await readJson(join(dir, 'config.json'));
  if (!raw) throw new ArgumentError(`fromPretrained: no config.json in '${dir}'`);
  return raw;
}

/** Reads model configs. */
export const AutoConfig = {
  /** Parses `dir/config.json` into the family's normalised config (v4 and v5 layouts, legacy aliases). */
  async fromPretrained(dir: string): Promise<ModelConfig> {
    const raw = await readConfig(dir);
    return family(raw, dir).parse(raw);
  },
  /** Parses an already-read config.json object. */
  fromDict(raw: RawConfig): ModelConfig {
    return family(raw, 'config').parse(raw);
  },
};

/** Options of `AutoModelForCausalLM.fromPretrained`. */
export interface FromPretrainedOptions {
  /** Compute dtype: 'float32' (default), 'float16', 'bfloat16', or 'auto' (as the config says it was saved). */
  dtype?: DType | 'auto' | 'fp32' | 'fp16' | 'bf16';
  /** 'sdpa' (default), 'eager' or 'flash_attention_2' (needs float16/bfloat16). */
  attnImplementation?: AttnImplementation;
  /** Quantize Linear layers while loading (see the quantization module); pre-quantized checkpoints are detected. */
  quantizationConfig?: QuantizationHook | null;
  /** Backend to load onto (made the active backend). */
  backend?: string;
  /** Called after each tensor. */
  onProgress?: (p: LoadProgress) => void;
  /** Report tensors the model does not use as an error (default true). */
  strict?: boolean;
}

/** What a quantization config contributes to loading. */
export interface QuantizationHook {
  /** Builds the weight transform for a model (which Linears to quantize, how to read pre-quantized ones). */
  weightTransform(model: CausalLM, cfg: ModelConfig): WeightTransform;
}

/** Builds causal LMs from model folders. */
export const AutoModelForCausalLM = {
  /**
   * Loads a Hugging Face folder (config.json + model.safetensors or a sharded index): picks the
   * class from `model_type`, checks every tensor name and shape, then streams the weights in.
   */
  async fromPretrained(dir: string, opts: FromPretrainedOptions = {}): Promise<CausalLM> {
    const { join } = await import('node:path');
    const raw = await readConfig(dir);
    const fam = family(raw, dir);
    const cfg = fam.parse(raw);
    const dtype = parseDType(opts.dtype ?? 'float32') ?? cfg.storedDType ?? 'float32';
    const impl = opts.attnImplementation ?? 'sdpa';
    checkAttnImplementation(impl);
    if (impl === 'flash_attention_2' && dtype === 'float32') {
      throw new ArgumentError(
        `attnImplementation 'flash_attention_2' needs a float16 or bfloat16 model; pass { dtype: 'float16' } or { dtype: 'bfloat16' } (or use 'sdpa')`,
      );
    }
    if (opts.backend) await ENGINE.setBackend(opts.backend);
    const model = fam.build(cfg);
    const ckpt = await openCheckpoint(dir);
    try {
      await loadWeights(model, ckpt, {
        dtype,
        basePrefix: fam.basePrefix,
        strict: opts.strict,
        transform: quantizationFor(raw, opts.quantizationConfig, dir)?.weightTransform(model, cfg),
        onProgress: opts.onProgress,
        where: dir,
      });
    } finally {
      await ckpt.close();
    }
    model.setAttentionImplementation(impl);
    const gen = await readJson(join(dir, 'generation_config.json'));
    model.generationConfig = gen ? parseGenerationConfig(gen) : fromModelConfig(cfg);
    return model;
  },
};

/**
 * The quantization to load with: the caller's, else the checkpoint's own `quantization_config`
 * (a pre-quantized bitsandbytes checkpoint loads without any option, as in transformers).
 */
function quantizationFor(raw: RawConfig, given: QuantizationHook | null | undefined, where: string): QuantizationHook | null {
  if (given) return given;
  const q = raw.quantization_config;
  if (!q || typeof q !== 'object') return null;
  const method = (q as Record<string, unknown>).quant_method;
  if (method !== undefined && method !== 'bitsandbytes') {
    throw new UnsupportedModelError(`${where}: quantization_config.quant_method '${String(method)}' is not supported (only bitsandbytes)`);
  }
  return BitsAndBytesConfig.fromJSON(q as Record<string, unknown>);
}

function fromModelConfig(cfg: ModelConfig): GenerationConfig {
  return { bosTokenId: cfg.bosTokenId, eosTokenId: cfg.eosTokenId, padTokenId: cfg.padTokenId };
}
