/**
 * Fused ops: one kernel for a pattern of ops that models run back to back, with exactly the
 * numerics of the unfused form (each intermediate rounded to the dtype as its own tensor would
 * be). They save memory passes and per-op overhead; backends without a fused kernel can
 * register one that simply composes the primitives.
 */

import { ENGINE } from '../lib/engine.js';
import { ShapeError } from '../lib/errors.js';
import type { Tensor } from '../lib/tensor.js';
import { checkFloat, checkNumber, checkTensor } from './util.js';

function sameShape(a: Tensor, b: Tensor): boolean {
  return a.rank === b.rank && a.shape.every((d, i) => d === b.shape[i]);
}

/**
 * SwiGLU: silu(gate)·up, as `mul(silu(gate), up)` computes it. With `up` omitted, `gate` holds
 * both halves along its last axis (gate first), as a fused gate|up projection produces.
 */
export function swiglu(gate: Tensor, up?: Tensor | null): Tensor {
  const op = 'swiglu';
  checkTensor(gate, op, 'gate');
  checkFloat(gate, op, 'gate');
  if (up) {
    checkTensor(up, op, 'up');
    if (up.dtype !== gate.dtype) throw new ShapeError(`${op}: 'gate' and 'up' must share a dtype, got ${gate.dtype} and ${up.dtype}`);
    if (!sameShape(gate, up)) throw new ShapeError(`${op}: 'gate' [${gate.shape}] and 'up' [${up.shape}] must have the same shape`);
    return ENGINE.run('SwiGlu', [gate, up]);
  }
  if (gate.rank === 0 || gate.shape[gate.rank - 1] % 2 !== 0) {
    throw new ShapeError(`${op}: without 'up', 'gate' must have an even last axis (gate then up), got [${gate.shape}]`);
  }
  return ENGINE.run('SwiGlu', [gate]);
}

/**
 * The pre-norm residual step: returns `[sum, normed]` with sum = x + residual (in x's dtype) and
 * normed = rmsNorm(sum, weight, eps), bit for bit what `add` then `rmsNorm` give.
 */
export function addRmsNorm(x: Tensor, residual: Tensor, weight?: Tensor | null, eps = 1e-6): [Tensor, Tensor] {
  const op = 'addRmsNorm';
  checkTensor(x, op, 'x');
  checkTensor(residual, op, 'residual');
  checkFloat(x, op, 'x');
  if (x.rank === 0) throw new ShapeError(`${op}: 'x' must have rank ≥ 1`);
  if (residual.dtype !== x.dtype || !sameShape(x, residual)) {
    throw new ShapeError(`${op}: 'residual' must match x (${x.dtype} [${x.shape}]), got ${residual.dtype} [${residual.shape}]`);
  }
  if (weight) {
    checkTensor(weight, op, 'weight');
    checkFloat(weight, op, 'weight');
    const d = x.shape[x.rank - 1];
    if (weight.rank !== 1 || weight.shape[0] !== d) throw new ShapeError(`${op}: 'weight' must have shape [${d}] (x's last axis), got [${weight.shape}]`);
  }
  checkNumber(eps, op, 'eps');
  const inputs = weight ? [x, residual, weight] : [x, residual];
  return ENGINE.runKernel('AddRmsNorm', inputs, { eps, hasWeight: !!weight }) as [Tensor, Tensor];
}
