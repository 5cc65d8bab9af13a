/**
 * `Int8Weight`: an LLM.int8 Linear weight. Int8 codes + row absmax, an outlier threshold on the
 * activations, and optional 16-bit copies of the weight columns of known outlier dimensions (the
 * paper's formulation; a checkpoint never has them, so without a copy a run-time outlier column
 * uses its dequantized int8 column, as bitsandbytes does).
 */

import { bytesPerElement, type DType } from '../../lib/dtype.js';
import { ArgumentError } from '../../lib/errors.js';
import type { Tensor } from '../../lib/tensor.js';
import { fromStorage } from '../../ops/creation.js';
import { cast } from '../../ops/elementwise.js';
import { gather } from '../../ops/nn.js';
import {
  checkInt8State, dequantizeInt8, disposeInt8State, int8Linear, quantizeInt8Rowwise, type Int8State,
} from '../../ops/quant/int8.js';
import type { LinearWeight } from '../nn/weight.js';

/** Options of an int8 weight. */
export interface Int8WeightOptions {
  /** Outlier threshold on |x| (default 6.0); 0 disables the decomposition. */
  threshold?: number;
}

/** Options of `Int8Weight.fromFloat`. */
export interface Int8FromFloatOptions extends Int8WeightOptions {
  /** Input dimensions known to carry outliers: their weight columns are kept as float16 copies. */
  outlierColumns?: readonly number[];
  /** Keep the whole weight in float16 too (`llm_int8_has_fp16_weight`): every outlier column then comes from it. */
  hasFp16Weights?: boolean;
}

/** Float16 weight columns for known outlier dimensions: sorted int32 [s] indices and [N, s] values. */
export interface OutlierCopies {
  cols: Tensor;
  weight: Tensor;
}

/** A Linear weight in LLM.int8 format. */
export class Int8Weight implements LinearWeight {
  readonly kind = 'int8';
  readonly outFeatures: number;
  readonly inFeatures: number;
  threshold: number;
  /** 0-d uint8 holding 0: the "row" layout id bitsandbytes saves as `weight_format`. */
  readonly weightFormat: Tensor;
  /** Columns that were outliers in any forward so far (filled by `calibrate`, or any call with recording on). */
  readonly observedOutliers = new Set<number>();
  /** Record run-time outlier columns into `observedOutliers`. */
  recordOutliers = false;
  private copies: OutlierCopies | null = null;
  private fp16Weight: Tensor | null = null;
  /** int32 [K] 0…K−1, with `fp16Weight`: every column has a 16-bit copy. */
  private allCols: Tensor | null = null;

  /** Wraps an int8 state (the weight owns its tensors from now on). */
  constructor(readonly state: Int8State, opts: Int8WeightOptions = {}) {
    checkInt8State(state, 'Int8Weight');
    [this.outFeatures, this.inFeatures] = state.weight.shape;
    this.threshold = opts.threshold ?? 6.0;
    if (!(this.threshold >= 0)) throw new ArgumentError(`Int8Weight: 'threshold' must be a number ≥ 0, got ${opts.threshold}`);
    this.weightFormat = fromStorage(new Uint8Array([0]), [], 'uint8');
  }

  /** Quantizes a float weight [out, in] row-wise (through float16, as bitsandbytes). */
  static fromFloat(weight: Tensor, opts: Int8FromFloatOptions = {}): Int8Weight {
    const w = new Int8Weight(quantizeInt8Rowwise(weight), opts);
    if (opts.hasFp16Weights) {
      w.fp16Weight = cast(weight, 'float16');
      w.allCols = fromStorage(Int32Array.from({ length: w.inFeatures }, (_, i) => i), [w.inFeatures], 'int32');
    }
    else if (opts.outlierColumns?.length) w.setOutlierCopies(weight, opts.outlierColumns);
    return w;
  }

  /** Stores float16 copies of `weight`'s columns `cols` (replacing earlier copies). */
  setOutlierCopies(weight: Tensor, cols: readonly number[]): void {
    if (weight.rank !== 2 || weight.shape[0] !== this.outFeatures || weight.shape[1] !== this.inFeatures) {
      throw new ArgumentError(`Int8Weight.setOutlierCopies: 'weight' must be [${this.outFeatures}, ${this.inFeatures}], got [${weight.shape}]`);
    }
    const sorted = [...new Set(cols)].sort((a, b) => a - b);
    for (const c of sorted) {
      if (!Number.isInteger(c) || c < 0 || c >= this.inFeatures) {
        throw new ArgumentError(`Int8Weight.setOutlierCopies: column ${c} is not an integer in [0, ${this.inFeatures})`);
      }
    }
    this.clearOutlierCopies();
    if (!sorted.length) return;
    const idx = fromStorage(Int32Array.from(sorted), [sorted.length], 'int32');
    const g = gather(weight, idx, 1);
    const w16 = g.dtype === 'float16' ? g : cast(g, 'float16');
    if (w16 !== g) g.dispose();
    this.copies = { cols: idx, weight: w16 };
  }

  /** Drops the float16 outlier copies. */
  clearOutlierCopies(): void {
    if (!this.copies) return;
    this.copies.cols.dispose();
    this.copies.weight.dispose();
    this.copies = null;
  }

  /** Sorted columns that have a float16 copy. */
  get outlierColumns(): number[] {
    if (this.fp16Weight) return Array.from({ length: this.inFeatures }, (_, i) => i);
    return this.copies ? Array.from(this.copies.cols.dataSync()) : [];
  }

  /** Whether the whole float16 weight is kept (`hasFp16Weights`). */
  get hasFp16Weights(): boolean {
    return this.fp16Weight !== null;
  }

  matmulT(x: Tensor): Tensor {
    return this.linear(x, null);
  }

  /** LLM.int8 forward with the bias fused into the int8 part (added once, before its float16 rounding). */
  linear(x: Tensor, bias: Tensor | null): Tensor {
    return int8Linear(x, this.state, {
      threshold: this.threshold,
      bias,
      outlierCols: this.fp16Weight ? this.allCols : (this.copies?.cols ?? null),
      outlierWeight: this.fp16Weight ?? this.copies?.weight ?? null,
      onOutliers: this.recordOutliers ? (c) => c.dataSync().forEach((k) => this.observedOutliers.add(k)) : undefined,
    });
  }

  dequantize(dtype: DType = 'float32'): Tensor {
    return dequantizeInt8(this.state, { dtype });
  }

  /** The bitsandbytes keys: weight (int8 CB), SCB, weight_format (0-d uint8 = 0). */
  stateTensors(): Record<string, Tensor> {
    return { weight: this.state.weight, SCB: this.state.scb, weight_format: this.weightFormat };
  }

  /** Everything stored: codes, row scales, the format byte, and any float16 copies. */
  byteSize(): number {
    let n = this.state.weight.size + this.state.scb.size * 4 + this.weightFormat.size;
    for (const t of [this.copies?.cols, this.copies?.weight, this.fp16Weight, this.allCols]) if (t) n += t.size * bytesPerElement(t.dtype);
    return n;
  }

  dispose(): void {
    disposeInt8State(this.state);
    this.weightFormat.dispose();
    this.clearOutlierCopies();
    this.fp16Weight?.dispose();
    this.allCols?.dispose();
  }
}
