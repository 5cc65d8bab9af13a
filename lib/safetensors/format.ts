/**
 * The safetensors container format, with no I/O: dtype tables, header parsing and validation,
 * and the canonical header layout the reference writer (Hugging Face `safetensors`) produces.
 * Browser-safe: nothing here touches `node:*`.
 *
 * File layout: an 8-byte little-endian u64 N, N bytes of UTF-8 JSON, then the data section.
 * The JSON maps each tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets
 * relative to the data section) plus an optional `"__metadata__"` string→string map.
 */

import type { DType } from '../dtype.js';
import { SafetensorsError } from '../errors.js';

/** Largest header accepted and written, as in the reference implementation (100 MB). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/**
 * Every dtype code the format defines, in the order of the reference implementation's `Dtype`
 * enum (which is "increasing alignment"), with its size in bits. The writer sorts tensors by
 * this rank, descending, then by name, exactly like `safetensors` does.
 */
const FORMAT_DTYPES: readonly (readonly [string, number])[] = [
  ['BOOL', 8], ['F4', 4], ['F6_E2M3', 6], ['F6_E3M2', 6], ['U8', 8], ['I8', 8], ['F8_E5M2', 8],
  ['F8_E4M3', 8], ['F8_E8M0', 8], ['F8_E4M3FNUZ', 8], ['F8_E5M2FNUZ', 8], ['I16', 16], ['U16', 16],
  ['F16', 16], ['BF16', 16], ['I32', 32], ['U32', 32], ['F32', 32], ['C64', 64], ['F64', 64],
  ['I64', 64], ['U64', 64],
];
const BITS = new Map(FORMAT_DTYPES.map(([d, b]) => [d, b]));
const RANK = new Map(FORMAT_DTYPES.map(([d], i) => [d, i]));

/** Stored dtype → the flashtensor dtype it loads as. F64 loads as float32, I64 as int32. */
export const LOAD_DTYPE: Readonly<Record<string, DType>> = {
  F64: 'float32', F32: 'float32', F16: 'float16', BF16: 'bfloat16',
  I64: 'int32', I32: 'int32', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};

/** flashtensor dtype → the code it is saved as. */
export const SAVE_DTYPE: Readonly<Record<DType, string>> = {
  float32: 'F32', float16: 'F16', bfloat16: 'BF16', int32: 'I32', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};

/** Bytes per element of a stored dtype code, or undefined for codes the format does not define. */
export function formatBits(dtype: string): number | undefined {
  return BITS.get(dtype);
}

/** One tensor of an opened safetensors file (or sharded checkpoint). */
export interface SafetensorsEntry {
  /** The tensor's name (its key in the header). */
  readonly name: string;
  /** dtype code as stored: 'F32', 'BF16', 'I64', 'F8_E4M3', … */
  readonly dtype: string;
  /** Shape as stored; `[]` is a 0-d tensor. */
  readonly shape: readonly number[];
  /** The flashtensor dtype it loads as by default; null when it cannot be loaded as a tensor (read the raw bytes instead). */
  readonly loadDType: DType | null;
  /** Absolute position of the tensor's first byte in its file. */
  readonly byteOffset: number;
  /** Length of the tensor's data in bytes. */
  readonly byteLength: number;
  /** The file holding the data (a shard of a sharded checkpoint), as a path or a source label. */
  readonly file: string;
}

/** A parsed and validated header. */
export interface ParsedHeader {
  metadata: Record<string, string>;
  /** In data order (by begin offset). */
  entries: SafetensorsEntry[];
}

/** Short, bounded rendering of a JSON value for error messages. */
export function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${show(v)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets an own property, also for names like "__proto__" that plain assignment would swallow. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Reads the header length from the first 8 bytes and checks it against the file size.
 * Returns N (the JSON length).
 */
export function parseHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    throw new SafetensorsError(`safetensors '${file}': file is ${fileSize} bytes, shorter than the 8-byte header length prefix`);
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`safetensors '${file}': header length ${n} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte (100 MB) limit`);
  }
  const len = Number(n);
  if (8 + len > fileSize) {
    throw new SafetensorsError(
      `safetensors '${file}': header length ${len} runs past the end of the file (header would end at byte ${8 + len}, file is ${fileSize} bytes)`,
    );
  }
  return len;
}

/**
 * Parses and validates the JSON header (`json` is the N header bytes). `dataSize` is the size of
 * the data section (file size − 8 − N). Every problem is a SafetensorsError naming the file, the
 * tensor and the problem. Unknown dtype codes are accepted here (their `loadDType` is null) so a
 * file can still be opened and its other tensors read; reading that tensor fails.
 */
export function parseHeader(json: Uint8Array, dataSize: number, file: string): ParsedHeader {
  const where = `safetensors '${file}'`;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw new SafetensorsError(`${where}: header is not valid UTF-8`);
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${where}: header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(root)) throw new SafetensorsError(`${where}: header must be a JSON object, got ${kindOf(root)}`);

  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  const dataStart = 8 + json.length;
  for (const name of Object.keys(root)) {
    const value = root[name];
    if (name === '__metadata__') {
      if (!isPlainObject(value)) {
        throw new SafetensorsError(`${where}: __metadata__ must be an object mapping strings to strings, got ${kindOf(value)}`);
      }
      for (const k of Object.keys(value)) {
        if (typeof value[k] !== 'string') {
          throw new SafetensorsError(`${where}: __metadata__ must map strings to strings, but key '${k}' holds ${kindOf(value[k])}`);
        }
        setOwn(metadata, k, value[k] as string);
      }
      continue;
    }
    const t = `${where}: tensor '${name}'`;
    if (!isPlainObject(value)) {
      throw new SafetensorsError(`${t}: entry must be an object {dtype, shape, data_offsets}, got ${kindOf(value)}`);
    }
    const { dtype, shape, data_offsets: offsets } = value;
    if (typeof dtype !== 'string') throw new SafetensorsError(`${t}: dtype must be a string, got ${kindOf(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${t}: shape must be an array of non-negative integers, got ${show(shape)}`);
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new SafetensorsError(`${t}: data_offsets must be two non-negative integers [begin, end] with begin <= end, got ${show(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) {
      throw new SafetensorsError(`${t}: data_offsets [${begin}, ${end}] lie outside the data section (${dataSize} bytes)`);
    }
    const bits = BITS.get(dtype);
    if (bits !== undefined) {
      let elems = 1;
      for (const d of shape as number[]) elems *= d;
      const totalBits = elems * bits;
      if (!Number.isSafeInteger(totalBits)) {
        throw new SafetensorsError(`${t}: shape ${show(shape)} of ${dtype} is too large`);
      }
      if (totalBits % 8 !== 0) {
        throw new SafetensorsError(`${t}: shape ${show(shape)} of ${dtype} is ${totalBits} bits, not a whole number of bytes`);
      }
      if (totalBits / 8 !== end - begin) {
        throw new SafetensorsError(
          `${t}: shape ${show(shape)} of ${dtype} needs ${totalBits / 8} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
        );
      }
    }
    entries.push({
      name,
      dtype,
      shape: (shape as number[]).slice(),
      loadDType: LOAD_DTYPE[dtype] ?? null,
      byteOffset: dataStart + begin,
      byteLength: end - begin,
      file,
    });
  }

  // Data order; then no two non-empty ranges may overlap.
  entries.sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  let prev: SafetensorsEntry | undefined;
  for (const e of entries) {
    if (e.byteLength === 0) continue;
    if (prev && e.byteOffset < prev.byteOffset + prev.byteLength) {
      const r = (x: SafetensorsEntry) => `[${x.byteOffset - dataStart}, ${x.byteOffset - dataStart + x.byteLength}]`;
      throw new SafetensorsError(`${where}: tensors '${prev.name}' ${r(prev)} and '${e.name}' ${r(e)} overlap`);
    }
    prev = e;
  }
  return { metadata, entries };
}

/** Compares strings by Unicode code point, i.e. by their UTF-8 bytes, as Rust's `String` ordering does. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** What the writer needs to know about one tensor. */
export interface LayoutItem {
  name: string;
  /** Stored dtype code. */
  dtype: string;
  shape: readonly number[];
  byteLength: number;
}

/** The header bytes (length prefix included) and where each item's data goes. */
export interface Layout<T extends LayoutItem> {
  /** 8-byte length prefix + JSON padded with spaces to a multiple of 8. */
  header: Uint8Array;
  /** Items in data order, each with its offset relative to the data section. */
  order: { item: T; begin: number }[];
  /** Size of the data section. */
  dataBytes: number;
}

/**
 * The canonical layout of the reference `safetensors` writer (`prepare` in safetensors/src/tensor.rs):
 * tensors sorted by dtype rank descending (F64/I64 … F32, I32, BF16, F16, I8, U8, BOOL), then by
 * name (code point order); packed back to back with no padding between them (the sort keeps every
 * tensor aligned to its element size); compact JSON with `__metadata__` first (when given) and
 * the tensors in data order, each as `{"dtype","shape","data_offsets"}`; the JSON padded with
 * spaces to a multiple of 8 bytes so the data section starts 8-byte aligned.
 */
export function layoutSafetensors<T extends LayoutItem>(items: readonly T[], metadata?: Record<string, string>): Layout<T> {
  const sorted = items.slice().sort((a, b) => RANK.get(b.dtype)! - RANK.get(a.dtype)! || compareCodePoints(a.name, b.name));
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const order: { item: T; begin: number }[] = [];
  let offset = 0;
  for (const item of sorted) {
    parts.push(`${JSON.stringify(item.name)}:{"dtype":"${item.dtype}","shape":[${item.shape.join(',')}],"data_offsets":[${offset},${offset + item.byteLength}]}`);
    order.push({ item, begin: offset });
    offset += item.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded > SAFETENSORS_MAX_HEADER_BYTES) {
    throw new SafetensorsError(`safetensors: the header would be ${padded} bytes, over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte (100 MB) limit`);
  }
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(json, 8);
  return { header, order, dataBytes: offset };
}
