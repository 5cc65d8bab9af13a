import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SafetensorsError, fromStorage, loadSafetensors, memory, openSafetensors, resetPeakMemory, saveSafetensors,
  serializeSafetensors, toBackend, type DType, type SafetensorsSource, type Tensor,
} from 'flashtensor';
import { CpuBackend } from '../../backends/cpu/backend.js';
import type { Backend, DataId } from '../../lib/backend.js';
import { storageCtor, type StorageArray } from '../../lib/dtype.js';
import { ENGINE } from '../../lib/engine.js';
import { encodeBf16, encodeF16 } from '../../lib/float16.js';
import { fixture, REPO_ROOT } from '../helpers/fixtures.js';

// ------------------------------------------------------------------------------------ helpers

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ft-safetensors-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Raw storage bytes of a tensor (float16/bfloat16 as bits). */
async function rawBytes(t: Tensor): Promise<Uint8Array> {
  const raw = await ENGINE.backendOf(t).read(t.dataId, t.size, t.dtype);
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice();
}

function raw(values: ArrayLike<number>, shape: number[], dtype: DType): Tensor {
  const Ctor = storageCtor(dtype);
  return fromStorage(Ctor.from(values) as StorageArray, shape, dtype);
}

/** A safetensors file from a header (object or exact JSON text) and data bytes. */
function stBytes(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function writeTmp(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** Expects a SafetensorsError whose message matches every pattern. */
async function expectStError(p: Promise<unknown>, ...patterns: (RegExp | string)[]): Promise<void> {
  const e = await rejection(p);
  expect(e, String(e)).to.be.instanceOf(SafetensorsError);
  for (const pat of patterns) {
    if (typeof pat === 'string') expect(e.message).to.include(pat);
    else expect(e.message).to.match(pat);
  }
}

/** A backend that keeps plain typed arrays (no heap views): exercises the generic read/write paths. */
class StoreBackend implements Backend {
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
const store = new StoreBackend('st-store');
ENGINE.registerBackend('st-store', () => store, -1);
// A CPU heap that is not shared: reads go through readSync (or a chunk copy) into fresh views.
ENGINE.registerBackend('st-cpu-unshared', () => {
  const b = new CpuBackend({ shared: false });
  Object.defineProperty(b, 'name', { value: 'st-cpu-unshared' });
  return b;
}, -1);

const cpuHeapBuffer = () => (ENGINE.backendSync('cpu') as CpuBackend).heap.memory.buffer;

/** A tensor of every dtype, with the awkward values: all 65,536 half bit patterns, extremes, 0-d, empty. */
function everyDtype(): Record<string, Tensor> {
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

async function expectSameTensors(got: Record<string, Tensor>, want: Record<string, Tensor>): Promise<void> {
  expect(Object.keys(got).sort()).to.deep.equal(Object.keys(want).sort());
  for (const k of Object.keys(want)) {
    expect(got[k].dtype, k).to.equal(want[k].dtype);
    expect(got[k].shape, k).to.deep.equal(want[k].shape);
    expect(Buffer.from(await rawBytes(got[k])).equals(Buffer.from(await rawBytes(want[k]))), `${k} bytes`).to.equal(true);
  }
}

const disposeAll = (r: Record<string, Tensor>) => Object.values(r).forEach((t) => t.dispose());

/** A file source that records every read (size, destination buffer). */
async function spySource(path: string, withSync = true) {
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

// ------------------------------------------------------------------------------------ tests

describe('safetensors', () => {
  let liveAtStart = 0;
  before(() => {
    liveAtStart = memory().numTensors;
  });
  after(() => expect(memory().numTensors, 'tensors leaked by the safetensors specs').to.equal(liveAtStart));

  it('the compiled modules import nothing from node:* statically (browser bundles stay free of node:fs)', () => {
    const lib = join(REPO_ROOT, 'dist', 'lib');
    const files = [join(lib, 'safetensors.js'), ...readdirSync(join(lib, 'safetensors')).filter((f) => f.endsWith('.js')).map((f) => join(lib, 'safetensors', f))];
    expect(files.length).to.be.at.least(5);
    for (const f of files) {
      const src = readFileSync(f, 'utf8');
      expect(src, f).to.not.match(/^\s*import\s[^;]*from\s*['"]node:/m);
      expect(src, f).to.not.match(/\bimport\s*\(\s*['"]node:/);
      expect(src, f).to.not.match(/\brequire\s*\(/);
    }
  });

  describe('round trip', () => {
    it('every dtype, 0-d and empty tensors, bit-exact (all f16/bf16 bit patterns, f32 NaN payloads)', async () => {
      const want = everyDtype();
      const p = join(tmp, 'every.safetensors');
      await saveSafetensors(p, want, { format: 'pt', note: 'ünïcode ✓' });
      const { tensors, metadata } = await loadSafetensors(p);
      expect(metadata).to.deep.equal({ format: 'pt', note: 'ünïcode ✓' });
      await expectSameTensors(tensors, want);
      const f = await openSafetensors(p);
      expect(f.entry('scalar_u8')).to.include({ dtype: 'U8', byteLength: 1 });
      expect(f.entry('scalar_u8')!.shape).to.deep.equal([]);
      expect(f.entry('empty_bf16')).to.include({ dtype: 'BF16', byteLength: 0 });
      await f.close();
      disposeAll(tensors);
      disposeAll(want);
    });

    it('serializeSafetensors gives the same bytes as the file, and loads back from memory', async () => {
      const want = everyDtype();
      const p = join(tmp, 'ser.safetensors');
      await saveSafetensors(p, new Map(Object.entries(want)));
      const bytes = await serializeSafetensors(Object.entries(want));
      expect(Buffer.from(bytes).equals(readFileSync(p))).to.equal(true);
      const fromMemory = await loadSafetensors(bytes);
      await expectSameTensors(fromMemory.tensors, want);
      const fromArrayBuffer = await loadSafetensors(bytes.slice().buffer);
      await expectSameTensors(fromArrayBuffer.tensors, want);
      disposeAll(fromMemory.tensors);
      disposeAll(fromArrayBuffer.tensors);
      disposeAll(want);
    });

    it('tensors on a backend without heap views save and load (generic paths)', async () => {
      const cpu = everyDtype();
      const moved: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(cpu)) moved[k] = await toBackend(t, 'st-store');
      const p = join(tmp, 'store.safetensors');
      await saveSafetensors(p, moved);
      const back = await loadSafetensors(p, { backend: 'st-store' });
      for (const t of Object.values(back.tensors)) expect(t.backendName).to.equal('st-store');
      await expectSameTensors(back.tensors, cpu);
      disposeAll(back.tensors);
      disposeAll(moved);
      disposeAll(cpu);
    });

    it('a non-shared CPU heap is filled through readSync, or a chunk copy for async-only sources', async () => {
      const want = everyDtype();
      const p = join(tmp, 'unshared.safetensors');
      await saveSafetensors(p, want);
      const viaSync = await loadSafetensors(p, { backend: 'st-cpu-unshared', chunkBytes: 4096 });
      await expectSameTensors(viaSync.tensors, want);
      const { src } = await spySource(p, false);
      const viaCopy = await loadSafetensors(src, { backend: 'st-cpu-unshared', chunkBytes: 4096 });
      await expectSameTensors(viaCopy.tensors, want);
      // Saving from the non-shared heap goes through writeSync.
      const p2 = join(tmp, 'unshared2.safetensors');
      await saveSafetensors(p2, viaSync.tensors);
      expect(readFileSync(p2).equals(readFileSync(p))).to.equal(true);
      disposeAll(viaSync.tensors);
      disposeAll(viaCopy.tensors);
      disposeAll(want);
    });
  });

  describe('layout matches the reference writer', () => {
    it('sorts by dtype (F32, I32, BF16, F16, I8, U8, BOOL) then name; packs contiguously; pads the JSON with spaces to 8', async () => {
      const t = {
        z_bool: raw([1], [1], 'bool'),
        a_u8: raw([1, 2, 3], [3], 'uint8'),
        b_f16: raw([1], [1], 'float16'),
        a_f16: raw([2], [1], 'float16'),
        c_i8: raw([5], [1], 'int8'),
        y_bf16: raw([3], [1], 'bfloat16'),
        b_f32: raw([1], [1], 'float32'),
        a_i32: raw([1], [], 'int32'),
        'B_f32': raw([1, 2], [2], 'float32'),
      };
      const bytes = await serializeSafetensors(t, { format: 'pt' });
      const json =
        '{"__metadata__":{"format":"pt"},' +
        '"B_f32":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
        '"b_f32":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},' +
        '"a_i32":{"dtype":"I32","shape":[],"data_offsets":[12,16]},' +
        '"y_bf16":{"dtype":"BF16","shape":[1],"data_offsets":[16,18]},' +
        '"a_f16":{"dtype":"F16","shape":[1],"data_offsets":[18,20]},' +
        '"b_f16":{"dtype":"F16","shape":[1],"data_offsets":[20,22]},' +
        '"c_i8":{"dtype":"I8","shape":[1],"data_offsets":[22,23]},' +
        '"a_u8":{"dtype":"U8","shape":[3],"data_offsets":[23,26]},' +
        '"z_bool":{"dtype":"BOOL","shape":[1],"data_offsets":[26,27]}}';
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect(n % 8).to.equal(0);
      expect(n - json.length).to.be.within(0, 7);
      expect(new TextDecoder().decode(bytes.subarray(8, 8 + n))).to.equal(json + ' '.repeat(n - json.length));
      expect(bytes.length).to.equal(8 + n + 27);
      // No metadata argument → no __metadata__ key; an empty set is "{}" padded.
      const empty = await serializeSafetensors({});
      expect(new TextDecoder().decode(empty)).to.equal('\x08\0\0\0\0\0\0\0{}      ');
      disposeAll(t);
    });

    it('re-saving every fixture model.safetensors reproduces Python safetensors byte for byte', async function () {
      const models = readdirSync(fixture('models')).filter((m) => existsSync(fixture('models', m, 'model.safetensors')));
      expect(models.length).to.be.greaterThan(3);
      for (const m of models) {
        const path = fixture('models', m, 'model.safetensors');
        const { tensors, metadata } = await loadSafetensors(path);
        const bytes = await serializeSafetensors(tensors, metadata);
        expect(Buffer.from(bytes).equals(readFileSync(path)), m).to.equal(true);
        disposeAll(tensors);
      }
    });

    it('orders mixed dtypes like a Python-written file (F16 before BOOL, names sorted within a dtype)', async () => {
      const path = fixture('sdpa', 'mask_bool_B1LS.f16.safetensors');
      const f = await openSafetensors(path);
      const pyOrder = f.entries().filter((e) => e.dtype !== 'F64').map((e) => e.name);
      await f.close();
      const { tensors } = await loadSafetensors(path, { filter: pyOrder });
      const mine = await openSafetensors(await serializeSafetensors(tensors));
      expect(mine.names).to.deep.equal(pyOrder);
      expect(new Set(mine.entries().map((e) => e.dtype))).to.deep.equal(new Set(['F16', 'BOOL']));
      disposeAll(tensors);
    });
  });

  describe('fixtures', () => {
    it('reads F64 (sdpa/plain_e8) as float32, rounded to nearest', async () => {
      const path = fixture('sdpa', 'plain_e8.safetensors');
      const f = await openSafetensors(path);
      expect(f.names).to.deep.equal(['k', 'out', 'q', 'v']);
      for (const name of f.names) {
        const e = f.entry(name)!;
        expect(e).to.include({ dtype: 'F64', loadDType: 'float32' });
        expect(e.shape).to.deep.equal([1, 2, 5, 8]);
        const f64 = new Float64Array((await f.readBytes(name)).buffer);
        const t = await f.read(name);
        expect(t.dtype).to.equal('float32');
        expect(Array.from(await t.data())).to.deep.equal(Array.from(f64, Math.fround));
        t.dispose();
      }
      await f.close();
    });

    it('reads llama_gqa/expected.safetensors: I64 → int32 equal to expected.json, F32 bit-exact', async () => {
      const dir = fixture('models', 'llama_gqa');
      const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
      const { tensors, metadata } = await loadSafetensors(join(dir, 'expected.safetensors'));
      expect(metadata).to.deep.equal({});
      expect(Object.keys(tensors).sort()).to.deep.equal(expected.expected_tensors.map((e: { name: string }) => e.name).sort());
      for (const e of expected.expected_tensors as { name: string; shape: number[]; dtype: string }[]) {
        expect(tensors[e.name].shape, e.name).to.deep.equal(e.shape);
        expect(tensors[e.name].dtype, e.name).to.equal(e.dtype === 'I64' ? 'int32' : 'float32');
      }
      for (const k of ['input_ids', 'attention_mask', 'position_ids']) expect(await tensors[k].array(), k).to.deep.equal(expected.inputs[k]);
      expect(await tensors.greedy_new_tokens_sdpa.array()).to.deep.equal(expected.generation.greedy_new_tokens_sdpa);
      const f = await openSafetensors(join(dir, 'expected.safetensors'));
      const logits = new Float32Array((await f.readBytes('logits_sdpa')).buffer);
      await f.close();
      expect(Buffer.from(await rawBytes(tensors.logits_sdpa)).equals(Buffer.from(logits.buffer))).to.equal(true);
      disposeAll(tensors);
    });

    it('reads llama_gqa/model.safetensors with the names and shapes of expected.json → model_safetensors', async () => {
      const dir = fixture('models', 'llama_gqa');
      const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
      const { tensors, metadata } = await loadSafetensors(join(dir, 'model.safetensors'));
      expect(metadata).to.deep.equal({ format: 'pt' });
      const want = expected.model_safetensors as { name: string; shape: number[]; dtype: string }[];
      expect(Object.keys(tensors)).to.have.length(want.length);
      for (const w of want) {
        expect(tensors[w.name], w.name).to.not.equal(undefined);
        expect(tensors[w.name].shape, w.name).to.deep.equal(w.shape);
        expect(w.dtype).to.equal('F32');
        expect(tensors[w.name].dtype).to.equal('float32');
      }
      disposeAll(tensors);
    });

    it('reads U8 / I64 / F32 together (mllama image_processor_expected)', async () => {
      const { tensors } = await loadSafetensors(fixture('models', 'mllama', 'image_processor_expected.safetensors'));
      expect(tensors.image_0.dtype).to.equal('uint8');
      expect(tensors.image_0.shape).to.deep.equal([40, 90, 3]);
      expect(await tensors.num_tiles.array()).to.deep.equal([[3], [2], [4]]);
      expect(await tensors.aspect_ratio_ids.array()).to.deep.equal([[3], [5], [6]]);
      disposeAll(tensors);
    });
  });

  describe('sharded checkpoints', () => {
    async function writeSharded(dir: string) {
      const a = { 'model.a': raw([1, 2, 3], [3], 'float32'), 'model.b': raw([7], [], 'int32') };
      const b = { 'model.c': raw([0x3c00, 0xc000], [2], 'float16'), 'lm_head.weight': raw([5, 6], [1, 2], 'uint8') };
      await saveSafetensors(join(dir, 'model-00001-of-00002.safetensors'), a, { format: 'pt' });
      await saveSafetensors(join(dir, 'model-00002-of-00002.safetensors'), b, { format: 'pt', extra: 'x' });
      const weight_map: Record<string, string> = {};
      for (const k of Object.keys(a)) weight_map[k] = 'model-00001-of-00002.safetensors';
      for (const k of Object.keys(b)) weight_map[k] = 'model-00002-of-00002.safetensors';
      const index = join(dir, 'model.safetensors.index.json');
      writeFileSync(index, JSON.stringify({ metadata: { total_size: 3 * 4 + 4 + 4 + 2 }, weight_map }));
      return { a, b, index, weight_map };
    }

    it('loads every tensor of two shards through the index, with metadata', async () => {
      const dir = mkdtempSync(join(tmp, 'sharded-'));
      const { a, b, index } = await writeSharded(dir);
      const got = await loadSafetensors(index);
      await expectSameTensors(got.tensors, { ...a, ...b });
      expect(got.metadata).to.deep.equal({ format: 'pt', extra: 'x' });
      expect(got.indexMetadata).to.deep.equal({ total_size: 22 });
      const f = await openSafetensors(index);
      expect(f.files).to.deep.equal([join(dir, 'model-00001-of-00002.safetensors'), join(dir, 'model-00002-of-00002.safetensors')]);
      expect(f.entry('model.c')!.file).to.equal(join(dir, 'model-00002-of-00002.safetensors'));
      expect(f.totalBytes).to.equal(22);
      await f.close();
      const some = await loadSafetensors(index, { filter: ['model.b', 'lm_head.weight'] });
      expect(Object.keys(some.tensors)).to.deep.equal(['model.b', 'lm_head.weight']);
      disposeAll(got.tensors);
      disposeAll(some.tensors);
      disposeAll(a);
      disposeAll(b);
    });

    it('rejects a missing shard, a name in two shards, a weight_map entry its shard lacks, escaping paths, bad JSON', async () => {
      const dir = mkdtempSync(join(tmp, 'sharded-bad-'));
      const { a, b, weight_map } = await writeSharded(dir);
      const idx = (name: string, content: unknown) => {
        const p = join(dir, name);
        writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
        return p;
      };
      await expectStError(
        loadSafetensors(idx('missing.index.json', { weight_map: { ...weight_map, 'x.y': 'model-00003-of-00003.safetensors' } })),
        "shard 'model-00003-of-00003.safetensors'", "'x.y'", 'does not exist', 'missing.index.json',
      );
      const dupT = { 'model.a': raw([1], [1], 'float32'), extra: raw([2], [1], 'float32') };
      await saveSafetensors(join(dir, 'dup.safetensors'), dupT);
      disposeAll(dupT);
      await expectStError(
        loadSafetensors(idx('dup.index.json', { weight_map: { ...weight_map, extra: 'dup.safetensors' } })),
        "tensor 'model.a' appears in two shards", 'dup.safetensors', 'model-00001-of-00002.safetensors',
      );
      await expectStError(
        loadSafetensors(idx('wrong.index.json', { weight_map: { ...weight_map, 'model.a': 'model-00002-of-00002.safetensors' } })),
        "tensor 'model.a'", "shard 'model-00002-of-00002.safetensors'", 'no tensor of that name',
      );
      await expectStError(loadSafetensors(idx('escape.index.json', { weight_map: { x: '../x.safetensors' } })), "'../x.safetensors'", 'inside');
      await expectStError(loadSafetensors(idx('bad.index.json', '{"weight_map": ')), 'not valid JSON');
      await expectStError(loadSafetensors(idx('nomap.index.json', { metadata: {} })), 'weight_map');
      await expectStError(loadSafetensors(join(dir, 'absent.index.json')), 'not found');
      disposeAll(a);
      disposeAll(b);
    });
  });

  describe('streaming, filters, progress, conversion', () => {
    let path: string;
    const sizes = { big: [256, 256], mid: [64, 64], small: [3] };
    before(async () => {
      const t: Record<string, Tensor> = {};
      for (const [k, s] of Object.entries(sizes)) {
        const n = s.reduce((x, y) => x * y, 1);
        t[k] = raw(Float32Array.from({ length: n }, (_, i) => i * 0.5 - 7), s, 'float32');
      }
      t.ids = raw([1, -5, 300, 2147483647], [4], 'int32');
      path = join(tmp, 'stream.safetensors');
      await saveSafetensors(path, t);
      disposeAll(t);
    });

    it('onTensor hands over one tensor at a time in file order; peak memory stays at the largest tensor', async () => {
      const base = memory().numBytes;
      resetPeakMemory();
      const seen: string[] = [];
      const res = await loadSafetensors(path, {
        onTensor: async (name, t, entry) => {
          seen.push(name);
          expect(entry.name).to.equal(name);
          expect(t.shape).to.deep.equal(entry.shape);
          t.dispose();
        },
      });
      expect(Object.keys(res.tensors)).to.have.length(0);
      const f = await openSafetensors(path);
      expect(seen).to.deep.equal(f.names);
      await f.close();
      expect(memory().numBytes).to.equal(base);
      expect(memory().peakBytes - base).to.equal(256 * 256 * 4);
    });

    it('filters by list or predicate; a missing listed name is an error', async () => {
      const byList = await loadSafetensors(path, { filter: ['small', 'ids'] });
      expect(Object.keys(byList.tensors).sort()).to.deep.equal(['ids', 'small']);
      const byFn = await loadSafetensors(path, { filter: (name, e) => e.byteLength > 100 && name !== 'big' });
      expect(Object.keys(byFn.tensors)).to.deep.equal(['mid']);
      await expectStError(loadSafetensors(path, { filter: ['small', 'nope'] }), "'nope'");
      disposeAll(byList.tensors);
      disposeAll(byFn.tensors);
    });

    it('reports progress monotonically up to the selected bytes, per chunk', async () => {
      const calls: [number, number][] = [];
      const res = await loadSafetensors(path, { chunkBytes: 4096, onProgress: (d, t) => calls.push([d, t]) });
      const total = (256 * 256 + 64 * 64 + 3 + 4) * 4;
      expect(calls.length).to.be.greaterThan(256 * 256 * 4 / 4096);
      expect(calls.every(([, t]) => t === total)).to.equal(true);
      for (let i = 1; i < calls.length; i++) expect(calls[i][0]).to.be.greaterThan(calls[i - 1][0]);
      expect(calls[calls.length - 1][0]).to.equal(total);
      disposeAll(res.tensors);
    });

    it('aborts with the signal and frees what was read', async () => {
      const before = memory().numTensors;
      const ac = new AbortController();
      const e = await rejection(loadSafetensors(path, { chunkBytes: 4096, signal: ac.signal, onProgress: (d) => d > 10000 && ac.abort() }));
      expect(e.name).to.equal('AbortError');
      expect(memory().numTensors).to.equal(before);
    });

    it('converts dtypes on load: float32 → float16/bfloat16 (RNE), int32 → float32, float → int truncates', async () => {
      const f = await openSafetensors(path);
      const src = new Float32Array((await f.readBytes('mid')).buffer);
      const h = await f.read('mid', { dtype: 'float16' });
      expect(Array.from(new Uint16Array((await rawBytes(h)).buffer))).to.deep.equal(Array.from(encodeF16(src)));
      const bh = await f.read('mid', { dtype: 'bfloat16' });
      expect(Array.from(new Uint16Array((await rawBytes(bh)).buffer))).to.deep.equal(Array.from(encodeBf16(src)));
      const ids = await f.read('ids', { dtype: 'float32' });
      expect(Array.from(await ids.data())).to.deep.equal([1, -5, 300, 2147483648]);
      const small = await f.read('small', { dtype: 'int8' });
      expect(Array.from(await small.data())).to.deep.equal([-7, -6, -6]);
      await expectStError(f.read('ids', { dtype: 'int8' }), "tensor 'ids'", 'element 2 = 300', 'int8');
      const asBool = await f.read('small', { dtype: 'bool' });
      expect(Array.from(await asBool.data())).to.deep.equal([1, 1, 1]);
      const fromStore = await f.read('mid', { dtype: 'float16', backend: 'st-store' });
      expect(Buffer.from(await rawBytes(fromStore)).equals(Buffer.from(await rawBytes(h)))).to.equal(true);
      for (const t of [h, bh, ids, small, asBool, fromStore]) t.dispose();
      await f.close();
    });

    it('converts f16 ↔ bf16 ↔ f32 from the file exactly (all bit patterns)', async () => {
      const all = raw(Array.from({ length: 65536 }, (_, i) => i), [65536], 'float16');
      const p = join(tmp, 'halves.safetensors');
      await saveSafetensors(p, { h: all });
      const wide = (await loadSafetensors(p, { dtype: 'float32' })).tensors.h;
      const direct = await all.data();
      const wideVals = await wide.data();
      for (let i = 0; i < 65536; i++) {
        if (!Object.is(wideVals[i], direct[i]) && !(Number.isNaN(wideVals[i]) && Number.isNaN(direct[i]))) throw new Error(`f16 bits ${i}`);
      }
      const asBf = (await loadSafetensors(p, { dtype: () => 'bfloat16' })).tensors.h;
      expect(Array.from(new Uint16Array((await rawBytes(asBf)).buffer))).to.deep.equal(Array.from(encodeBf16(direct)));
      for (const t of [all, wide, asBf]) t.dispose();
    });

    it('I64: in-range values load as int32; a value past int32 is an error naming the tensor and the value', async () => {
      const data = new BigInt64Array([0n, -1n, 2147483647n, -2147483648n, 3000000000n]);
      const bytes = stBytes(
        { ok: { dtype: 'I64', shape: [2, 2], data_offsets: [0, 32] }, big: { dtype: 'I64', shape: [5], data_offsets: [32, 72] } },
        new Uint8Array([...new Uint8Array(data.buffer, 0, 32), ...new Uint8Array(data.buffer)]),
      );
      const p = writeTmp('i64.safetensors', bytes);
      const f = await openSafetensors(p);
      const ok = await f.read('ok');
      expect(await ok.array()).to.deep.equal([[0, -1], [2147483647, -2147483648]]);
      await expectStError(f.read('big'), "tensor 'big'", 'element 4 = 3000000000', 'int32', 'i64.safetensors');
      const asF = await f.read('big', { dtype: 'float32' });
      expect(Array.from(await asF.data())).to.deep.equal([0, -1, 2147483648, -2147483648, 3000000000]);
      ok.dispose();
      asF.dispose();
      await f.close();
    });
  });

  describe('unsupported dtypes', () => {
    it('a file with F8_E4M3 / I16 opens; reading them names the tensor and dtype; other tensors still load', async () => {
      const data = new Uint8Array(4 + 4 + 4).map((_, i) => i);
      const p = writeTmp('f8.safetensors', stBytes({
        fp8: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] },
        i16: { dtype: 'I16', shape: [2], data_offsets: [4, 8] },
        ok: { dtype: 'F32', shape: [], data_offsets: [8, 12] },
      }, data));
      const f = await openSafetensors(p);
      expect(f.entry('fp8')).to.include({ dtype: 'F8_E4M3', loadDType: null });
      await expectStError(f.read('fp8'), "tensor 'fp8'", "'F8_E4M3'", 'not supported', 'f8.safetensors');
      await expectStError(f.read('i16'), "tensor 'i16'", "'I16'");
      expect(Array.from(await f.readBytes('fp8'))).to.deep.equal([0, 1, 2, 3]);
      await f.close();
      await expectStError(loadSafetensors(p), "'fp8'", 'F8_E4M3');
      const { tensors } = await loadSafetensors(p, { filter: (_, e) => e.loadDType !== null });
      expect(Object.keys(tensors)).to.deep.equal(['ok']);
      disposeAll(tensors);
    });
  });

  describe('malformed files', () => {
    const f32 = (offsets: unknown, shape: unknown = [2]) => ({ dtype: 'F32', shape, data_offsets: offsets });
    const cases: [string, Uint8Array, (string | RegExp)[]][] = [
      ['short', new Uint8Array(5), ['5 bytes', 'shorter than the 8-byte']],
      ['empty', new Uint8Array(0), ['0 bytes']],
      ['past_end', stBytes({}, new Uint8Array(0), 1000n), ['header length 1000', 'past the end']],
      ['huge_header', stBytes({}, new Uint8Array(0), 100_000_001n), ['100000001', '100 MB']],
      ['huge_u64', stBytes({}, new Uint8Array(0), 0xffffffffffffffffn), ['18446744073709551615', '100 MB']],
      ['not_json', stBytes('{"a": '), ['not valid JSON']],
      ['not_utf8', (() => { const b = stBytes('{"\u00e9":1}'); b[10] = 0xff; return b; })(), ['not valid UTF-8']],
      ['array', stBytes([1, 2]), ['must be a JSON object', 'array']],
      ['null', stBytes('null'), ['must be a JSON object', 'null']],
      ['entry_not_object', stBytes({ w: 3 }), ["tensor 'w'", 'entry must be an object']],
      ['entry_array', stBytes({ w: [1] }), ["tensor 'w'", 'entry must be an object']],
      ['dtype_not_string', stBytes({ w: { dtype: 5, shape: [], data_offsets: [0, 0] } }), ["tensor 'w'", 'dtype must be a string']],
      ['shape_negative', stBytes({ w: f32([0, 8], [2, -1]) }, new Uint8Array(8)), ["tensor 'w'", 'shape must be an array of non-negative integers', '[2,-1]']],
      ['shape_fraction', stBytes({ w: f32([0, 8], [2.5]) }, new Uint8Array(8)), ["tensor 'w'", 'shape must']],
      ['shape_missing', stBytes({ w: { dtype: 'F32', data_offsets: [0, 0] } }), ["tensor 'w'", 'shape must']],
      ['shape_string', stBytes({ w: f32([0, 8], '2') }, new Uint8Array(8)), ["tensor 'w'", 'shape must']],
      ['offsets_three', stBytes({ w: f32([0, 8, 9]) }, new Uint8Array(8)), ["tensor 'w'", 'data_offsets must be two non-negative integers']],
      ['offsets_reversed', stBytes({ w: f32([8, 0]) }, new Uint8Array(8)), ["tensor 'w'", 'begin <= end', '[8,0]']],
      ['offsets_missing', stBytes({ w: { dtype: 'F32', shape: [2] } }, new Uint8Array(8)), ["tensor 'w'", 'data_offsets must']],
      ['offsets_fraction', stBytes({ w: f32([0, 7.5]) }, new Uint8Array(8)), ["tensor 'w'", 'data_offsets must']],
      ['offsets_outside', stBytes({ w: f32([8, 16]) }, new Uint8Array(8)), ["tensor 'w'", 'outside the data section', '8 bytes']],
      ['overlap', stBytes({ a: f32([0, 8]), b: f32([4, 12]) }, new Uint8Array(12)), ["'a' [0, 8]", "'b' [4, 12]", 'overlap']],
      ['same_range', stBytes({ a: f32([0, 8]), b: f32([0, 8]) }, new Uint8Array(8)), ["'a'", "'b'", 'overlap']],
      ['size_mismatch', stBytes({ w: f32([0, 12]) }, new Uint8Array(12)), ["tensor 'w'", 'needs 8 bytes', 'span 12']],
      ['size_mismatch_unknown_to_us', stBytes({ w: { dtype: 'I16', shape: [3], data_offsets: [0, 4] } }, new Uint8Array(4)), ["tensor 'w'", 'I16 needs 6 bytes']],
      ['metadata_not_object', stBytes({ __metadata__: 'pt' }), ['__metadata__ must be an object']],
      ['metadata_not_strings', stBytes({ __metadata__: { format: 'pt', total: 5 } }), ['__metadata__', "key 'total'", 'number 5']],
    ];
    for (const [name, bytes, patterns] of cases) {
      it(`rejects ${name}`, async () => {
        const file = `bad_${name}.safetensors`;
        const p = writeTmp(file, bytes);
        await expectStError(openSafetensors(p), file, ...patterns);
        await expectStError(loadSafetensors(bytes), ...patterns);
      });
    }

    it('accepts header whitespace padding, gaps and trailing bytes, and zero-size tensors anywhere', async () => {
      const data = new Uint8Array(24);
      new Float32Array(data.buffer, 4, 2).set([1.5, -2]);
      const bytes = stBytes('\n {"e":{"dtype":"F32","shape":[0,3],"data_offsets":[6,6]},"w":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}  \t', data);
      const { tensors } = await loadSafetensors(bytes);
      expect(Array.from(await tensors.w.data())).to.deep.equal([1.5, -2]);
      expect(tensors.e.shape).to.deep.equal([0, 3]);
      disposeAll(tensors);
    });

    it('a file truncated after opening fails with a SafetensorsError, not a RangeError', async () => {
      const p = join(tmp, 'trunc.safetensors');
      const w = raw(new Float32Array(1000), [1000], 'float32');
      await saveSafetensors(p, { w });
      w.dispose();
      const f = await openSafetensors(p);
      writeFileSync(p, readFileSync(p).subarray(0, 200));
      await expectStError(f.read('w'), 'ended after', "tensor 'w'");
      await f.close();
    });
  });

  describe('memory', () => {
    it('never reads more than one chunk at once, reads each byte once, straight into the tensor heap buffer', async () => {
      const n = 512 * 1024; // 2 MiB of float32, read with a 64 KiB chunk limit
      const big = raw(Float32Array.from({ length: n }, (_, i) => i), [512, 1024], 'float32');
      const p = join(tmp, 'mem.safetensors');
      const small = raw([1, 2], [2], 'int8');
      await saveSafetensors(p, { big, small });
      big.dispose();
      small.dispose();
      const fileSize = readFileSync(p).length;
      const { src, reads } = await spySource(p);
      const base = memory().numBytes;
      resetPeakMemory();
      const { tensors } = await loadSafetensors(src, { chunkBytes: 64 * 1024 });
      expect(Math.max(...reads.map((r) => r.length))).to.be.at.most(64 * 1024);
      expect(reads.reduce((a, r) => a + r.length, 0)).to.equal(fileSize);
      const dataStart = 8 + Number(readFileSync(p).readBigUInt64LE(0));
      const tensorReads = reads.filter((r) => r.position >= dataStart);
      expect(tensorReads.length).to.be.at.least(n * 4 / (64 * 1024));
      expect(tensorReads.every((r) => r.inHeap)).to.equal(true, 'tensor bytes land in the heap');
      // Engine accounting: exactly the tensors' bytes were allocated, nothing file-sized on top.
      expect(memory().peakBytes - base).to.equal(n * 4 + 2);
      expect((await tensors.big.data())[n - 1]).to.equal(n - 1);
      disposeAll(tensors);
    });

    it('converting F64 → float32 allocates only the float32 result and reads in bounded chunks', async () => {
      const n = 64 * 1024;
      const f64 = Float64Array.from({ length: n }, (_, i) => i / 3);
      const p = writeTmp('mem64.safetensors', stBytes({ x: { dtype: 'F64', shape: [n], data_offsets: [0, n * 8] } }, new Uint8Array(f64.buffer)));
      const { src, reads } = await spySource(p);
      const base = memory().numBytes;
      resetPeakMemory();
      const { tensors } = await loadSafetensors(src, { chunkBytes: 32 * 1024 });
      expect(Math.max(...reads.map((r) => r.length))).to.be.at.most(32 * 1024);
      expect(memory().peakBytes - base).to.equal(n * 4);
      expect(Array.from((await tensors.x.data()).subarray(0, 4))).to.deep.equal(Array.from(f64.subarray(0, 4), Math.fround));
      disposeAll(tensors);
    });
  });

  describe('saving', () => {
    it('is atomic: a tensor read that fails midway leaves the old file intact and no temp file', async () => {
      const dir = mkdtempSync(join(tmp, 'atomic-'));
      const p = join(dir, 'model.safetensors');
      const first = { w: raw([1, 2, 3], [3], 'float32') };
      await saveSafetensors(p, first);
      const old = readFileSync(p);
      const good = raw(new Float32Array(4096), [4096], 'float32');
      const onCpu = raw([1, 2], [2], 'float16');
      const bad = await toBackend(onCpu, 'st-store'); // F16 sorts after F32: written second
      onCpu.dispose();
      store.failReads = true;
      try {
        const e = await rejection(saveSafetensors(p, { a_good: good, b_bad: bad }));
        expect(e.message).to.include('device lost');
      } finally {
        store.failReads = false;
      }
      expect(readFileSync(p).equals(old)).to.equal(true);
      expect(readdirSync(dir)).to.deep.equal(['model.safetensors']);
      // A success replaces the file and leaves nothing else behind.
      await saveSafetensors(p, { a_good: good, b_bad: bad });
      expect(readdirSync(dir)).to.deep.equal(['model.safetensors']);
      const reopened = await openSafetensors(p);
      expect(reopened.names).to.deep.equal(['a_good', 'b_bad']);
      await reopened.close();
      for (const t of [first.w, good, bad]) t.dispose();
    });

    it('validates before touching the disk: disposed tensors, reserved or duplicate names, non-string metadata', async () => {
      const dir = mkdtempSync(join(tmp, 'validate-'));
      const p = join(dir, 'x.safetensors');
      const gone = raw([1], [1], 'float32');
      gone.dispose();
      await expectStError(saveSafetensors(p, { gone }), "'gone'", 'disposed');
      const t = raw([1], [1], 'float32');
      await expectStError(saveSafetensors(p, { __metadata__: t }), 'reserved');
      await expectStError(saveSafetensors(p, [['a', t], ['a', t]]), "'a'", 'twice');
      await expectStError(saveSafetensors(p, { a: t }, { n: 5 } as never), "key 'n'");
      await expectStError(saveSafetensors(p, { a: 5 } as never), "'a' is not a Tensor");
      expect(readdirSync(dir)).to.deep.equal([]);
      t.dispose();
    });

    it('can save a view (reshape) and the same tensor under two names', async () => {
      const t = raw([1, 2, 3, 4], [4], 'int32');
      const bytes = await serializeSafetensors({ a: t, b: t });
      const { tensors } = await loadSafetensors(bytes);
      expect(await tensors.a.array()).to.deep.equal([1, 2, 3, 4]);
      expect(await tensors.b.array()).to.deep.equal([1, 2, 3, 4]);
      disposeAll(tensors);
      t.dispose();
    });
  });
});
