/** Activation functions by their Hugging Face config names. */

import { ArgumentError } from '../../lib/errors.js';
import type { Tensor } from '../../lib/tensor.js';
import { gelu, relu, silu } from '../../ops/elementwise.js';

/** An elementwise activation. */
export type Activation = (x: Tensor) => Tensor;

const ACTIVATIONS: Record<string, Activation> = {
  silu,
  swish: silu,
  relu,
  gelu: (x) => gelu(x),
  gelu_new: (x) => gelu(x, { approximate: 'tanh' }),
  gelu_pytorch_tanh: (x) => gelu(x, { approximate: 'tanh' }),
  gelu_fast: (x) => gelu(x, { approximate: 'tanh' }),
};

/** The activation a config names (`hidden_act`, `activation`, `activation_function`). */
export function activation(name: string, key: string): Activation {
  const fn = ACTIVATIONS[name];
  if (!fn) throw new ArgumentError(`config.json: '${key}' = ${JSON.stringify(name)} is not supported; expected one of ${Object.keys(ACTIVATIONS).join(', ')}`);
  return fn;
}
