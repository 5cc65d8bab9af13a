/** Elementwise ops: unary math, broadcasting binary math and comparisons, where, cast. */

import { assertDType, isFloat, promoteTypes, type DType } from '../lib/dtype.js';
import { ENGINE } from '../lib/engine.js';
import { ArgumentError, DTypeError } from '../lib/errors.js';
import type { BinaryKernel, UnaryKernel } from '../lib/kernel_names.js';
import { broadcastShapes, describe } from '../lib/shape.js';
import { Tensor } from '../lib/tensor.js';
import { checkFloat, checkOptions, checkTensor, scalarLike } from './util.js';

function unaryFloat(kernel: UnaryKernel, op: string) {
  return (x: Tensor): Tensor => {
    checkTensor(x, op, 'x');
    checkFloat(x, op, 'x');
    return ENGINE.run(kernel, [x], { dtype: x.dtype });
  };
}

/** −x. */
export function neg(x: Tensor): Tensor {
  checkTensor(x, 'neg', 'x');
  if (x.dtype === 'bool') throw new DTypeError(`neg: 'x' must be numeric, got bool (use logicalNot)`);
  return ENGINE.run('Neg', [x], { dtype: x.dtype });
}

/** |x|. */
export function abs(x: Tensor): Tensor {
  checkTensor(x, 'abs', 'x');
  if (x.dtype === 'bool') throw new DTypeError(`abs: 'x' must be numeric, got bool`);
  return ENGINE.run('Abs', [x], { dtype: x.dtype });
}

/** eˣ. */
export const exp = unaryFloat('Exp', 'exp');
/** Natural logarithm. */
export const log = unaryFloat('Log', 'log');
/** √x. */
export const sqrt = unaryFloat('Sqrt', 'sqrt');
/** 1/√x. */
export const rsqrt = unaryFloat('Rsqrt', 'rsqrt');
/** Hyperbolic tangent. */
export const tanh = unaryFloat('Tanh', 'tanh');
/** 1/(1+e⁻ˣ). */
export const sigmoid = unaryFloat('Sigmoid', 'sigmoid');
/** x·σ(x) (SiLU / swish). */
export const silu = unaryFloat('Silu', 'silu');
/** max(x, 0); integer inputs keep their dtype. */
export function relu(x: Tensor): Tensor {
  checkTensor(x, 'relu', 'x');
  if (x.dtype === 'bool') throw new DTypeError(`relu: 'x' must be numeric, got bool`);
  return ENGINE.run('Relu', [x], { dtype: x.dtype });
}

/** GELU: exact erf form by default, or the tanh approximation with `{ approximate: 'tanh' }`. */
export function gelu(x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  checkTensor(x, 'gelu', 'x');
  checkFloat(x, 'gelu', 'x');
  const approximate = checkOptions(opts, 'gelu').approximate ?? 'none';
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new ArgumentError(`gelu: 'approximate' must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`);
  }
  return ENGINE.run(approximate === 'tanh' ? 'GeluTanh' : 'Gelu', [x], { dtype: x.dtype });
}

/** Elementwise NOT of a bool tensor. */
export function logicalNot(x: Tensor): Tensor {
  checkTensor(x, 'logicalNot', 'x');
  if (x.dtype !== 'bool') throw new DTypeError(`logicalNot: 'x' must be bool, got ${x.dtype}`);
  return ENGINE.run('LogicalNot', [x], { dtype: 'bool' });
}

/** Converts to `dtype` (floats to ints truncate toward zero; to bool: x ≠ 0). Same dtype returns a copy. */
export function cast(x: Tensor, dtype: DType): Tensor {
  checkTensor(x, 'cast', 'x');
  assertDType(dtype, 'cast');
  return ENGINE.run('Cast', [x], { dtype });
}

type Operand = Tensor | number | boolean;

/**
 * Resolves two operands (numbers become scalars of the tensor's kind) and their result dtype.
 * `compare`: the number is compared in a 16-bit tensor's own dtype (PyTorch casts the scalar to
 * the common dtype for comparisons) and exactly for integer tensors. `like`: the tensor whose
 * backend two plain numbers go to (where's condition); without it one operand must be a Tensor.
 */
function operands(op: string, a: Operand, b: Operand, opts: { compare?: boolean; like?: Tensor } = {}): [Tensor, Tensor, DType] {
  if (a instanceof Tensor) checkTensor(a, op, 'a');
  if (b instanceof Tensor) checkTensor(b, op, 'b');
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    if (!opts.like) throw new ArgumentError(`${op}: at least one of 'a' and 'b' must be a Tensor, got ${typeof a} and ${typeof b}`);
    // Two plain values: bool for two booleans, int32 for integers, else float32.
    for (const [v, arg] of [[a, 'a'], [b, 'b']] as const) {
      if (typeof v !== 'number' && typeof v !== 'boolean') throw new ArgumentError(`${op}: '${arg}' must be a Tensor, a number or a boolean, got ${describe(v)}`);
    }
    const both = [a, b] as (number | boolean)[];
    const dt: DType = both.every((v) => typeof v === 'boolean') ? 'bool' : both.every((v) => typeof v === 'boolean' || Number.isInteger(v)) ? 'int32' : 'float32';
    return [scalarLike(Number(a), dt, opts.like), scalarLike(Number(b), dt, opts.like), dt];
  }
  const like = (a instanceof Tensor ? a : b) as Tensor;
  // A bare number behaves like PyTorch's wrapped scalar: it does not widen the tensor's dtype
  // (fp16 · 0.5 stays fp16, computed in fp32), except that a fractional number makes ints float32.
  let dt: DType | null = null;
  const wrap = (v: Operand, arg: string): Tensor => {
    if (v instanceof Tensor) return v;
    if (typeof v === 'boolean') return scalarLike(Number(v), 'bool', like);
    if (typeof v !== 'number') throw new ArgumentError(`${op}: '${arg}' must be a Tensor or a number, got ${describe(v)}`);
    if (isFloat(like.dtype)) {
      dt = like.dtype;
      return scalarLike(v, opts.compare ? like.dtype : 'float32', like);
    }
    if (opts.compare) {
      // Integer tensors compare exactly with the number (no wrap to int8/uint8).
      dt = Number.isInteger(v) ? 'int32' : 'float32';
      return scalarLike(v, Number.isInteger(v) && Math.abs(v) <= 2 ** 31 - 1 ? 'int32' : 'float32', like);
    }
    dt = Number.isInteger(v) ? (like.dtype === 'bool' ? 'int32' : like.dtype) : 'float32';
    return scalarLike(v, dt, like);
  };
  const ta = wrap(a, 'a');
  const tb = wrap(b, 'b');
  return [ta, tb, dt ?? promoteTypes(ta.dtype, tb.dtype)];
}

function binary(kernel: BinaryKernel, op: string, result: 'promote' | 'bool' | 'float') {
  return (a: Operand, b: Operand): Tensor => {
    const [ta, tb, dt] = operands(op, a, b, { compare: result === 'bool' });
    try {
      const shape = broadcastShapes(ta.shape, tb.shape, op);
      if (result === 'bool' && kernel.startsWith('Logical') && (ta.dtype !== 'bool' || tb.dtype !== 'bool')) {
        throw new DTypeError(`${op}: 'a' and 'b' must be bool, got ${ta.dtype} and ${tb.dtype}`);
      }
      if (result === 'promote' && dt === 'bool' && kernel !== 'Maximum' && kernel !== 'Minimum') {
        throw new DTypeError(`${op}: arithmetic on two bool tensors is not supported; cast one to int32 or float32`);
      }
      const dtype: DType = result === 'bool' ? 'bool' : result === 'float' && !isFloat(dt) ? 'float32' : dt;
      return ENGINE.run(kernel, [ta, tb], { dtype, shape, computeDtype: dt });
    } finally {
      if (ta !== a) ta.dispose();
      if (tb !== b) tb.dispose();
    }
  };
}

/** a + b, broadcast. */
export const add = binary('Add', 'add', 'promote');
/** a − b, broadcast. */
export const sub = binary('Sub', 'sub', 'promote');
/** a · b, broadcast. */
export const mul = binary('Mul', 'mul', 'promote');
/** a / b, broadcast; true division (integer inputs give float32). */
export const div = binary('Div', 'div', 'float');
/** aᵇ, broadcast. */
export const pow = binary('Pow', 'pow', 'promote');
/** Elementwise maximum (NaN wins, as in PyTorch). */
export const maximum = binary('Maximum', 'maximum', 'promote');
/** Elementwise minimum (NaN wins). */
export const minimum = binary('Minimum', 'minimum', 'promote');
/** a == b → bool. */
export const equal = binary('Equal', 'equal', 'bool');
/** a != b → bool. */
export const notEqual = binary('NotEqual', 'notEqual', 'bool');
/** a < b → bool. */
export const less = binary('Less', 'less', 'bool');
/** a <= b → bool. */
export const lessEqual = binary('LessEqual', 'lessEqual', 'bool');
/** a > b → bool. */
export const greater = binary('Greater', 'greater', 'bool');
/** a >= b → bool. */
export const greaterEqual = binary('GreaterEqual', 'greaterEqual', 'bool');
/** a AND b (bool tensors). */
export const logicalAnd = binary('LogicalAnd', 'logicalAnd', 'bool');
/** a OR b (bool tensors). */
export const logicalOr = binary('LogicalOr', 'logicalOr', 'bool');

/**
 * condition ? a : b, all three broadcast together; `condition` must be bool. `a` and `b` may be
 * numbers; with two numbers the result is int32 for integers, bool for booleans, else float32.
 */
export function where(condition: Tensor, a: Operand, b: Operand): Tensor {
  const op = 'where';
  checkTensor(condition, op, 'condition');
  if (condition.dtype !== 'bool') throw new DTypeError(`${op}: 'condition' must be bool, got ${condition.dtype}`);
  const [ta, tb, dt] = operands(op, a, b, { like: condition });
  try {
    const shape = broadcastShapes(broadcastShapes(condition.shape, ta.shape, op, ['condition', 'a']), tb.shape, op, ['condition/a', 'b']);
    return ENGINE.run('Where', [condition, ta, tb], { dtype: dt, shape });
  } finally {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
  }
}
