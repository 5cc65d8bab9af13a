/**
 * Moving one tensor's bytes from a source into its storage: raw copies chunk by chunk straight
 * into the destination, or conversions (F64 → float32, I64 → int32, a requested dtype) through
 * one bounded chunk buffer, with range errors naming the tensor and element.
 */

import { storageCtor, type DType, type StorageArray } from '../dtype.js';
import { SafetensorsError } from '../errors.js';
import { decodeBf16, decodeF16, encodeBf16, encodeF16 } from '../float16.js';
import { LOAD_DTYPE } from './format.js';
import { yieldToEventLoop } from './node.js';
import { readFully, readFullySync, type SafetensorsSource } from './source.js';

export interface Transfer {
  src: SafetensorsSource;
  position: number;
  where: string;
  chunk: number;
  done: number;
  total: number;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  signal?: AbortSignal;
}

export function progress(ctx: Transfer, n: number): void {
  ctx.done += n;
  ctx.onProgress?.(ctx.done, ctx.total);
}

/** Raw copies: the stored bytes are already the target dtype's storage. */
function isRawCopy(stored: string, dtype: DType): boolean {
  return (LOAD_DTYPE[stored] === dtype && stored !== 'F64' && stored !== 'I64') || (stored === 'BOOL' && dtype === 'uint8');
}

/**
 * Moves a tensor's bytes from the source into its storage. `dst(byteOffset, byteLength)` returns
 * a fresh view of the target bytes; `stable` says an async read may write into such a view.
 */
export async function fill(
  ctx: Transfer,
  stored: string,
  dtype: DType,
  size: number,
  bpe: number,
  dst: (byteOffset: number, byteLength: number) => Uint8Array,
  stable: boolean,
): Promise<void> {
  const { src, position, where, chunk } = ctx;
  if (isRawCopy(stored, dtype)) {
    const length = size * bpe;
    let tmp: Uint8Array | undefined;
    for (let o = 0; o < length; o += chunk) {
      ctx.signal?.throwIfAborted();
      const n = Math.min(chunk, length - o);
      if (stable) {
        await readFully(src, dst(o, n), position + o, where);
      } else if (src.readSync) {
        if (o > 0) await yieldToEventLoop();
        readFullySync(src, dst(o, n), position + o, where);
      } else {
        tmp ??= new Uint8Array(Math.min(chunk, length));
        await readFully(src, tmp.subarray(0, n), position + o, where);
        dst(o, n).set(tmp.subarray(0, n));
      }
      progress(ctx, n);
    }
    return;
  }
  // Conversion through one chunk buffer of whole source elements.
  const sbpe = STORED_BYTES[stored];
  const per = Math.max(1, Math.floor(chunk / sbpe));
  const tmp = new Uint8Array(Math.min(per, size) * sbpe);
  for (let i = 0; i < size; i += per) {
    ctx.signal?.throwIfAborted();
    const n = Math.min(per, size - i);
    const part = tmp.subarray(0, n * sbpe);
    await readFully(src, part, position + i * sbpe, where);
    const out = dst(i * bpe, n * bpe);
    convert(part, stored, typedView(out, dtype, n), dtype, i, where);
    progress(ctx, n * sbpe);
  }
}

const STORED_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I8: 1, U8: 1, BOOL: 1 };

function typedView(bytes: Uint8Array, dtype: DType, n: number): StorageArray {
  return new (storageCtor(dtype))(bytes.buffer as ArrayBuffer, bytes.byteOffset, n) as StorageArray;
}

/**
 * Converts `n` stored elements (`src`, whose byteOffset is 0) into `out` (target storage).
 * `base` is the index of the first element, for error messages.
 */
function convert(src: Uint8Array, stored: string, out: StorageArray, dtype: DType, base: number, where: string): void {
  const n = out.length;
  const buf = src.buffer;
  if (stored === 'I64') {
    const w = new Int32Array(buf, 0, 2 * n);
    if (dtype === 'int32') {
      for (let i = 0; i < n; i++) {
        const lo = w[2 * i];
        if (w[2 * i + 1] !== lo >> 31) throw i64Overflow(src, i, base, 'int32', where);
        out[i] = lo;
      }
      return;
    }
    const vals = new Float64Array(n);
    for (let i = 0; i < n; i++) vals[i] = w[2 * i + 1] * 4294967296 + (w[2 * i] >>> 0);
    store(vals, false, out, dtype, base, where, (i) => String(new BigInt64Array(buf, i * 8, 1)[0]));
    return;
  }
  let vals: ArrayLike<number>;
  let fromFloat = true;
  switch (stored) {
    case 'F64': vals = new Float64Array(buf, 0, n); break;
    case 'F32': vals = new Float32Array(buf, 0, n); break;
    case 'F16': vals = decodeF16(new Uint16Array(buf, 0, n)); break;
    case 'BF16': vals = decodeBf16(new Uint16Array(buf, 0, n)); break;
    case 'I32': vals = new Int32Array(buf, 0, n); fromFloat = false; break;
    case 'I8': vals = new Int8Array(buf, 0, n); fromFloat = false; break;
    case 'U8': vals = new Uint8Array(buf, 0, n); fromFloat = false; break;
    case 'BOOL': vals = new Uint8Array(buf, 0, n).map((x) => (x ? 1 : 0)); fromFloat = false; break;
    default: throw new SafetensorsError(`${where}: cannot convert ${stored} to ${dtype}`);
  }
  store(vals, fromFloat, out, dtype, base, where, (i) => String(vals[i]));
}

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int32: [-2147483648, 2147483647], int8: [-128, 127], uint8: [0, 255],
};

function store(
  vals: ArrayLike<number>,
  fromFloat: boolean,
  out: StorageArray,
  dtype: DType,
  base: number,
  where: string,
  showValue: (i: number) => string,
): void {
  const n = out.length;
  switch (dtype) {
    case 'float32': (out as Float32Array).set(vals); return;
    case 'float16': encodeF16(vals, out as Uint16Array); return;
    case 'bfloat16': encodeBf16(vals, out as Uint16Array); return;
    case 'bool': for (let i = 0; i < n; i++) out[i] = vals[i] !== 0 ? 1 : 0; return;
  }
  const [lo, hi] = INT_RANGE[dtype]!;
  for (let i = 0; i < n; i++) {
    let v = vals[i];
    if (fromFloat) v = Math.trunc(v);
    if (!(v >= lo && v <= hi)) {
      throw new SafetensorsError(
        `${where}: element ${base + i} = ${showValue(i)} does not fit in ${dtype}${fromFloat ? ' (after truncation toward zero)' : ''}`,
      );
    }
    out[i] = v;
  }
}

function i64Overflow(src: Uint8Array, i: number, base: number, dtype: DType, where: string): SafetensorsError {
  const v = new BigInt64Array(src.buffer, src.byteOffset + i * 8, 1)[0];
  return new SafetensorsError(`${where}: I64 element ${base + i} = ${v} does not fit in ${dtype}`);
}
