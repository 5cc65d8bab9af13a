/**
 * Calibration for LLM.int8: run a model's forward on sample inputs and record, per Linear, the
 * input dimensions (columns) where some activation reaches the outlier threshold. The result
 * feeds `quantizeModel(…, { outlierColumns })` / `Linear8bitLt.fromFloat(…, { outlierColumns })`,
 * which keep float16 copies of those weight columns (the LLM.int8 paper's formulation).
 */

import { ENGINE, type TensorContainer } from '../../lib/engine.js';
import { ArgumentError } from '../../lib/errors.js';
import { F16_TO_F32, numberToF16Bits } from '../../lib/float16.js';
import { Tensor } from '../../lib/tensor.js';
import { abs } from '../../ops/elementwise.js';
import { max } from '../../ops/reduce.js';
import { Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { Int8Weight } from './int8_weight.js';

/** Outlier input columns per Linear module path, sorted. */
export type OutlierColumns = Map<string, number[]>;

/** Options of `calibrate`. */
export interface CalibrateOptions {
  /** Threshold for float Linear layers (default 6.0); Int8 layers use their own. */
  threshold?: number;
  /** How to run the model on one input (default: `model.forward(input)`); what it returns is disposed. */
  run?: (model: Module, input: unknown) => unknown;
}

/**
 * Runs the model on every input and returns, for each Linear, the sorted columns k for which some
 * |x[…, k]| (rounded to float16, as LLM.int8 decides) ≥ threshold. Int8 layers also add them to
 * their `observedOutliers`. Layers are found with `namedModules()`; hooks are removed afterwards.
 */
export function calibrate(model: Module, inputs: readonly unknown[], opts: CalibrateOptions = {}): OutlierColumns {
  const threshold = opts.threshold ?? 6.0;
  if (typeof threshold !== 'number' || !(threshold > 0)) throw new ArgumentError(`calibrate: 'threshold' must be a number > 0, got ${threshold}`);
  const run = opts.run ?? ((m: Module, input: unknown) => {
    const f = (m as unknown as { forward?: (x: unknown) => unknown }).forward;
    if (typeof f !== 'function') throw new ArgumentError(`calibrate: the model has no forward(input); pass opts.run`);
    return f.call(m, input);
  });
  const found = new Map<string, Set<number>>();
  const hooked: Linear[] = [];
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof Linear)) continue;
    const set = new Set<number>();
    found.set(path, set);
    const thr = m.weight instanceof Int8Weight && m.weight.threshold > 0 ? m.weight.threshold : threshold;
    const original = m.forward;
    hooked.push(m);
    m.forward = function (this: Linear, x: Tensor): Tensor {
      recordColumns(x, thr, set);
      if (this.weight instanceof Int8Weight) for (const k of set) this.weight.observedOutliers.add(k);
      return original.call(this, x);
    };
  }
  try {
    for (const input of inputs) {
      const out = run(model, input);
      disposeResult(out);
    }
  } finally {
    for (const m of hooked) delete (m as { forward?: unknown }).forward;
  }
  const result: OutlierColumns = new Map();
  for (const [path, set] of found) result.set(path, [...set].sort((a, b) => a - b));
  return result;
}

/** Adds to `set` the columns of x (…, K) whose max |x| rounds (float16) to ≥ threshold. */
function recordColumns(x: Tensor, threshold: number, set: Set<number>): void {
  const K = x.shape[x.rank - 1];
  const x2 = ENGINE.makeView(x, [x.size / K, K]);
  const a = abs(x2);
  const m = max(a, 0);
  try {
    const v = m.dataSync();
    for (let k = 0; k < K; k++) if (F16_TO_F32[numberToF16Bits(v[k])] >= threshold) set.add(k);
  } finally {
    x2.dispose();
    a.dispose();
    m.dispose();
  }
}

function disposeResult(out: unknown): void {
  const seen = new Set<Tensor>();
  const walk = (v: unknown) => {
    if (v instanceof Tensor) seen.add(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) Object.values(v).forEach(walk);
  };
  walk(out as TensorContainer);
  for (const t of seen) t.dispose();
}
