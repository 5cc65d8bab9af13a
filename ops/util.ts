/** Argument checks shared by the ops: each failure names the op, the argument, expected and given. */

import { isFloat, type DType } from '../lib/dtype.js';
import { ENGINE } from '../lib/engine.js';
import { ArgumentError, DTypeError } from '../lib/errors.js';
import { numberToBf16Bits, numberToF16Bits } from '../lib/float16.js';
import { describe } from '../lib/shape.js';
import { Tensor } from '../lib/tensor.js';

/** Returns `x` as a live Tensor or throws naming the op and argument. */
export function checkTensor(x: unknown, op: string, arg: string): Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError(`${op}: '${arg}' must be a Tensor, got ${describe(x)}`);
  x.throwIfDisposed(op, arg);
  return x;
}

/** Throws a DTypeError unless `t` is a float tensor. */
export function checkFloat(t: Tensor, op: string, arg: string): void {
  if (!isFloat(t.dtype)) {
    throw new DTypeError(`${op}: '${arg}' must be float32, float16 or bfloat16, got ${t.dtype}`);
  }
}

/** Throws a DTypeError unless `t.dtype` is one of `allowed`. */
export function checkDType(t: Tensor, allowed: readonly DType[], op: string, arg: string): void {
  if (!allowed.includes(t.dtype)) {
    throw new DTypeError(`${op}: '${arg}' must have dtype ${allowed.join(' or ')}, got ${t.dtype}`);
  }
}

/** Throws unless `n` is an integer (optionally ≥ min). */
export function checkInt(n: unknown, op: string, arg: string, min = -Infinity): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
    throw new ArgumentError(`${op}: '${arg}' must be an integer${min > -Infinity ? ` ≥ ${min}` : ''}, got ${describe(n)}`);
  }
  return n;
}

/** Throws unless `n` is a finite number. */
export function checkNumber(n: unknown, op: string, arg: string): number {
  if (typeof n !== 'number' || Number.isNaN(n)) throw new ArgumentError(`${op}: '${arg}' must be a number, got ${describe(n)}`);
  return n;
}

/** An options argument: undefined or null give `{}`; anything but a plain object is an ArgumentError. */
export function checkOptions<T extends object>(opts: T | null | undefined, op: string, arg = 'options'): Partial<T> {
  if (opts === undefined || opts === null) return {};
  if (typeof opts !== 'object' || Array.isArray(opts)) throw new ArgumentError(`${op}: '${arg}' must be an object, got ${describe(opts)}`);
  return opts;
}

/** A scalar tensor of `dtype` on the backend of `like`. */
export function scalarLike(value: number, dtype: DType, like: Tensor): Tensor {
  return ENGINE.makeTensor(scalarStorage(value, dtype), [], dtype, ENGINE.backendOf(like));
}

/** Raw storage holding one value of `dtype`. */
export function scalarStorage(value: number, dtype: DType) {
  switch (dtype) {
    case 'float32': return new Float32Array([value]);
    case 'float16': return new Uint16Array([numberToF16Bits(value)]);
    case 'bfloat16': return new Uint16Array([numberToBf16Bits(value)]);
    case 'int32': return new Int32Array([value]);
    case 'int8': return new Int8Array([value]);
    case 'uint8': return new Uint8Array([value]);
    case 'bool': return new Uint8Array([value ? 1 : 0]);
  }
}
