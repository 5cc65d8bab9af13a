/**
 * `quantizeModel`: swaps the weights of a model's Linear layers for quantized ones, in place,
 * following transformers' module selection (docs/quantization.md §4.2).
 */

import { ArgumentError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import { Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { DenseWeight } from '../nn/weight.js';
import { calibrate, type CalibrateOptions, type OutlierColumns } from './calibrate.js';
import type { BitsAndBytesConfig } from './config.js';
import { Int8Weight } from './int8_weight.js';
import { Quant4Weight } from './quant4_weight.js';

/** Modules transformers leaves unquantized when the user gives no skip list. */
export const DEFAULT_SKIP_MODULES: readonly string[] = ['lm_head'];

/** Options of `quantizeModel`. */
export interface QuantizeModelOptions {
  /** 8-bit: outlier columns per Linear path (from `calibrate`): float16 copies of those weight columns are kept. */
  outlierColumns?: OutlierColumns;
  /** 8-bit: calibrate on these inputs first (on the float model), adding to `outlierColumns`. */
  calibrationInputs?: readonly unknown[];
  /** How calibration runs the model on one input (default `model.forward(input)`). */
  run?: CalibrateOptions['run'];
}

/** What `quantizeModel` did, by module path. */
export interface QuantizeReport {
  quantized: string[];
  /** Linear layers left alone, with the reason. */
  skipped: { path: string; reason: string }[];
}

/**
 * Whether module `path` is matched by a skip list: an entry equal to the full dotted path, equal
 * to its last component, or contained as `entry + "."` in the path (transformers' rules).
 */
export function isSkippedModule(path: string, skip: readonly string[]): boolean {
  const last = path.slice(path.lastIndexOf('.') + 1);
  return skip.some((e) => e === path || e === last || path.includes(e + '.'));
}

/**
 * Quantizes, in place, every `Linear` with a dense weight found by `model.namedModules()`, except
 * skipped modules: `config.llmInt8SkipModules` when given (it replaces the default), else `lm_head`;
 * and always a Linear whose weight tensor is shared with another parameter (tied weights), since
 * quantizing it would break the tie. Each replaced float weight is disposed.
 */
export function quantizeModel(model: Module, config: BitsAndBytesConfig, opts: QuantizeModelOptions = {}): QuantizeReport {
  config.validate();
  if (!config.isQuantizable()) throw new ArgumentError('quantizeModel: the config has neither loadIn8bit nor loadIn4bit set');
  const skip = config.llmInt8SkipModules ?? DEFAULT_SKIP_MODULES;
  const outliers: OutlierColumns = new Map(opts.outlierColumns ?? []);
  if (opts.calibrationInputs?.length) {
    if (!config.loadIn8bit) throw new ArgumentError('quantizeModel: calibrationInputs only apply to 8-bit (loadIn8bit) quantization');
    const found = calibrate(model, opts.calibrationInputs, { threshold: config.llmInt8Threshold || 6.0, run: opts.run });
    for (const [p, cols] of found) outliers.set(p, [...new Set([...(outliers.get(p) ?? []), ...cols])].sort((a, b) => a - b));
  }
  // Storage shared by more than one parameter name = tied weights.
  const uses = new Map<unknown, number>();
  for (const [, p] of model.namedParameters()) {
    const key = p instanceof Tensor ? p.dataId : p instanceof DenseWeight ? p.tensor.dataId : p;
    uses.set(key, (uses.get(key) ?? 0) + 1);
  }
  const report: QuantizeReport = { quantized: [], skipped: [] };
  const done = new Set<Linear>();
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof Linear) || done.has(m)) continue;
    done.add(m);
    const w = m.weight;
    if (!(w instanceof DenseWeight)) {
      report.skipped.push({ path, reason: `weight is already ${w.kind}` });
      continue;
    }
    if (isSkippedModule(path, skip)) {
      report.skipped.push({ path, reason: 'in the skip list' });
      continue;
    }
    if ((uses.get(w.tensor.dataId) ?? 0) > 1) {
      report.skipped.push({ path, reason: 'tied weight (shared with another parameter)' });
      continue;
    }
    m.weight = config.loadIn8bit
      ? Int8Weight.fromFloat(w.tensor, {
          threshold: config.llmInt8Threshold,
          outlierColumns: outliers.get(path),
          hasFp16Weights: config.llmInt8HasFp16Weight,
        })
      : Quant4Weight.fromFloat(w.tensor, {
          quantType: config.bnb4bitQuantType,
          blocksize: 64,
          doubleQuant: config.bnb4bitUseDoubleQuant,
          computeDtype: config.bnb4bitComputeDtype,
          quantStorage: config.bnb4bitQuantStorage,
        });
    w.dispose();
    report.quantized.push(path);
  }
  return report;
}
