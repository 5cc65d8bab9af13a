/**
 * Checkpoint glue for quantized models: the `quantization_config` block of config.json (written
 * like transformers: json.dumps(indent=2, sort_keys=True)), the state dict with bitsandbytes key
 * names, saving, and replacing a model's Linear weights from checkpoint tensors.
 */

import { saveSafetensors } from '../../lib/safetensors.js';
import type { Tensor } from '../../lib/tensor.js';
import { Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import type { BitsAndBytesConfig } from './config.js';
import { pyFloat, pyJsonDumps, type PyJsonValue } from './pyjson.js';
import { linearFormatFromKeys, linearWeightFromState, type GetTensor } from './state.js';

/** Keys of `quantization_config` that transformers requires to be floats. */
const FLOAT_KEYS = new Set(['llm_int8_threshold']);

/** `modelConfig` (a parsed config.json) with `quantization_config` set from `config`. */
export function withQuantizationConfig(modelConfig: Record<string, unknown>, config: BitsAndBytesConfig): Record<string, unknown> {
  return { ...modelConfig, quantization_config: config.toJSON() };
}

function toPy(v: unknown, key = ''): PyJsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return FLOAT_KEYS.has(key) || !Number.isInteger(v) ? pyFloat(v) : v;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((x) => toPy(x));
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v as object).map(([k, x]) => [k, toPy(x, k)]));
  return String(v);
}

/**
 * A config.json text as transformers writes it (`json.dumps(indent=2, sort_keys=True) + "\n"`).
 * Integers are written as ints, other numbers as Python floats, `llm_int8_threshold` always as a float.
 */
export function configJsonString(modelConfig: Record<string, unknown>): string {
  return pyJsonDumps(toPy(modelConfig), { indent: 2, sortKeys: true }) + '\n';
}

/**
 * Replaces the weight of every Linear in `model` whose checkpoint keys say it is quantized
 * (see `linearWeightFromState`); dense ones are left alone. The replaced float weights are
 * disposed. The new weights share the data of the tensors `getTensor` returns; the caller still
 * owns (and disposes) those. Returns the module paths replaced.
 */
export function loadQuantizedLinears(
  model: Module, getTensor: GetTensor, keys: ReadonlySet<string>, config?: BitsAndBytesConfig | Record<string, unknown> | null,
): string[] {
  const out: string[] = [];
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof Linear) || linearFormatFromKeys(path, keys) === 'dense') continue;
    const w = linearWeightFromState(path, getTensor, keys, config);
    m.weight.dispose();
    m.weight = w;
    out.push(path);
  }
  return out;
}

/**
 * The tensors to save for a model, by bitsandbytes key name; storage shared by several names (tied
 * weights) is written once, under its first name, as transformers does.
 */
export function quantizedStateDict(model: Module, prefix = ''): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const seen = new Set<unknown>();
  for (const [k, t] of model.stateDict(prefix)) {
    if (seen.has(t.dataId)) continue;
    seen.add(t.dataId);
    out.set(k, t);
  }
  return out;
}

/** Options of `saveQuantizedModel`. */
export interface SaveQuantizedOptions {
  /** The model's config.json object; default: the folder's existing config.json, else `{}`. */
  modelConfig?: Record<string, unknown>;
  /** safetensors `__metadata__` (default `{ format: 'pt' }`, as transformers). */
  metadata?: Record<string, string>;
}

/**
 * Saves a (quantized) model the way transformers' `save_pretrained` does: `model.safetensors`
 * with bitsandbytes key names and dtypes, tied weights once, and `config.json` with the
 * `quantization_config` block of `config`. Node only (uses the file system).
 */
export async function saveQuantizedModel(dir: string, model: Module, config: BitsAndBytesConfig, opts: SaveQuantizedOptions = {}): Promise<void> {
  const fsName = 'node:fs/promises';
  const pathName = 'node:path';
  const fs = (await import(/* webpackIgnore: true */ /* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
  const path = (await import(/* webpackIgnore: true */ /* @vite-ignore */ pathName)) as typeof import('node:path');
  await fs.mkdir(dir, { recursive: true });
  let base = opts.modelConfig;
  if (!base) {
    try {
      base = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      base = {};
    }
  }
  await saveSafetensors(path.join(dir, 'model.safetensors'), quantizedStateDict(model), opts.metadata ?? { format: 'pt' });
  await fs.writeFile(path.join(dir, 'config.json'), configJsonString(withQuantizationConfig(base, config)));
}
