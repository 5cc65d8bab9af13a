/**
 * A checkpoint as the loader sees it: a folder's `model.safetensors` or sharded
 * `model.safetensors.index.json`, listed by header (names, dtypes, shapes) and read one tensor at
 * a time, converted to the requested dtype as it is read.
 *
 * TEMPORARY: a minimal reader until the `st` branch's `openSafetensors` lands in main; this file
 * then becomes a thin adapter over it.
 */

import type { DType, StorageArray } from '../../lib/dtype.js';
import { SafetensorsError } from '../../lib/errors.js';
import { encodeBf16, encodeF16, decodeBf16, decodeF16 } from '../../lib/float16.js';
import type { Tensor } from '../../lib/tensor.js';
import { fromStorage } from '../../ops/creation.js';

/** One tensor listed in a checkpoint header. */
export interface CheckpointEntry {
  name: string;
  /** As stored: 'F32', 'F16', 'BF16', 'I64', 'I32', 'I8', 'U8', 'BOOL', … */
  dtype: string;
  shape: number[];
  byteLength: number;
  file: string;
}

/** An opened checkpoint. */
export interface Checkpoint {
  /** Every tensor, in file order (shard by shard). */
  entries: CheckpointEntry[];
  /** Bytes of tensor data in total. */
  totalBytes: number;
  /** Reads one tensor, converting floats to `dtype` (default: as stored; I64 → int32). */
  read(name: string, dtype?: DType): Promise<Tensor>;
  close(): Promise<void>;
}

const FLOAT_CODES: Record<string, DType> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float32' };
const INT_CODES: Record<string, DType> = { I64: 'int32', I32: 'int32', I8: 'int8', U8: 'uint8', BOOL: 'bool' };

/** The dtype an entry loads as without a conversion request, or null when unsupported. */
export function naturalDType(code: string): DType | null {
  return FLOAT_CODES[code] ?? INT_CODES[code] ?? null;
}

async function fs() {
  return import('node:fs');
}

async function parseHeader(path: string): Promise<{ entries: CheckpointEntry[]; dataStart: number }> {
  const { promises } = await fs();
  const fh = await promises.open(path, 'r');
  try {
    const head = new Uint8Array(8);
    await fh.read(head, 0, 8, 0);
    const n = Number(new DataView(head.buffer).getBigUint64(0, true));
    const { size } = await fh.stat();
    if (n <= 0 || n + 8 > size) throw new SafetensorsError(`safetensors '${path}': header length ${n} does not fit a file of ${size} bytes`);
    const json = new Uint8Array(n);
    await fh.read(json, 0, n, 8);
    const header = JSON.parse(new TextDecoder().decode(json)) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    const entries: (CheckpointEntry & { begin: number })[] = [];
    for (const [name, e] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      entries.push({ name, dtype: e.dtype, shape: e.shape, byteLength: e.data_offsets[1] - e.data_offsets[0], file: path, begin: 8 + n + e.data_offsets[0] });
    }
    entries.sort((a, b) => a.begin - b.begin);
    return { entries, dataStart: 8 + n };
  } finally {
    await fh.close();
  }
}

/** Opens `model.safetensors` or `model.safetensors.index.json` in `dir` (or a file path). */
export async function openCheckpoint(dirOrFile: string): Promise<Checkpoint> {
  const { existsSync, promises } = await fs();
  const { join, dirname } = await import('node:path');
  let files: string[];
  if (dirOrFile.endsWith('.safetensors')) files = [dirOrFile];
  else if (dirOrFile.endsWith('.json')) files = await shards(dirOrFile);
  else if (existsSync(join(dirOrFile, 'model.safetensors'))) files = [join(dirOrFile, 'model.safetensors')];
  else if (existsSync(join(dirOrFile, 'model.safetensors.index.json'))) files = await shards(join(dirOrFile, 'model.safetensors.index.json'));
  else {
    const bin = existsSync(join(dirOrFile, 'pytorch_model.bin')) ? ' (it has pytorch_model.bin: pickle checkpoints are not supported; convert it to safetensors)' : '';
    throw new SafetensorsError(`no model.safetensors or model.safetensors.index.json in '${dirOrFile}'${bin}`);
  }
  async function shards(index: string): Promise<string[]> {
    const j = JSON.parse(await promises.readFile(index, 'utf8')) as { weight_map?: Record<string, string> };
    if (!j.weight_map) throw new SafetensorsError(`'${index}' has no weight_map`);
    return [...new Set(Object.values(j.weight_map))].map((f) => join(dirname(index), f));
  }
  const parsed = await Promise.all(files.map(parseHeader));
  const entries = parsed.flatMap((p) => p.entries) as (CheckpointEntry & { begin: number })[];
  const byName = new Map(entries.map((e) => [e.name, e]));
  return {
    entries,
    totalBytes: entries.reduce((a, e) => a + e.byteLength, 0),
    async read(name: string, dtype?: DType): Promise<Tensor> {
      const e = byName.get(name);
      if (!e) throw new SafetensorsError(`checkpoint: no tensor named '${name}'`);
      const natural = naturalDType(e.dtype);
      if (!natural) throw new SafetensorsError(`safetensors '${e.file}': tensor '${name}' has unsupported dtype ${e.dtype}`);
      const bytes = new Uint8Array(e.byteLength);
      const fh = await promises.open(e.file, 'r');
      try {
        await fh.read(bytes, 0, e.byteLength, e.begin);
      } finally {
        await fh.close();
      }
      const target = dtype && FLOAT_CODES[e.dtype] ? dtype : natural;
      return fromStorage(convert(bytes, e.dtype, target), e.shape, target);
    },
    async close() {},
  };
}

function convert(bytes: Uint8Array, code: string, to: DType): StorageArray {
  const buf = bytes.buffer;
  let values: ArrayLike<number>;
  switch (code) {
    case 'F32': values = new Float32Array(buf); break;
    case 'F64': values = new Float64Array(buf); break;
    case 'F16': if (to === 'float16') return new Uint16Array(buf); values = decodeF16(new Uint16Array(buf)); break;
    case 'BF16': if (to === 'bfloat16') return new Uint16Array(buf); values = decodeBf16(new Uint16Array(buf)); break;
    case 'I64': {
      const big = new BigInt64Array(buf);
      const out = new Int32Array(big.length);
      for (let i = 0; i < big.length; i++) out[i] = Number(big[i]);
      return out;
    }
    case 'I32': return new Int32Array(buf);
    case 'I8': return new Int8Array(buf);
    default: return new Uint8Array(buf);
  }
  if (to === 'float32') return values instanceof Float32Array ? values : Float32Array.from(values);
  if (to === 'float16') return encodeF16(values);
  return encodeBf16(values);
}
