import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, memory, openSafetensors, resetPeakMemory, saveBytesAs, saveSafetensors, SafetensorsError, serializeSafetensors, toBackend, type Tensor } from 'flashtensor';
import { encodeBf16, encodeF16 } from '../../lib/float16.js';

import { tmp, rawBytes, raw, stBytes, writeTmp, rejection, expectStError, store, disposeAll, spySource } from '../helpers/safetensors.js';

// ------------------------------------------------------------------------------------ tests

describe('safetensors: streaming, bad files, memory, saving', () => {
  let liveAtStart = 0;
  before(() => {
    liveAtStart = memory().numTensors;
  });
  after(() => expect(memory().numTensors, 'tensors leaked by the safetensors specs').to.equal(liveAtStart));

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
    it('saveBytesAs writes a uint8 tensor\'s bytes under another dtype code and shape (a float64 container), in the canonical order', async () => {
      const bytes = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
      const t = saveBytesAs(raw(bytes, [16], 'uint8'), 'F64', [2, 1]);
      const small = raw([1, 2], [2], 'float32');
      const file = await openSafetensors(await serializeSafetensors({ b: small, a: t }));
      // F64 sorts before F32 (larger alignment first), as the reference writer orders it.
      expect(file.entries().map((e) => [e.name, e.dtype, e.shape])).to.deep.equal([['a', 'F64', [2, 1]], ['b', 'F32', [2]]]);
      expect(Array.from(await file.readBytes('a'))).to.deep.equal(Array.from(bytes));
      await file.close();
      expect(() => saveBytesAs(small, 'F64', [1])).to.throw(SafetensorsError, 'expected a uint8 tensor');
      expect(() => saveBytesAs(t, 'F64', [3, 1])).to.throw(SafetensorsError, 'F64 [3,1] needs 24 bytes, the tensor holds 16');
      expect(() => saveBytesAs(t, 'F65', [2])).to.throw(SafetensorsError, "unknown dtype code \"F65\"");
      disposeAll({ t, small });
    });

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
