/**
 * A checkpoint as the loader sees it: a folder's `model.safetensors` or sharded
 * `model.safetensors.index.json`, listed by header (names, dtypes, shapes) and read one tensor at
 * a time, converted to the requested dtype while it is read (`openSafetensors` streams each
 * tensor's bytes straight into its final storage).
 */

import type { DType } from '../../lib/dtype.js';
import { SafetensorsError } from '../../lib/errors.js';
import { openSafetensors, saveBytesAs } from '../../lib/safetensors.js';
import { fromStorage } from '../../ops/creation.js';
import type { Tensor } from '../../lib/tensor.js';

/** One tensor listed in a checkpoint header. */
export interface CheckpointEntry {
  name: string;
  /** As stored: 'F32', 'F16', 'BF16', 'I64', 'I32', 'I8', 'U8', 'BOOL', … */
  dtype: string;
  shape: readonly number[];
  byteLength: number;
  file: string;
}

/** An opened checkpoint. */
export interface Checkpoint {
  /** Every tensor, in file order (shard by shard). */
  entries: CheckpointEntry[];
  /** Bytes of tensor data in total. */
  totalBytes: number;
  /** Reads one tensor; floating-point tensors are converted to `dtype` when given (others load as stored, I64 → int32). */
  read(name: string, dtype?: DType): Promise<Tensor>;
  /** Reads one tensor's stored bytes as a uint8 tensor marked (`saveBytesAs`) with its stored dtype and shape. */
  readRaw(name: string): Promise<Tensor>;
  close(): Promise<void>;
}

const FLOAT_CODES = new Set(['F64', 'F32', 'F16', 'BF16']);

/** Finds the weights of a model folder: model.safetensors, else the sharded index. A file path is taken as is. */
export async function checkpointPath(dirOrFile: string): Promise<string> {
  const { existsSync, statSync } = await import('node:fs');
  const { join } = await import('node:path');
  if (existsSync(dirOrFile) && statSync(dirOrFile).isFile()) return dirOrFile;
  for (const f of ['model.safetensors', 'model.safetensors.index.json']) if (existsSync(join(dirOrFile, f))) return join(dirOrFile, f);
  const bin = existsSync(join(dirOrFile, 'pytorch_model.bin')) ? ' (it has pytorch_model.bin: pickle checkpoints are not supported; convert it to safetensors)' : '';
  throw new SafetensorsError(`no model.safetensors or model.safetensors.index.json in '${dirOrFile}'${bin}`);
}

/** Opens a model folder's weights (or a .safetensors / .index.json path). */
export async function openCheckpoint(dirOrFile: string): Promise<Checkpoint> {
  const file = await openSafetensors(await checkpointPath(dirOrFile));
  const entries: CheckpointEntry[] = file.entries().map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, byteLength: e.byteLength, file: e.file }));
  return {
    entries,
    totalBytes: file.totalBytes,
    read: (name, dtype) => file.read(name, dtype && FLOAT_CODES.has(file.entry(name)?.dtype ?? '') ? { dtype } : {}),
    readRaw: async (name) => {
      const bytes = await file.readBytes(name);
      const e = file.entry(name)!;
      return saveBytesAs(fromStorage(bytes, [bytes.length], 'uint8'), e.dtype, e.shape);
    },
    close: () => file.close(),
  };
}
