/** Helpers shared by the safetensors specs: raw-byte builders, error expectations, test backends. */

import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsError, fromStorage, type DType, type SafetensorsSource, type Tensor } from 'flashtensor';
import { CpuBackend } from '../../backends/cpu/backend.js';
import type { Backend, DataId } from '../../lib/backend.js';
import { storageCtor, type StorageArray } from '../../lib/dtype.js';
import { ENGINE } from '../../lib/engine.js';

// ------------------------------------------------------------------------------------ helpers

/** Scratch folder of the safetensors specs (removed after the run: a root-level hook). */
export const tmp = mkdtempSync(join(tmpdir(), 'ft-safetensors-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Raw storage bytes of a tensor (float16/bfloat16 as bits). */
export async function rawBytes(t: Tensor): Promise<Uint8Array> {
  const raw = await ENGINE.backendOf(t).read(t.dataId, t.size, t.dtype);
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice();
}

export function raw(values: ArrayLike<number>, shape: number[], dtype: DType): Tensor {
  const Ctor = storageCtor(dtype);
  return fromStorage(Ctor.from(values) as StorageArray, shape, dtype);
}

/** A safetensors file from a header (object or exact JSON text) and data bytes. */
export function stBytes(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

export function writeTmp(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** Expects a SafetensorsError whose message matches every pattern. */
export async function expectStError(p: Promise<unknown>, ...patterns: (RegExp | string)[]): Promise<void> {
  const e = await rejection(p);
  expect(e, String(e)).to.be.instanceOf(SafetensorsError);
  for (const pat of patterns) {
    if (typeof pat === 'string') expect(e.message).to.include(pat);
    else expect(e.message).to.match(pat);
  }
}

/** A backend that keeps plain typed arrays (no heap views): exercises the generic read/write paths. */
export class StoreBackend implements Backend {
  readonly store = new Map<DataId, StorageArray>();
  failReads = false;
  constructor(readonly name: string) {}
  write(values: StorageArray | null, size: number, dtype: DType): DataId {
    const id = { backendName: this.name };
    const a = new (storageCtor(dtype))(size) as StorageArray;
    if (values) a.set(values as never);
    this.store.set(id, a);
    return id;
  }
  async read(id: DataId): Promise<StorageArray> {
    if (this.failReads) throw new Error('store backend: device lost');
    return this.store.get(id)!.slice();
  }
  disposeData(id: DataId): void {
    this.store.delete(id);
  }
  dispose(): void {}
}
export const store = new StoreBackend('st-store');
ENGINE.registerBackend('st-store', () => store, -1);
// A CPU heap that is not shared: reads go through readSync (or a chunk copy) into fresh views.
ENGINE.registerBackend('st-cpu-unshared', () => {
  const b = new CpuBackend({ shared: false });
  Object.defineProperty(b, 'name', { value: 'st-cpu-unshared' });
  return b;
}, -1);

export const cpuHeapBuffer = () => (ENGINE.backendSync('cpu') as CpuBackend).heap.memory.buffer;

/** A tensor of every dtype, with the awkward values: all 65,536 half bit patterns, extremes, 0-d, empty. */
export function everyDtype(): Record<string, Tensor> {
  const all16 = Array.from({ length: 65536 }, (_, i) => i);
  const f32bits = new Uint32Array([0x7fc00001, 0xffc12345, 0x7f800000, 0xff800000, 0x00000001, 0x80000000, 0x3f800000, 0x7f7fffff]);
  return {
    f32: fromStorage(new Float32Array(f32bits.buffer), [2, 4], 'float32'),
    f16: raw(all16, [256, 256], 'float16'),
    bf16: raw(all16, [65536], 'bfloat16'),
    i32: raw([-2147483648, 2147483647, 0, -1, 123456789, 7], [3, 2], 'int32'),
    i8: raw(Array.from({ length: 256 }, (_, i) => i - 128), [256], 'int8'),
    u8: raw(Array.from({ length: 256 }, (_, i) => i), [16, 16], 'uint8'),
    bool: raw([1, 0, 0, 1, 1], [5], 'bool'),
    scalar_f32: raw([-2.5], [], 'float32'),
    scalar_f16: raw([0x7e00], [], 'float16'),
    scalar_bf16: raw([0x0001], [], 'bfloat16'),
    scalar_i32: raw([-7], [], 'int32'),
    scalar_i8: raw([-128], [], 'int8'),
    scalar_u8: raw([0], [], 'uint8'),
    scalar_bool: raw([1], [], 'bool'),
    empty_f32: raw([], [0], 'float32'),
    empty_bf16: raw([], [2, 0, 3], 'bfloat16'),
    empty_u8: raw([], [0, 4], 'uint8'),
  };
}

export async function expectSameTensors(got: Record<string, Tensor>, want: Record<string, Tensor>): Promise<void> {
  expect(Object.keys(got).sort()).to.deep.equal(Object.keys(want).sort());
  for (const k of Object.keys(want)) {
    expect(got[k].dtype, k).to.equal(want[k].dtype);
    expect(got[k].shape, k).to.deep.equal(want[k].shape);
    expect(Buffer.from(await rawBytes(got[k])).equals(Buffer.from(await rawBytes(want[k]))), `${k} bytes`).to.equal(true);
  }
}

export const disposeAll = (r: Record<string, Tensor>) => Object.values(r).forEach((t) => t.dispose());

/** A file source that records every read (size, destination buffer). */
export async function spySource(path: string, withSync = true) {
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  const reads: { length: number; position: number; inHeap: boolean }[] = [];
  const src: SafetensorsSource = {
    size,
    name: path,
    read: async (dst, position) => {
      reads.push({ length: dst.length, position, inHeap: dst.buffer === cpuHeapBuffer() });
      return (await fh.read(dst, 0, dst.length, position)).bytesRead;
    },
    close: () => fh.close(),
  };
  if (withSync) {
    const { readSync } = await import('node:fs');
    (src as { readSync?: SafetensorsSource['readSync'] }).readSync = (dst, position) => {
      reads.push({ length: dst.length, position, inHeap: dst.buffer === cpuHeapBuffer() });
      return readSync(fh.fd, dst, 0, dst.length, position);
    };
  }
  return { src, reads };
}
