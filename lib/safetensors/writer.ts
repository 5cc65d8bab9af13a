/**
 * Writing safetensors in the reference writer's canonical layout (see `layoutSafetensors`).
 * `saveSafetensors` streams tensors to a temporary file beside the target, one at a time, then
 * renames it into place; `serializeSafetensors` builds the bytes in memory (for browsers).
 */

import { bytesPerElement } from '../dtype.js';
import { ENGINE } from '../engine.js';
import { SafetensorsError } from '../errors.js';
import { Tensor } from '../tensor.js';
import { formatBits, layoutSafetensors, SAVE_DTYPE, show, type LayoutItem } from './format.js';
import { nodeModules, yieldToEventLoop } from './node.js';
import { hostViewBackend, isStableBuffer } from './reader.js';

/** Tensors to save: a record, a Map, or [name, tensor] pairs. */
export type SafetensorsTensorMap = Record<string, Tensor> | Map<string, Tensor> | Iterable<readonly [string, Tensor]>;

interface Item extends LayoutItem {
  tensor: Tensor;
}

const WRITE_CHUNK = 16 << 20;

/** uint8 tensors whose bytes are saved under another dtype code and shape (see `saveBytesAs`). */
const SAVED_AS = new WeakMap<Tensor, { dtype: string; shape: number[] }>();

/**
 * Marks a uint8 tensor as the raw bytes of a tensor stored with dtype code `dtype` and `shape`
 * (e.g. bitsandbytes' 4-bit codes in a float64 container, `bnb_4bit_quant_storage=float64`): the
 * writers save its bytes unchanged under that header entry. Returns the tensor.
 */
export function saveBytesAs(t: Tensor, dtype: string, shape: readonly number[]): Tensor {
  const bits = formatBits(dtype);
  if (bits === undefined) throw new SafetensorsError(`saveBytesAs: unknown dtype code ${show(dtype)}`);
  if (t.dtype !== 'uint8') throw new SafetensorsError(`saveBytesAs: expected a uint8 tensor of raw bytes, got ${t.dtype} [${t.shape}]`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || (n * bits) / 8 !== t.size) {
    throw new SafetensorsError(`saveBytesAs: ${dtype} [${shape}] needs ${(n * bits) / 8} bytes, the tensor holds ${t.size}`);
  }
  SAVED_AS.set(t, { dtype, shape: shape.slice() });
  return t;
}

/** The dtype code and shape a tensor's bytes are saved as, when marked by `saveBytesAs`. */
export function savedBytesAs(t: Tensor): { dtype: string; shape: number[] } | undefined {
  return SAVED_AS.get(t);
}

function prepare(op: string, tensors: SafetensorsTensorMap, metadata: Record<string, string> | undefined): Item[] {
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new SafetensorsError(`${op}: metadata must be an object mapping strings to strings, got ${show(metadata)}`);
    }
    for (const k of Object.keys(metadata)) {
      if (typeof metadata[k] !== 'string') {
        throw new SafetensorsError(`${op}: metadata must map strings to strings, but key '${k}' holds ${show(metadata[k])}`);
      }
    }
  }
  if (tensors === null || typeof tensors !== 'object') {
    throw new SafetensorsError(`${op}: expected a record, Map or iterable of name → Tensor, got ${show(tensors)}`);
  }
  const pairs: Iterable<readonly [string, unknown]> =
    Symbol.iterator in tensors ? (tensors as Iterable<readonly [string, Tensor]>) : Object.entries(tensors);
  const items: Item[] = [];
  const seen = new Set<string>();
  for (const [name, t] of pairs) {
    if (typeof name !== 'string') throw new SafetensorsError(`${op}: tensor names must be strings, got ${show(name)}`);
    if (name === '__metadata__') throw new SafetensorsError(`${op}: '__metadata__' is reserved and cannot name a tensor`);
    if (seen.has(name)) throw new SafetensorsError(`${op}: tensor name '${name}' is given twice`);
    seen.add(name);
    if (!(t instanceof Tensor)) throw new SafetensorsError(`${op}: '${name}' is not a Tensor (got ${show(t)})`);
    if (t.isDisposed) throw new SafetensorsError(`${op}: tensor '${name}' is disposed`);
    const as = SAVED_AS.get(t);
    items.push({ name, dtype: as?.dtype ?? SAVE_DTYPE[t.dtype], shape: as?.shape ?? t.shape, byteLength: t.size * bytesPerElement(t.dtype), tensor: t });
  }
  return items;
}

/** A tensor's raw bytes as a fresh copy (any backend). */
async function rawBytes(t: Tensor): Promise<Uint8Array> {
  const raw = await ENGINE.backendOf(t).read(t.dataId, t.size, t.dtype);
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

/**
 * Writes `tensors` to `path` as safetensors, with an optional `__metadata__` string map
 * (transformers writes `{format: 'pt'}`). Any backend; 0-d and empty tensors are fine.
 *
 * Atomic: the data goes to a temporary file in the same folder (`.<name>.<pid>.<random>.tmp`),
 * is flushed to disk, and is renamed over `path` only when complete; on any failure the
 * temporary file is removed and an existing `path` is left as it was. Tensors are streamed
 * one at a time (CPU tensors straight from the heap, others through one per-tensor copy).
 */
export async function saveSafetensors(path: string, tensors: SafetensorsTensorMap, metadata?: Record<string, string>): Promise<void> {
  const op = `saveSafetensors('${path}')`;
  const items = prepare(op, tensors, metadata);
  const { header, order } = layoutSafetensors(items, metadata);
  const { fs, path: pathMod } = await nodeModules('saveSafetensors');
  const dir = pathMod.dirname(path);
  const tmp = pathMod.join(dir, `.${pathMod.basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  const fh = await fs.promises.open(tmp, 'wx');
  let ok = false;
  try {
    let pos = 0;
    const write = async (bytes: Uint8Array) => {
      for (let o = 0; o < bytes.length; ) {
        const { bytesWritten } = await fh.write(bytes, o, bytes.length - o, pos);
        o += bytesWritten;
        pos += bytesWritten;
      }
    };
    await write(header);
    for (const { item } of order) {
      const t = item.tensor;
      if (t.isDisposed) throw new SafetensorsError(`${op}: tensor '${item.name}' was disposed while saving`);
      const host = hostViewBackend(ENGINE.backendOf(t));
      if (!host || item.byteLength === 0) {
        await write(await rawBytes(t));
        continue;
      }
      // Zero-copy from the heap: a fresh view per chunk (allocations may move non-shared memory);
      // async writes only from shared memory, which never moves.
      for (let o = 0; o < item.byteLength; o += WRITE_CHUNK) {
        const n = Math.min(WRITE_CHUNK, item.byteLength - o);
        if (t.isDisposed) throw new SafetensorsError(`${op}: tensor '${item.name}' was disposed while saving`);
        const v = host.view(t.dataId, t.size, t.dtype);
        const bytes = new Uint8Array(v.buffer, v.byteOffset + o, n);
        if (isStableBuffer(bytes.buffer)) {
          await write(bytes);
        } else {
          for (let w = 0; w < n; ) w += fs.writeSync(fh.fd, bytes, w, n - w, pos + w);
          pos += n;
          await yieldToEventLoop();
        }
      }
    }
    await fh.sync();
    await fh.close();
    await fs.promises.rename(tmp, path);
    ok = true;
  } finally {
    if (!ok) {
      await fh.close().catch(() => {});
      await fs.promises.unlink(tmp).catch(() => {});
    }
  }
}

/** The safetensors bytes of `tensors` in memory (same layout as `saveSafetensors`); works in browsers. */
export async function serializeSafetensors(tensors: SafetensorsTensorMap, metadata?: Record<string, string>): Promise<Uint8Array> {
  const items = prepare('serializeSafetensors', tensors, metadata);
  const { header, order, dataBytes } = layoutSafetensors(items, metadata);
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header);
  for (const { item, begin } of order) out.set(await rawBytes(item.tensor), header.length + begin);
  return out;
}
