/**
 * A tiny safetensors reader for test fixtures (F64, F32, F16, I64, BOOL, U8), until the library's
 * own loader lands from branch `st`. Values come back as plain typed arrays.
 */

import { readFileSync } from 'node:fs';

/** One tensor of a fixture file. */
export interface RawTensor {
  dtype: string;
  shape: number[];
  /** F64/F32/I64 → Float64Array (I64 converted), F16 → Uint16Array bits, BOOL/U8 → Uint8Array. */
  data: Float64Array | Float32Array | Uint16Array | Uint8Array;
}

/** Reads every tensor of a .safetensors file. */
export function readSafetensors(path: string): Map<string, RawTensor> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const base = 8 + n;
  const out = new Map<string, RawTensor>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [s, e] = h.data_offsets;
    const bytes = buf.subarray(base + s, base + e);
    const copy = new Uint8Array(bytes.length);
    copy.set(bytes);
    let data: RawTensor['data'];
    switch (h.dtype) {
      case 'F64': data = new Float64Array(copy.buffer); break;
      case 'F32': data = new Float32Array(copy.buffer); break;
      case 'F16': data = new Uint16Array(copy.buffer); break;
      case 'I64': data = Float64Array.from(new BigInt64Array(copy.buffer), (x) => Number(x)); break;
      case 'BOOL': case 'U8': data = copy; break;
      default: throw new Error(`safetensors_lite: unsupported dtype ${h.dtype} (${name} in ${path})`);
    }
    out.set(name, { dtype: h.dtype, shape: h.shape, data });
  }
  return out;
}
