/**
 * The bridge to the model loader: a weight transform that quantizes each Linear weight as it is
 * read (following the config's module selection) and rebuilds pre-quantized Linears from their
 * bitsandbytes companion tensors. Structurally it is the loader's `WeightTransform`.
 */

import type { Tensor } from '../../lib/tensor.js';
import type { LinearWeight } from '../nn/weight.js';
import type { OutlierColumns } from './calibrate.js';
import type { BitsAndBytesConfig } from './config.js';
import { Int8Weight } from './int8_weight.js';
import { Quant4Weight } from './quant4_weight.js';
import { DEFAULT_SKIP_MODULES, isSkippedModule } from './quantize_model.js';
import { linearWeightFromState } from './state.js';

/** Key suffixes (relative to a Linear module) a pre-quantized bitsandbytes checkpoint may hold beside `weight`. */
export const BNB_COMPANION_SUFFIXES: readonly string[] = [
  'SCB', 'weight_format', 'weight.absmax', 'weight.quant_map', 'weight.nested_absmax', 'weight.nested_quant_map',
  'weight.quant_state.bitsandbytes__nf4', 'weight.quant_state.bitsandbytes__fp4',
];

/** What the model loader asks of a quantization config (names are parameter names, `<module>.weight`). */
export interface QuantWeightTransform {
  companionSuffixes: readonly string[];
  /** Quantizes a freshly read dense Linear weight, or returns null to keep it dense (skipped modules). */
  quantize(name: string, weight: Tensor): LinearWeight | null;
  /** Builds a pre-quantized Linear's weight from its tensors by suffix (`weight`, `SCB`, …); the caller keeps ownership of them. */
  fromPrequantized(name: string, tensors: Record<string, Tensor>): LinearWeight;
  /** True when the Linear's companions say it was saved quantized. */
  isPrequantized(name: string, has: (suffix: string) => boolean): boolean;
}

/** Options of `bnbWeightTransform`. */
export interface WeightTransformOptions {
  /** 8-bit: outlier columns per module path, for float16 copies (from `calibrate`). */
  outlierColumns?: OutlierColumns;
}

const modulePath = (name: string) => (name.endsWith('.weight') ? name.slice(0, -'.weight'.length) : name);

/** The loader's weight transform for `config` (see `QuantWeightTransform`). */
export function bnbWeightTransform(config: BitsAndBytesConfig, opts: WeightTransformOptions = {}): QuantWeightTransform {
  config.validate();
  const skip = config.llmInt8SkipModules ?? DEFAULT_SKIP_MODULES;
  return {
    companionSuffixes: BNB_COMPANION_SUFFIXES,
    quantize(name, weight) {
      const path = modulePath(name);
      if (!config.isQuantizable() || weight.rank !== 2 || isSkippedModule(path, skip)) return null;
      if (config.loadIn8bit) {
        return Int8Weight.fromFloat(weight, {
          threshold: config.llmInt8Threshold,
          outlierColumns: opts.outlierColumns?.get(path),
          hasFp16Weights: config.llmInt8HasFp16Weight,
        });
      }
      return Quant4Weight.fromFloat(weight, {
        quantType: config.bnb4bitQuantType,
        blocksize: 64,
        doubleQuant: config.bnb4bitUseDoubleQuant,
        computeDtype: config.bnb4bitComputeDtype,
        quantStorage: config.bnb4bitQuantStorage,
      });
    },
    fromPrequantized(name, tensors) {
      const path = modulePath(name);
      const keys = new Set(Object.keys(tensors).map((s) => `${path}.${s}`));
      return linearWeightFromState(path, (k) => tensors[k.slice(path.length + 1)], keys, config);
    },
    isPrequantized(_name, has) {
      return has('SCB') || has('weight.quant_state.bitsandbytes__nf4') || has('weight.quant_state.bitsandbytes__fp4');
    },
  };
}
