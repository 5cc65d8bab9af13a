/** Element types, their storage, and promotion between them. */

import { DTypeError } from './errors.js';

/** The element types a tensor can hold. float16 and bfloat16 are stored as raw 16-bit patterns. */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'int32' | 'int8' | 'uint8' | 'bool';

/** Every dtype, in promotion order within its kind. */
export const DTYPES: readonly DType[] = ['bool', 'uint8', 'int8', 'int32', 'float16', 'bfloat16', 'float32'];

/** Typed array holding a dtype's raw storage (float16/bfloat16 bits live in a Uint16Array). */
export type StorageArray = Float32Array | Uint16Array | Int32Array | Int8Array | Uint8Array;

/** What `await t.data()` returns: float16/bfloat16 decoded to Float32Array, bool as Uint8Array. */
export type DataArray = Float32Array | Int32Array | Int8Array | Uint8Array;

const BYTES: Record<DType, number> = {
  float32: 4, float16: 2, bfloat16: 2, int32: 4, int8: 1, uint8: 1, bool: 1,
};

/** Bytes one element of `dtype` occupies. */
export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

/** True for float32, float16 and bfloat16. */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'bfloat16';
}

/** True for 16-bit floats, which are stored as bits and computed in float32. */
export function isHalf(dtype: DType): boolean {
  return dtype === 'float16' || dtype === 'bfloat16';
}

/** Throws a DTypeError unless `d` names a dtype. */
export function assertDType(d: unknown, where: string): asserts d is DType {
  if (typeof d !== 'string' || !(d in BYTES)) {
    throw new DTypeError(`${where}: unknown dtype ${JSON.stringify(d)}; expected one of ${DTYPES.join(', ')}`);
  }
}

/** Typed-array constructor for a dtype's storage. */
export function storageCtor(dtype: DType) {
  switch (dtype) {
    case 'float32': return Float32Array;
    case 'float16': case 'bfloat16': return Uint16Array;
    case 'int32': return Int32Array;
    case 'int8': return Int8Array;
    case 'uint8': case 'bool': return Uint8Array;
  }
}

/**
 * Result dtype of a binary op, following PyTorch's rules for tensors of equal standing: floats
 * beat integers, a wider type beats a narrower one, float16 with bfloat16 gives float32, int8
 * with uint8 gives int32 (neither holds the other), bool is the weakest.
 */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (isFloat(a) && isFloat(b)) return 'float32';
  if (isFloat(a)) return a;
  if (isFloat(b)) return b;
  if (a === 'bool') return b;
  if (b === 'bool') return a;
  if (a === 'int32' || b === 'int32') return 'int32';
  return 'int32'; // int8 with uint8
}
