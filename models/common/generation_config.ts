/**
 * Generation defaults, as Hugging Face reads them: `generation_config.json` when the folder has
 * one, else bos/eos/pad from `config.json`; HF's built-in defaults for everything else.
 */

import type { RawConfig } from './config.js';
import { tokenIds } from './config.js';

/** Defaults `generate()` falls back to (camelCase of generation_config.json keys). */
export interface GenerationConfig {
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  maxNewTokens?: number;
  /** max_length: prompt + new tokens (HF's default 20 when nothing else is set). */
  maxLength?: number;
  bosTokenId?: number | null;
  eosTokenId?: number[] | null;
  padTokenId?: number | null;
}

/** Reads generation_config.json's keys (unknown keys ignored). */
export function parseGenerationConfig(raw: RawConfig): GenerationConfig {
  const out: GenerationConfig = {};
  const n = (k: string) => (typeof raw[k] === 'number' ? (raw[k] as number) : undefined);
  if (typeof raw.do_sample === 'boolean') out.doSample = raw.do_sample;
  out.temperature = n('temperature');
  out.topK = n('top_k');
  out.topP = n('top_p');
  out.repetitionPenalty = n('repetition_penalty');
  out.maxNewTokens = n('max_new_tokens');
  out.maxLength = n('max_length');
  if ('bos_token_id' in raw) out.bosTokenId = tokenIds(raw, 'bos_token_id', null)?.[0] ?? null;
  if ('eos_token_id' in raw) out.eosTokenId = tokenIds(raw, 'eos_token_id', null);
  if ('pad_token_id' in raw) out.padTokenId = tokenIds(raw, 'pad_token_id', null)?.[0] ?? null;
  for (const k of Object.keys(out) as (keyof GenerationConfig)[]) if (out[k] === undefined) delete out[k];
  return out;
}
