/**
 * Checkpoint glue for quantized models: the `quantization_config` block of config.json (written
 * like transformers: json.dumps(indent=2, sort_keys=True)), the state dict with bitsandbytes key
 * names, and replacing a model's Linear weights from checkpoint tensors.
 */

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
 * (see `linearWeightFromState`); dense ones are left alone. Returns the replaced module paths.
 * The replaced float weights are disposed; the new weights own the tensors `getTensor` returns.
 */
export function loadQuantizedLinears(
  model: Module, getTensor: GetTensor, keys: ReadonlySet<string>, config?: BitsAndBytesConfig | Record<string, unknown> | null,
): string[] {
  const done: string[] = [];
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof Linear) || linearFormatFromKeys(path, keys) === 'dense') continue;
    const w = linearWeightFromState(path, getTensor, keys, config);
    m.weight.dispose();
    m.weight = w;
    done.push(path);
  }
  return done;
}

/** The model's tensors under bitsandbytes key names (quantized Linears contribute their own keys). */
export function quantizedStateDict(model: Module, prefix = ''): Map<string, Tensor> {
  return model.stateDict(prefix);
}
