/**
 * Quantized Linear layers. Both are the one `Linear` class holding a quantized `LinearWeight`;
 * these subclasses only add the `fromFloat` factories and typed access to the weight.
 */

import type { DType } from '../../lib/dtype.js';
import { ArgumentError } from '../../lib/errors.js';
import type { Tensor } from '../../lib/tensor.js';
import type { QuantType } from '../../lib/quant_codes.js';
import { Linear } from '../nn/layers.js';
import { Int8Weight, type Int8FromFloatOptions } from './int8_weight.js';
import { Quant4Weight, type QuantStorage } from './quant4_weight.js';

/** LLM.int8 Linear: `y = x·Wᵀ + b` with W in int8 and outlier input dimensions in 16 bits. */
export class Linear8bitLt extends Linear {
  constructor(weight: Int8Weight, bias: Tensor | null = null) {
    if (!(weight instanceof Int8Weight)) throw new ArgumentError(`Linear8bitLt: 'weight' must be an Int8Weight, got ${String(weight)}`);
    super(weight, bias);
  }

  /**
   * Quantizes a float weight [out, in] (the float tensors stay the caller's: dispose them when no
   * longer needed; `bias` is used as given). Options: `threshold` (default 6.0), `outlierColumns`
   * (input dimensions whose weight columns keep float16 copies), `hasFp16Weights`.
   */
  static fromFloat(weight: Tensor, bias: Tensor | null = null, opts: Int8FromFloatOptions = {}): Linear8bitLt {
    return new Linear8bitLt(Int8Weight.fromFloat(weight, opts), bias);
  }

  /** The int8 weight. */
  get int8(): Int8Weight {
    return this.weight as Int8Weight;
  }

  /** Outlier threshold on |x|. */
  get threshold(): number {
    return this.int8.threshold;
  }

  set threshold(t: number) {
    if (!(t >= 0)) throw new ArgumentError(`Linear8bitLt: 'threshold' must be a number ≥ 0, got ${t}`);
    this.int8.threshold = t;
  }
}

/** Options of `Linear4bit.fromFloat`. */
export interface Linear4bitOptions {
  /** 'fp4' (default, as BitsAndBytesConfig) or 'nf4'. */
  quantType?: QuantType;
  /** Elements per absmax block (default 64). */
  blocksize?: number;
  /** Double-quantize the absmax values (default false). */
  doubleQuant?: boolean;
  /** Matmul dtype (default float32). */
  computeDtype?: DType;
  /** Container dtype when saved (default uint8). */
  quantStorage?: QuantStorage;
}

/** 4-bit Linear (QLoRA): W in FP4/NF4 blocks, dequantized block by block inside the matmul. */
export class Linear4bit extends Linear {
  constructor(weight: Quant4Weight, bias: Tensor | null = null) {
    if (!(weight instanceof Quant4Weight)) throw new ArgumentError(`Linear4bit: 'weight' must be a Quant4Weight, got ${String(weight)}`);
    super(weight, bias);
  }

  /** Quantizes a float weight [out, in]; the float tensors stay the caller's. */
  static fromFloat(weight: Tensor, bias: Tensor | null = null, opts: Linear4bitOptions = {}): Linear4bit {
    return new Linear4bit(Quant4Weight.fromFloat(weight, opts), bias);
  }

  /** The 4-bit weight. */
  get quant4(): Quant4Weight {
    return this.weight as Quant4Weight;
  }

  get computeDtype(): DType {
    return this.quant4.computeDtype;
  }
}
