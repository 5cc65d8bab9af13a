/** Creating tensors: from values, constants, ranges and seeded random draws. */

import { assertDType, isFloat, storageCtor, type DType, type StorageArray } from '../lib/dtype.js';
import { ENGINE } from '../lib/engine.js';
import { ArgumentError, DTypeError, OutOfMemoryError, ShapeError } from '../lib/errors.js';
import { encodeBf16, encodeF16 } from '../lib/float16.js';
import { Random } from '../lib/random.js';
import { assertShape, describe, sizeOf, type Shape } from '../lib/shape.js';
import type { Tensor } from '../lib/tensor.js';
import { checkInt, checkNumber, checkOptions, checkTensor } from './util.js';

/** Values accepted by `tensor`: a number, a boolean, nested arrays of them, or a typed array. */
export type TensorValues =
  | number
  | boolean
  | readonly TensorValues[]
  | Float32Array
  | Float64Array
  | Int32Array
  | Int8Array
  | Uint8Array
  | Uint16Array;

/**
 * Creates a tensor from values. `shape` defaults to the nesting of `values`; `dtype` defaults to
 * the typed array's type, 'bool' for booleans, else 'float32'. Float16/bfloat16 values are
 * rounded to nearest even.
 */
export function tensor(values: TensorValues, shape?: Shape, dtype?: DType): Tensor {
  const op = 'tensor';
  if (dtype !== undefined) assertDType(dtype, op);
  const inferred: number[] = [];
  const flat = flatten(values, inferred, op);
  if (shape === undefined) shape = inferred;
  else assertShape(shape, op);
  if (sizeOf(shape) !== flat.length) {
    throw new ShapeError(`${op}: shape [${shape}] holds ${sizeOf(shape)} elements but ${flat.length} values were given`);
  }
  dtype ??= defaultDType(values);
  return ENGINE.makeTensor(toStorage(flat, dtype), shape, dtype);
}

/** A rank-0 tensor. */
export function scalar(value: number | boolean, dtype?: DType): Tensor {
  if (typeof value !== 'number' && typeof value !== 'boolean') {
    throw new ArgumentError(`scalar: 'value' must be a number or boolean, got ${describe(value)}`);
  }
  if (dtype !== undefined) assertDType(dtype, 'scalar');
  return tensor(value, [], dtype);
}

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number | boolean, dtype?: DType): Tensor {
  return fill('full', shape, value, dtype);
}

function fill(op: string, shape: Shape, value: number | boolean, dtype?: DType): Tensor {
  assertShape(shape, op);
  if (dtype !== undefined) assertDType(dtype, op);
  dtype ??= typeof value === 'boolean' ? 'bool' : 'float32';
  // NaN and ±Infinity are legitimate fill values (masks, sentinels).
  if (typeof value !== 'boolean' && typeof value !== 'number') {
    throw new ArgumentError(`${op}: 'value' must be a number or boolean, got ${describe(value)}`);
  }
  const storage = toStorage(staging(sizeOf(shape), op).fill(Number(value)), dtype);
  return ENGINE.makeTensor(storage, shape, dtype);
}

/** A tensor of zeros. */
export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return fill('zeros', shape, 0, dtype);
}

/** A tensor of ones. */
export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return fill('ones', shape, 1, dtype);
}

/** Zeros with the shape and dtype of `x`. */
export function zerosLike(x: Tensor): Tensor {
  checkTensor(x, 'zerosLike', 'x');
  return fill('zerosLike', x.shape, 0, x.dtype);
}

/** Ones with the shape and dtype of `x`. */
export function onesLike(x: Tensor): Tensor {
  checkTensor(x, 'onesLike', 'x');
  return fill('onesLike', x.shape, 1, x.dtype);
}

/** A float64 host array of `n` elements, or OutOfMemoryError naming the op when it cannot exist. */
function staging(n: number, op: string): Float64Array {
  try {
    return new Float64Array(n);
  } catch (e) {
    throw new OutOfMemoryError(`${op}: cannot create ${n} elements (${(e as Error).message})`);
  }
}

/**
 * Values from `start` (inclusive) to `stop` (exclusive) by `step`, like torch.arange; `arange(n)`
 * counts 0 … n−1. Integer arguments give int32, otherwise float32.
 */
export function arange(start: number, stop?: number, step = 1, dtype?: DType): Tensor {
  const op = 'arange';
  if (stop === undefined) [start, stop] = [0, start];
  checkNumber(start, op, 'start');
  checkNumber(stop, op, 'stop');
  checkNumber(step, op, 'step');
  if (step === 0) throw new ArgumentError(`${op}: 'step' must be non-zero`);
  if (!Number.isFinite(start) || !Number.isFinite(stop)) throw new ArgumentError(`${op}: 'start' and 'stop' must be finite`);
  if (dtype !== undefined) assertDType(dtype, op);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  dtype ??= [start, stop, step].every(Number.isInteger) ? 'int32' : 'float32';
  const v = staging(n, op);
  for (let i = 0; i < n; i++) v[i] = start + i * step;
  return ENGINE.makeTensor(toStorage(v, dtype), [n], dtype);
}

/** Options for random tensors. */
export interface RandomOptions {
  seed?: number;
  dtype?: DType;
}

/** Standard-normal samples (times `std`, plus `mean`); reproducible for a given seed. */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  assertShape(shape, 'randn');
  const o = checkOptions(opts, 'randn');
  const dtype = randomDType(o.dtype, 'randn');
  const rng = new Random(seedOf(o.seed, 'randn'));
  const mean = o.mean === undefined ? 0 : checkNumber(o.mean, 'randn', 'mean');
  const std = o.std === undefined ? 1 : checkNumber(o.std, 'randn', 'std');
  const v = staging(sizeOf(shape), 'randn');
  for (let i = 0; i < v.length; i++) v[i] = mean + std * rng.normal();
  return ENGINE.makeTensor(toStorage(v, dtype), shape, dtype);
}

/** Uniform samples in [low, high); reproducible for a given seed. */
export function rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  assertShape(shape, 'rand');
  const o = checkOptions(opts, 'rand');
  const dtype = randomDType(o.dtype, 'rand');
  const rng = new Random(seedOf(o.seed, 'rand'));
  const lo = o.low === undefined ? 0 : checkNumber(o.low, 'rand', 'low');
  const hi = o.high === undefined ? 1 : checkNumber(o.high, 'rand', 'high');
  const v = staging(sizeOf(shape), 'rand');
  for (let i = 0; i < v.length; i++) v[i] = lo + (hi - lo) * rng.uniform();
  return ENGINE.makeTensor(toStorage(v, dtype), shape, dtype);
}

/** A seed: undefined (random) or an integer. */
function seedOf(seed: unknown, op: string): number | undefined {
  if (seed === undefined) return undefined;
  return checkInt(seed, op, 'seed');
}

/** The dtype of a random tensor: float32 by default, and only float dtypes (like torch.randn). */
function randomDType(dtype: DType | undefined, op: string): DType {
  if (dtype === undefined) return 'float32';
  assertDType(dtype, op);
  if (!isFloat(dtype)) throw new DTypeError(`${op}: 'dtype' must be float32, float16 or bfloat16, got ${dtype}`);
  return dtype;
}

/**
 * Wraps raw storage (float16/bfloat16 as bits) as a tensor, copying it to the active backend.
 * Used by loaders; `tensor()` is the user-facing constructor.
 */
export function fromStorage(raw: StorageArray, shape: Shape, dtype: DType): Tensor {
  assertShape(shape, 'fromStorage');
  assertDType(dtype, 'fromStorage');
  const Ctor = storageCtor(dtype);
  if (!(raw instanceof Ctor) || raw.length !== sizeOf(shape)) {
    throw new ArgumentError(`fromStorage: expected a ${Ctor.name} of ${sizeOf(shape)} elements for ${dtype} [${shape}], got ${describeStorage(raw)}`);
  }
  return ENGINE.makeTensor(raw, shape, dtype);
}

/** Converts numbers to a dtype's raw storage (ints truncate toward zero and wrap, like a cast). */
export function toStorage(flat: ArrayLike<number>, dtype: DType): StorageArray {
  switch (dtype) {
    case 'float16': return encodeF16(flat);
    case 'bfloat16': return encodeBf16(flat);
    case 'bool': {
      const out = new Uint8Array(flat.length);
      for (let i = 0; i < flat.length; i++) out[i] = flat[i] ? 1 : 0;
      return out;
    }
    default: {
      const Ctor = storageCtor(dtype);
      if (flat instanceof Ctor) return flat.slice() as StorageArray;
      return Ctor.from(flat as ArrayLike<number>) as StorageArray;
    }
  }
}

function defaultDType(values: TensorValues): DType {
  if (values instanceof Int32Array) return 'int32';
  if (values instanceof Int8Array) return 'int8';
  if (values instanceof Uint8Array) return 'uint8';
  let v: unknown = values;
  while (Array.isArray(v) && v.length) v = v[0];
  return typeof v === 'boolean' ? 'bool' : 'float32';
}

function flatten(values: TensorValues, shape: number[], op: string): ArrayLike<number> {
  if (typeof values === 'number') return [values];
  if (typeof values === 'boolean') return [values ? 1 : 0];
  if (ArrayBuffer.isView(values)) {
    shape.push(values.length);
    return values as ArrayLike<number>;
  }
  if (!Array.isArray(values)) throw new ArgumentError(`${op}: 'values' must be numbers, booleans, nested arrays or a typed array, got ${describe(values)}`);
  // Infer the shape from the first element at each depth, then check every element agrees.
  let v: unknown = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  const out: number[] = [];
  const walk = (x: unknown, depth: number, path: string) => {
    if (depth === shape.length) {
      if (typeof x === 'number') out.push(x);
      else if (typeof x === 'boolean') out.push(x ? 1 : 0);
      else throw new ArgumentError(`${op}: value at ${path || 'top'} must be a number or boolean, got ${describe(x)}`);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth]) {
      throw new ShapeError(`${op}: ragged nested array at ${path || 'top'}: expected ${shape[depth]} elements, got ${Array.isArray(x) ? x.length : describe(x)}`);
    }
    for (let i = 0; i < x.length; i++) walk(x[i], depth + 1, `${path}[${i}]`);
  };
  walk(values, 0, '');
  return out;
}

function describeStorage(raw: unknown): string {
  if (ArrayBuffer.isView(raw)) return `${raw.constructor.name}(${(raw as unknown as ArrayLike<number>).length})`;
  return describe(raw);
}
