/**
 * Linear weights. Quantization is a property of the weight, not a parallel copy of the model: a
 * Linear holds a `LinearWeight` that may be dense (fp32/fp16/bf16), LLM.int8 or 4-bit, and the
 * product x·Wᵀ runs the kernel that fits it.
 */

import { bytesPerElement, type DType } from '../../lib/dtype.js';
import { ShapeError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import { cast } from '../../ops/elementwise.js';
import { matmul } from '../../ops/linalg.js';

/** A Linear layer's weight W [outFeatures, inFeatures], in whatever storage format. */
export interface LinearWeight {
  /** 'dense', 'int8', 'nf4', 'fp4', … */
  readonly kind: string;
  readonly outFeatures: number;
  readonly inFeatures: number;
  /** x (…, in) · Wᵀ → (…, out), in x's dtype. */
  matmulT(x: Tensor): Tensor;
  /**
   * Optional fused x·Wᵀ + bias, for formats whose reference adds the bias inside the product (before
   * a rounding step); `Linear.forward` prefers it when present.
   */
  linear?(x: Tensor, bias: Tensor | null): Tensor;
  /** W as a dense tensor (a copy, in `dtype`, default the weight's natural float dtype). */
  dequantize(dtype?: DType): Tensor;
  /** The tensors this weight is saved as, keyed by suffix relative to the module (`weight`, `SCB`, `weight.absmax`, …). */
  stateTensors(): Record<string, Tensor>;
  /** Bytes of everything stored. */
  byteSize(): number;
  dispose(): void;
}

/** True for objects implementing LinearWeight. */
export function isLinearWeight(v: unknown): v is LinearWeight {
  return !!v && typeof v === 'object' && typeof (v as LinearWeight).matmulT === 'function' && typeof (v as LinearWeight).stateTensors === 'function';
}

/** A plain float weight. */
export class DenseWeight implements LinearWeight {
  readonly kind = 'dense';
  readonly outFeatures: number;
  readonly inFeatures: number;

  constructor(readonly tensor: Tensor) {
    if (tensor.rank !== 2) throw new ShapeError(`Linear weight must be [out, in], got [${tensor.shape}]`);
    [this.outFeatures, this.inFeatures] = tensor.shape;
  }

  matmulT(x: Tensor): Tensor {
    if (x.dtype === this.tensor.dtype) return matmul(x, this.tensor, { transposeB: true });
    const y = matmul(x, this.tensor, { transposeB: true });
    if (y.dtype === x.dtype) return y;
    const out = cast(y, x.dtype);
    y.dispose();
    return out;
  }

  dequantize(dtype?: DType): Tensor {
    return cast(this.tensor, dtype ?? this.tensor.dtype);
  }

  stateTensors(): Record<string, Tensor> {
    return { weight: this.tensor };
  }

  byteSize(): number {
    return this.tensor.size * bytesPerElement(this.tensor.dtype);
  }

  dispose(): void {
    this.tensor.dispose();
  }
}
