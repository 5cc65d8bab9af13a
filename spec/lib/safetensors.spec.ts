import { expect } from 'chai';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, memory, openSafetensors, saveSafetensors, serializeSafetensors, toBackend, type Tensor } from 'flashtensor';
import { fixture, REPO_ROOT } from '../helpers/fixtures.js';

import { tmp, rawBytes, raw, expectStError, everyDtype, expectSameTensors, disposeAll, spySource } from '../helpers/safetensors.js';

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
});
