/** Basic layers: Linear, Embedding, RMSNorm, LayerNorm. Fields are named like checkpoint keys. */

import { ShapeError } from '../../lib/errors.js';
import type { Tensor } from '../../lib/tensor.js';
import { add, cast } from '../../ops/elementwise.js';
import { embedding, layerNorm, rmsNorm } from '../../ops/nn.js';
import { Module } from './module.js';
import { DenseWeight, type LinearWeight } from './weight.js';

/** y = x·Wᵀ + b with W [out, in]; W may be dense or quantized (see LinearWeight). */
export class Linear extends Module {
  /** [out, in] */
  weight: LinearWeight;
  /** [out] or null */
  bias: Tensor | null;

  constructor(weight: LinearWeight | Tensor, bias: Tensor | null = null) {
    super();
    this.weight = 'matmulT' in weight ? weight : new DenseWeight(weight);
    if (bias && (bias.rank !== 1 || bias.shape[0] !== this.weight.outFeatures)) {
      throw new ShapeError(`Linear: bias must be [${this.weight.outFeatures}], got [${bias.shape}]`);
    }
    this.bias = bias;
  }

  get inFeatures(): number {
    return this.weight.inFeatures;
  }

  get outFeatures(): number {
    return this.weight.outFeatures;
  }

  forward(x: Tensor): Tensor {
    if (this.weight.linear) return this.weight.linear(x, this.bias);
    const y = this.weight.matmulT(x);
    if (!this.bias) return y;
    const b = this.bias.dtype === y.dtype ? this.bias : cast(this.bias, y.dtype);
    const out = add(y, b);
    y.dispose();
    if (b !== this.bias) b.dispose();
    return out;
  }
}

/** Token embedding table [vocab, dim]. */
export class Embedding extends Module {
  constructor(public weight: Tensor) {
    super();
  }

  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}

/** RMSNorm with a [dim] weight (Hugging Face numerics). */
export class RMSNorm extends Module {
  constructor(public weight: Tensor, readonly eps = 1e-6) {
    super();
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/** LayerNorm with optional [dim] weight and bias. */
export class LayerNorm extends Module {
  constructor(public weight: Tensor | null, public bias: Tensor | null, readonly eps = 1e-5) {
    super();
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
