/**
 * Reading Hugging Face `config.json` across versions: typed getters with defaults and aliases,
 * the RoPE settings (v4 `rope_theta` + `rope_scaling` or v5 `rope_parameters`), the stored dtype
 * (`torch_dtype` or `dtype`) and the generation defaults shared by every family.
 */

import type { DType } from '../../lib/dtype.js';
import { ArgumentError } from '../../lib/errors.js';

/** A parsed `config.json`. */
export type RawConfig = Record<string, unknown>;

/** A config key had a value of the wrong type. */
export class ConfigError extends ArgumentError {}

/** First present (not undefined/null) key among `keys`, as a number; `def` when none is present. */
export function num(raw: RawConfig, keys: string | readonly string[], def: number): number;
export function num(raw: RawConfig, keys: string | readonly string[], def: null): number | null;
export function num(raw: RawConfig, keys: string | readonly string[], def: number | null): number | null {
  for (const k of typeof keys === 'string' ? [keys] : keys) {
    const v = raw[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`config.json: '${k}' must be a number, got ${JSON.stringify(v)}`);
    return v;
  }
  return def;
}

/** Like `num`, and the value must be a positive integer. */
export function int(raw: RawConfig, keys: string | readonly string[], def: number): number {
  const v = num(raw, keys, def);
  if (!Number.isInteger(v) || v < 0) throw new ConfigError(`config.json: '${typeof keys === 'string' ? keys : keys[0]}' must be a non-negative integer, got ${v}`);
  return v;
}

/** First present key as a boolean; `def` when none is present. */
export function bool(raw: RawConfig, keys: string | readonly string[], def: boolean): boolean {
  for (const k of typeof keys === 'string' ? [keys] : keys) {
    const v = raw[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'boolean') throw new ConfigError(`config.json: '${k}' must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  return def;
}

/** A string key, or `def`. */
export function str(raw: RawConfig, key: string, def: string): string {
  const v = raw[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string') throw new ConfigError(`config.json: '${key}' must be a string, got ${JSON.stringify(v)}`);
  return v;
}

/** A token id or list of ids (eos may be a list); null when absent. */
export function tokenIds(raw: RawConfig, key: string, def: number | number[] | null): number[] | null {
  const v = raw[key] === undefined ? def : raw[key];
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v.slice();
  throw new ConfigError(`config.json: '${key}' must be a token id or a list of ids, got ${JSON.stringify(v)}`);
}

/** RoPE scaling types this library implements. */
export type RopeType = 'default' | 'linear' | 'dynamic' | 'llama3';

/** Normalised rotary settings. */
export interface RopeConfig {
  type: RopeType;
  theta: number;
  /** linear / dynamic / llama3 factor. */
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  /** llama3: original context length (falls back to max_position_embeddings, as HF v5 does). */
  originalMaxPositions: number;
  /** dynamic: the threshold length M. */
  maxPositions: number;
}

/**
 * RoPE settings: theta = rope_parameters.rope_theta ?? rope_theta ?? `defaultTheta`;
 * params = rope_parameters ?? rope_scaling ?? {}; type = rope_type ?? type ?? 'default'.
 */
export function readRope(raw: RawConfig, defaultTheta = 10000): RopeConfig {
  const params = (raw.rope_parameters ?? raw.rope_scaling ?? {}) as RawConfig;
  if (typeof params !== 'object' || Array.isArray(params)) {
    throw new ConfigError(`config.json: 'rope_parameters' / 'rope_scaling' must be an object or null, got ${JSON.stringify(params)}`);
  }
  const theta = num(params, 'rope_theta', null) ?? num(raw, 'rope_theta', defaultTheta);
  const type = (params.rope_type ?? params.type ?? 'default') as string;
  if (!['default', 'linear', 'dynamic', 'llama3'].includes(type)) {
    throw new ConfigError(`config.json: RoPE type '${type}' is not supported; expected one of default, linear, dynamic, llama3`);
  }
  const maxPositions = num(raw, 'max_position_embeddings', 2048);
  const factor = num(params, 'factor', 1);
  if (type !== 'default' && !(factor > 0)) throw new ConfigError(`config.json: RoPE '${type}' needs a positive 'factor', got ${factor}`);
  return {
    type: type as RopeType,
    theta,
    factor,
    lowFreqFactor: num(params, 'low_freq_factor', 1),
    highFreqFactor: num(params, 'high_freq_factor', 4),
    originalMaxPositions: num(params, 'original_max_position_embeddings', maxPositions),
    maxPositions,
  };
}

const DTYPE_NAMES: Record<string, DType> = {
  float32: 'float32', float: 'float32', float16: 'float16', half: 'float16', bfloat16: 'bfloat16',
};

/** The dtype the checkpoint was saved in (`dtype` in v5, `torch_dtype` in v4); null when absent or unknown. */
export function storedDType(raw: RawConfig): DType | null {
  const v = raw.dtype ?? raw.torch_dtype;
  if (typeof v !== 'string') return null;
  return DTYPE_NAMES[v.replace(/^torch\./, '')] ?? null;
}

/** Parses a dtype name as users write it ('float16', 'fp16', 'bf16', 'auto' → null = as stored). */
export function parseDType(name: string | undefined | null): DType | null {
  if (name === undefined || name === null || name === 'auto') return null;
  const aliases: Record<string, DType> = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16', ...DTYPE_NAMES };
  const d = aliases[name];
  if (!d) throw new ArgumentError(`dtype: expected one of float32, float16, bfloat16, fp32, fp16, bf16 or auto, got ${JSON.stringify(name)}`);
  return d;
}

/** Token-id settings every causal LM config carries. */
export interface SpecialTokenConfig {
  bosTokenId: number | null;
  eosTokenId: number[] | null;
  padTokenId: number | null;
}

/** bos/eos/pad ids from a config with family defaults. */
export function readSpecialTokens(raw: RawConfig, defaults: { bos: number | null; eos: number | number[] | null; pad: number | null }): SpecialTokenConfig {
  return {
    bosTokenId: tokenIds(raw, 'bos_token_id', defaults.bos)?.[0] ?? null,
    eosTokenId: tokenIds(raw, 'eos_token_id', defaults.eos),
    padTokenId: tokenIds(raw, 'pad_token_id', defaults.pad)?.[0] ?? null,
  };
}
