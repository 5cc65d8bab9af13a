/**
 * Basic layers: Linear, Embedding, RMSNorm, LayerNorm. Fields are named like checkpoint keys.
 * Each layer can be built from its values, or declared from sizes alone (`Linear.declare`, …) and
 * filled later by a loader through `setParameter`.
 */

import { ArgumentError, ShapeError } from '../../lib/errors.js';
import { Tensor } from '../../lib/tensor.js';
import { add, cast } from '../../ops/elementwise.js';
import { embedding, layerNorm, rmsNorm } from '../../ops/nn.js';
import { Module, type Parameter } from './module.js';
import { DenseWeight, isLinearWeight, type LinearWeight } from './weight.js';

function notLoaded(layer: string, field: string): never {
  throw new ArgumentError(`${layer}: parameter '${field}' was declared but never loaded`);
}

/** y = x·Wᵀ + b with W [out, in]; W may be dense or quantized (see LinearWeight). */
export class Linear extends Module {
  /** [out, in] */
  weight!: LinearWeight;
  /** [out] or null */
  bias: Tensor | null = null;
  private readonly dims: [number, number];

  constructor(weight: LinearWeight | Tensor, bias: Tensor | null = null) {
    super();
    this.weight = isLinearWeight(weight) ? weight : new DenseWeight(weight);
    this.dims = [this.weight.outFeatures, this.weight.inFeatures];
    if (bias && (bias.rank !== 1 || bias.shape[0] !== this.weight.outFeatures)) {
      throw new ShapeError(`Linear: bias must be [${this.weight.outFeatures}], got [${bias.shape}]`);
    }
    this.bias = bias;
  }

  /** A Linear of the given sizes whose weight (and bias) a loader fills later. */
  static declare(inFeatures: number, outFeatures: number, opts: { bias?: boolean; tiedTo?: string } = {}): Linear {
    const l = Object.create(Linear.prototype) as Linear;
    Object.defineProperty(l, 'dims', { value: [outFeatures, inFeatures], enumerable: false });
    l.bias = null;
    l.declareParameter('weight', [outFeatures, inFeatures], { linear: true, tiedTo: opts.tiedTo });
    if (opts.bias) l.declareParameter('bias', [outFeatures]);
    return l;
  }

  get inFeatures(): number {
    return this.dims[1];
  }

  get outFeatures(): number {
    return this.dims[0];
  }

  override setParameter(field: string, value: Parameter): void {
    super.setParameter(field, field === 'weight' && value instanceof Tensor ? new DenseWeight(value) : value);
  }

  forward(x: Tensor): Tensor {
    if (!this.weight) notLoaded('Linear', 'weight');
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
  weight!: Tensor;

  constructor(weight: Tensor | readonly [number, number]) {
    super();
    if (weight instanceof Tensor) this.weight = weight;
    else this.declareParameter('weight', weight);
  }

  forward(ids: Tensor): Tensor {
    if (!this.weight) notLoaded('Embedding', 'weight');
    return embedding(this.weight, ids);
  }
}

/** RMSNorm with a [dim] weight (Hugging Face numerics). */
export class RMSNorm extends Module {
  weight!: Tensor;

  constructor(weight: Tensor | number, readonly eps = 1e-6) {
    super();
    if (weight instanceof Tensor) this.weight = weight;
    else this.declareParameter('weight', [weight]);
  }

  forward(x: Tensor): Tensor {
    if (!this.weight) notLoaded('RMSNorm', 'weight');
    return rmsNorm(x, this.weight, this.eps);
  }
}

/** LayerNorm with optional [dim] weight and bias. */
export class LayerNorm extends Module {
  weight: Tensor | null = null;
  bias: Tensor | null = null;

  /**
   * From values (`weight`, `bias`, either may be null), or declared by size: `new LayerNorm(dim,
   * { affine, eps })` declares weight and bias unless `affine` is false.
   */
  constructor(weight: Tensor | null | number, bias: Tensor | null | { affine?: boolean; bias?: boolean } = null, readonly eps = 1e-5) {
    super();
    if (typeof weight === 'number') {
      const o = (bias ?? {}) as { affine?: boolean; bias?: boolean };
      if (o.affine ?? true) {
        this.declareParameter('weight', [weight]);
        if (o.bias ?? true) this.declareParameter('bias', [weight]);
      }
    } else {
      this.weight = weight;
      this.bias = bias instanceof Tensor ? bias : null;
    }
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
