/** Checkpoint format: keys, dtypes, JSON bytes, loading and validation, byte accounting (§7 items 18–24). */

import { expect } from 'chai';
import {
  BitsAndBytesConfig, cast, loadSafetensors, openSafetensors, saveQuantizedModel, dequantize4bit, disposeQuant4State, dynamicMapSigned, fromStorage, Int8Weight, Linear, Linear4bit,
  linearFormatFromKeys, linearWeightFromState, linearWeightFromStateAsync, loadQuantizedLinears, Module, NF4_CODE, pyFloat,
  pyFloatRepr, pyJsonDumps, Quant4Weight, quantize4bit, quantizeModel, quantStateJson, QuantStateError, tensor, zeros,
  type Tensor,
} from '../../index.js';
import { checkLeaks, expectThrow, normals, tit } from './helpers.js';

class Tiny extends Module {
  constructor(public q_proj: Linear, public down_proj: Linear, public lm_head: Linear) {
    super();
  }
  forward(x: Tensor): Tensor {
    const h = this.q_proj.forward(x);
    const h2 = this.down_proj.forward(h);
    h.dispose();
    const y = this.lm_head.forward(h2);
    h2.dispose();
    return y;
  }
}

function tiny(seed: number): Tiny {
  const lin = (n: number, k: number, s: number, bias: boolean) =>
    new Linear(tensor(normals(n * k, s, 0.2), [n, k]), bias ? tensor(normals(n, s + 1), [n]) : null);
  return new Tiny(lin(96, 64, seed, true), lin(64, 96, seed + 2, false), lin(40, 64, seed + 4, false));
}

/** Raw bytes of a tensor's storage; bfloat16 through its float32 decoding (a shift, so NaN bit patterns survive). */
function rawBytes(t: Tensor): Uint8Array {
  const d = t.dataSync();
  if (t.dtype === 'bfloat16') {
    const u = new Uint32Array(Float32Array.from(d).buffer);
    return new Uint8Array(Uint16Array.from(u, (x) => x >>> 16).buffer);
  }
  if (t.dtype === 'float16') throw new Error('rawBytes: float16 decoding does not keep NaN payloads');
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
}

/** Bit-exact copies of a state dict's tensors (as if read from a file); the caller disposes them. */
function copies(sd: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, t] of sd) {
    out.set(k, t.dtype === 'bfloat16' ? fromStorage(new Uint16Array(rawBytes(t).buffer), t.shape, 'bfloat16') : cast(t, t.dtype));
  }
  return out;
}

/** Disposes every tensor of a map. */
function disposeAll(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

describe('quant/serialization', () => {
  checkLeaks();

  it('key sets, dtypes and shapes per layer are exactly bitsandbytes\' (item 19)', () => {
    for (const [name, cfg] of [
      ['int8', new BitsAndBytesConfig({ loadIn8bit: true })],
      ['nf4', new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' })],
      ['fp4+dq', new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitUseDoubleQuant: true })],
    ] as const) {
      const m = tiny(1);
      quantizeModel(m, cfg);
      const sd = m.stateDict();
      const desc = Object.fromEntries([...sd].filter(([k]) => k.startsWith('q_proj.')).map(([k, t]) => [k, `${t.dtype} [${t.shape}]`]));
      if (name === 'int8') {
        expect(desc).to.deep.equal({
          'q_proj.weight': 'int8 [96,64]', 'q_proj.SCB': 'float32 [96]', 'q_proj.weight_format': 'uint8 []', 'q_proj.bias': 'float32 [96]',
        });
        expect(sd.get('q_proj.weight_format')!.dataSync()[0]).to.equal(0);
      } else if (name === 'nf4') {
        expect(desc).to.deep.equal({
          'q_proj.weight': 'uint8 [3072,1]', 'q_proj.weight.absmax': 'float32 [96]', 'q_proj.weight.quant_map': 'float32 [16]',
          'q_proj.weight.quant_state.bitsandbytes__nf4': `uint8 [${sd.get('q_proj.weight.quant_state.bitsandbytes__nf4')!.size}]`,
          'q_proj.bias': 'float32 [96]',
        });
      } else {
        expect(Object.keys(desc).sort()).to.deep.equal([
          'q_proj.bias', 'q_proj.weight', 'q_proj.weight.absmax', 'q_proj.weight.nested_absmax', 'q_proj.weight.nested_quant_map',
          'q_proj.weight.quant_map', 'q_proj.weight.quant_state.bitsandbytes__fp4',
        ]);
        expect(desc['q_proj.weight.absmax']).to.equal('uint8 [96]');
        expect(desc['q_proj.weight.nested_absmax']).to.equal('float32 [1]');
        expect(desc['q_proj.weight.nested_quant_map']).to.equal('float32 [256]');
      }
      // lm_head is skipped by default: stays a plain float weight.
      expect(sd.get('lm_head.weight')!.dtype).to.equal('float32');
      expect(sd.has('lm_head.SCB') || sd.has('lm_head.weight.absmax')).to.equal(false);
      m.dispose();
    }
  });

  it('save → load round trip is bit-exact for every tensor, and the reloaded model computes the same (item 18)', () => {
    for (const cfg of [
      new BitsAndBytesConfig({ loadIn8bit: true }),
      new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true }),
      new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'fp4', bnb4bitQuantStorage: 'bfloat16' }),
    ]) {
      const a = tiny(3);
      quantizeModel(a, cfg);
      const sd = a.stateDict();
      const b = tiny(3);
      const keys = new Set(sd.keys());
      const file = copies(sd);
      const loaded = loadQuantizedLinears(b, (k) => file.get(k), keys, cfg.toJSON());
      disposeAll(file); // the loader shares the data; the caller's handles can go
      expect(loaded).to.deep.equal(['q_proj', 'down_proj']);
      const sd2 = b.stateDict();
      expect([...sd2.keys()].sort()).to.deep.equal([...keys].sort());
      for (const [k, t] of sd) {
        const u = sd2.get(k)!;
        expect(`${u.dtype} [${u.shape}]`, k).to.equal(`${t.dtype} [${t.shape}]`);
        expect(Buffer.from(rawBytes(u)).equals(Buffer.from(rawBytes(t))), `bytes of ${k}`).to.equal(true);
      }
      const x = tensor(normals(3 * 64, 5), [3, 64]);
      const ya = a.forward(x);
      const yb = b.forward(x);
      expect(Array.from(yb.dataSync())).to.deep.equal(Array.from(ya.dataSync()));
      expect(b.getMemoryFootprint()).to.equal(a.getMemoryFootprint());
      for (const t of [x, ya, yb]) t.dispose();
      a.dispose();
      b.dispose();
    }
  });

  it('saveQuantizedModel → safetensors file + config.json → load: bit-exact, HF dtypes, 0-d U8 weight_format', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'ft-quant-'));
    try {
      for (const cfg of [
        new BitsAndBytesConfig({ loadIn8bit: true }),
        new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true, bnb4bitQuantStorage: 'bfloat16' }),
      ]) {
        const a = tiny(21);
        quantizeModel(a, cfg);
        await saveQuantizedModel(dir, a, cfg, { modelConfig: { model_type: 'tiny', rms_norm_eps: 1e-5 } });
        const file = await openSafetensors(join(dir, 'model.safetensors'));
        const dtypes = Object.fromEntries(file.entries().map((e) => [e.name, `${e.dtype} [${e.shape}]`]));
        expect(file.metadata).to.deep.equal({ format: 'pt' });
        await file.close();
        if (cfg.loadIn8bit) {
          expect(dtypes['q_proj.weight']).to.equal('I8 [96,64]');
          expect(dtypes['q_proj.SCB']).to.equal('F32 [96]');
          expect(dtypes['q_proj.weight_format']).to.equal('U8 []');
        } else {
          expect(dtypes['q_proj.weight']).to.equal('BF16 [1536,1]');
          expect(dtypes['q_proj.weight.absmax']).to.equal('U8 [96]');
          expect(dtypes['q_proj.weight.quant_state.bitsandbytes__nf4']).to.match(/^U8 \[\d+\]$/);
        }
        const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
        expect(config.model_type).to.equal('tiny');
        expect(BitsAndBytesConfig.fromJSON(config.quantization_config).toJSON()).to.deep.equal(cfg.toJSON());
        const { tensors } = await loadSafetensors(join(dir, 'model.safetensors'));
        const keys = new Set(Object.keys(tensors));
        const b = tiny(21);
        loadQuantizedLinears(b, (k) => tensors[k], keys, config.quantization_config);
        for (const t of Object.values(tensors)) t.dispose();
        const sa = a.stateDict();
        const sb = b.stateDict();
        for (const [k, t] of sa) expect(Buffer.from(rawBytes(sb.get(k)!)).equals(Buffer.from(rawBytes(t))), k).to.equal(true);
        a.dispose();
        b.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('Python float repr and json.dumps formatting (item 20)', () => {
    const cases: [number, string][] = [
      [6, '6.0'], [1e-5, '1e-05'], [0.0001, '0.0001'], [1e16, '1e+16'], [123456789, '123456789.0'], [-0, '-0.0'],
      [1.5e-7, '1.5e-07'], [0.1, '0.1'], [100, '100.0'], [1e22, '1e+22'], [0.031807661056518555, '0.031807661056518555'],
      [2.5e-300, '2.5e-300'], [-3.25, '-3.25'], [1234567890123456.7, '1234567890123456.8'], [12345678901234567890, '1.2345678901234567e+19'],
    ];
    for (const [x, s] of cases) expect(pyFloatRepr(x), String(x)).to.equal(s);
    expect(pyJsonDumps({ b: [1, 2], a: { x: pyFloat(6), y: null, z: [] }, e: pyFloat(1e-5) }, { indent: 2, sortKeys: true })).to.equal(
      '{\n  "a": {\n    "x": 6.0,\n    "y": null,\n    "z": []\n  },\n  "b": [\n    1,\n    2\n  ],\n  "e": 1e-05\n}',
    );
    expect(pyJsonDumps({ s: 'é"\\\n' })).to.equal('{"s": "\\u00e9\\"\\\\\\n"}');
    expect(() => pyJsonDumps({ x: 0.5 })).to.throw(/wrap floats with pyFloat/);
  });

  it('quant-state JSON bytes equal hand-written Python json.dumps strings (item 20)', () => {
    const fake = (extra: object) => ({ quantType: 'nf4', blocksize: 64, dtype: 'bfloat16', shape: [4096, 4096], ...extra }) as never;
    expect(quantStateJson(fake({}))).to.equal('{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [4096, 4096]}');
    expect(quantStateJson(fake({ nestedAbsmax: {}, nestedBlocksize: 256, offset: Math.fround(0.031807661056518555), shape: [128, 896] }))).to.equal(
      '{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [128, 896], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.031807661056518555}',
    );
    const w = tensor(normals(4 * 64, 1), [4, 64]);
    const q = Quant4Weight.fromFloat(w, { quantType: 'fp4', blocksize: 128 });
    expect(new TextDecoder().decode(q.quantStateTensor.dataSync() as Uint8Array)).to.equal(
      '{"quant_type": "fp4", "blocksize": 128, "dtype": "float32", "shape": [4, 64]}',
    );
    q.dispose();
    w.dispose();
  });

  tit('a Hub-style fixture (bfloat16 container, blocksize 128, nonzero nested offset) loads like the uint8 variant (item 21)', () => {
    const w = tensor(normals(16 * 64, 8, 0.05), [16, 64], 'bfloat16');
    const st = quantize4bit(w, { quantType: 'nf4', blocksize: 128, doubleQuant: true });
    expect(st.offset).to.be.greaterThan(0);
    const json = quantStateJson(st);
    expect(json).to.match(/"dtype": "bfloat16".*"nested_offset": 0\.\d+\}$/);
    const bytes = st.packed.dataSync() as Uint8Array;
    const P = 'model.layers.0.mlp.down_proj';
    const base = new Map<string, Tensor>([
      [`${P}.weight.absmax`, st.absmax],
      [`${P}.weight.quant_map`, st.quantMap],
      [`${P}.weight.nested_absmax`, st.nestedAbsmax!],
      [`${P}.weight.nested_quant_map`, st.nestedQuantMap!],
      [`${P}.weight.quant_state.bitsandbytes__nf4`, fromStorage(new TextEncoder().encode(json), [json.length], 'uint8')],
    ]);
    const variants: Record<string, Tensor> = {
      uint8: fromStorage(bytes.slice(), [bytes.length, 1], 'uint8'),
      bfloat16: fromStorage(new Uint16Array(bytes.slice().buffer), [bytes.length / 2, 1], 'bfloat16'),
      int8: fromStorage(new Int8Array(bytes.slice().buffer), [bytes.length, 1], 'int8'),
      float32: fromStorage(new Float32Array(bytes.slice().buffer), [bytes.length / 4, 1], 'float32'),
    };
    const outs: Record<string, Float32Array> = {};
    for (const [storage, packed] of Object.entries(variants)) {
      const sd = new Map(base);
      sd.set(`${P}.weight`, packed);
      const keys = new Set(sd.keys());
      expect(linearFormatFromKeys(P, keys)).to.equal('nf4');
      const file = copies(sd);
      const lw = linearWeightFromState(P, (k) => file.get(k), keys, { load_in_4bit: true, bnb_4bit_compute_dtype: 'bfloat16' }) as Quant4Weight;
      disposeAll(file);
      expect(lw.quantStorage).to.equal(storage);
      expect(lw.computeDtype).to.equal('bfloat16');
      expect(lw.state.offset).to.equal(st.offset);
      // Saving again writes the same container and bytes.
      const saved = lw.stateTensors()['weight'];
      expect(`${saved.dtype} [${saved.shape}]`).to.equal(`${packed.dtype} [${packed.shape}]`);
      outs[storage] = lw.dequantize('float32').dataSync() as Float32Array;
    }
    const ref = dequantize4bit(st, 'float32').dataSync();
    for (const o of Object.values(outs)) expect(Array.from(o)).to.deep.equal(Array.from(ref));
    disposeQuant4State(st);
  });

  it('linearWeightFromStateAsync matches the sync loader', async () => {
    const m = tiny(9);
    quantizeModel(m, new BitsAndBytesConfig({ loadIn8bit: true }));
    const sd = m.stateDict();
    const keys = new Set(sd.keys());
    const w = (await linearWeightFromStateAsync('q_proj', (k) => sd.get(k), keys, null)) as Int8Weight;
    expect(w).to.be.instanceOf(Int8Weight);
    expect(w.threshold).to.equal(6);
    w.dispose();
    const d = await linearWeightFromStateAsync('lm_head', (k) => sd.get(k), keys);
    expect(d.kind).to.equal('dense');
    d.dispose();
    m.dispose();
  });

  describe('the loader rejects inconsistent states, naming the tensor (item 22)', () => {
    const P = 'model.layers.3.self_attn.o_proj';
    function state4(opts: { dq?: boolean; quantType?: 'nf4' | 'fp4' } = {}): Map<string, Tensor> {
      const w = tensor(normals(8 * 64, 2), [8, 64]);
      const q = Quant4Weight.fromFloat(w, { quantType: opts.quantType ?? 'nf4', doubleQuant: opts.dq });
      w.dispose();
      const sd = new Map(Object.entries(q.stateTensors()).map(([k, t]) => [`${P}.${k}`, cast(t, t.dtype)]));
      q.dispose();
      return sd;
    }
    function reject(sd: Map<string, Tensor>, ...patterns: (string | RegExp)[]) {
      expectThrow(() => linearWeightFromState(P, (k) => sd.get(k), new Set(sd.keys())), QuantStateError, ...patterns);
      for (const t of sd.values()) t.dispose();
    }
    const setJson = (sd: Map<string, Tensor>, key: string, json: string) => {
      sd.get(key)?.dispose();
      sd.set(key, fromStorage(new TextEncoder().encode(json), [json.length], 'uint8'));
    };

    it('weight_format 2 / 3 (tiled GPU layouts)', () => {
      for (const [v, name] of [[2, 'col_turing'], [3, 'col_ampere']] as const) {
        const w = tensor(normals(4 * 8, 1), [4, 8]);
        const q = Int8Weight.fromFloat(w);
        w.dispose();
        const sd = new Map([
          [`${P}.weight`, cast(q.state.weight, 'int8')],
          [`${P}.SCB`, cast(q.state.scb, 'float32')],
          [`${P}.weight_format`, fromStorage(new Uint8Array([v]), [], 'uint8')],
        ]);
        q.dispose();
        reject(sd, `${P}.weight_format`, `layout ${v} (${name})`);
      }
    });

    it('quant_type / key-suffix mismatch', () => {
      const sd = state4();
      setJson(sd, `${P}.weight.quant_state.bitsandbytes__nf4`, '{"quant_type": "fp4", "blocksize": 64, "dtype": "float32", "shape": [8, 64]}');
      reject(sd, `${P}.weight.quant_state.bitsandbytes__nf4`, 'quant_type "fp4" does not match');
    });

    it('quant_map of the other type', () => {
      const sd = state4();
      sd.get(`${P}.weight.quant_map`)!.dispose();
      sd.set(`${P}.weight.quant_map`, fromStorage(Float32Array.from(NF4_CODE).reverse(), [16], 'float32'));
      reject(sd, `${P}.weight.quant_map`, 'quant map and quant_type disagree');
    });

    it('wrong byte length of the packed weight', () => {
      const sd = state4();
      sd.get(`${P}.weight`)!.dispose();
      sd.set(`${P}.weight`, zeros([255, 1], 'uint8'));
      reject(sd, `${P}.weight: holds 255 bytes`, 'needs ceil(512/2) = 256');
    });

    it('wrong absmax length or dtype', () => {
      const sd = state4();
      sd.get(`${P}.weight.absmax`)!.dispose();
      sd.set(`${P}.weight.absmax`, zeros([7]));
      reject(sd, `${P}.weight.absmax: must be float32 [8]`);
      const dq = state4({ dq: true });
      dq.get(`${P}.weight.absmax`)!.dispose();
      dq.set(`${P}.weight.absmax`, zeros([8]));
      reject(dq, `${P}.weight.absmax: must be uint8 [8]`, 'double-quantized');
    });

    it('nested blocksize ≠ 256', () => {
      const sd = state4({ dq: true });
      const key = `${P}.weight.quant_state.bitsandbytes__nf4`;
      const json = new TextDecoder().decode(sd.get(key)!.dataSync() as Uint8Array).replace('"nested_blocksize": 256', '"nested_blocksize": 128');
      setJson(sd, key, json);
      reject(sd, key, 'nested_blocksize must be 256, got 128');
    });

    it('nested tensors without nested JSON fields, and the reverse', () => {
      const sd = state4({ dq: true });
      const key = `${P}.weight.quant_state.bitsandbytes__nf4`;
      setJson(sd, key, '{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [8, 64]}');
      reject(sd, key, 'no nested_blocksize');
      const plain = state4();
      setJson(plain, key, '{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [8, 64], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 0.5}');
      reject(plain, key, 'found only part of them');
    });

    it('two bitsandbytes__* keys on one weight, an unknown one, and a bad blocksize', () => {
      const sd = state4();
      sd.set(`${P}.weight.quant_state.bitsandbytes__fp4`, cast(sd.get(`${P}.weight.quant_state.bitsandbytes__nf4`)!, 'uint8'));
      reject(sd, `${P}.weight: found 2 quant-state tensors`);
      const unk = state4();
      const t = unk.get(`${P}.weight.quant_state.bitsandbytes__nf4`)!;
      unk.delete(`${P}.weight.quant_state.bitsandbytes__nf4`);
      unk.set(`${P}.weight.quant_state.bitsandbytes__int4`, t);
      reject(unk, `${P}.weight.quant_state.bitsandbytes__int4`, "unknown quant state 'bitsandbytes__int4'");
      const bs = state4();
      setJson(bs, `${P}.weight.quant_state.bitsandbytes__nf4`, '{"quant_type": "nf4", "blocksize": 48, "dtype": "float32", "shape": [8, 64]}');
      reject(bs, 'blocksize must be one of 32, 64', 'got 48');
    });

    it('8-bit weight that is not int8, or SCB of the wrong length', () => {
      const sd = new Map([[`${P}.weight`, zeros([4, 8])], [`${P}.SCB`, zeros([4])]]);
      reject(sd, `${P}.weight: an 8-bit weight must be int8`);
      const sd2 = new Map([[`${P}.weight`, zeros([4, 8], 'int8')], [`${P}.SCB`, zeros([3])]]);
      reject(sd2, `${P}.SCB: must be float32 [4]`);
    });
  });

  describe('byte accounting (item 24)', () => {
    it('a [4096, 4096] NF4+DQ layer with the 173-byte JSON is 8,656,109 bytes; NF4 9,437,330; int8 16,793,601', () => {
      const N = 4096;
      const n = N * N;
      const state = {
        packed: zeros([n / 2, 1], 'uint8'), absmax: zeros([n / 64], 'uint8'), quantMap: fromStorage(NF4_CODE.slice(), [16], 'float32'),
        nestedAbsmax: zeros([1024]), nestedQuantMap: fromStorage(dynamicMapSigned().slice(), [256], 'float32'),
        offset: Math.fround(0.031807661056518555), nestedBlocksize: 256,
        shape: [N, N], quantType: 'nf4' as const, blocksize: 64, dtype: 'bfloat16' as const,
      };
      const dq = new Quant4Weight(state);
      expect(dq.quantStateTensor.size).to.equal(173);
      expect(dq.byteSize()).to.equal(8_656_109);
      expect((dq.byteSize() * 8) / n).to.be.closeTo(4.127, 0.001);
      dq.dispose();
      const plain = new Quant4Weight({
        packed: zeros([n / 2, 1], 'uint8'), absmax: zeros([n / 64]), quantMap: fromStorage(NF4_CODE.slice(), [16], 'float32'),
        shape: [N, N], quantType: 'nf4', blocksize: 64, dtype: 'bfloat16',
      });
      expect(plain.quantStateTensor.size).to.equal(82);
      expect(plain.byteSize()).to.equal(9_437_330);
      plain.dispose();
      const i8 = new Int8Weight({ weight: zeros([N, N], 'int8'), scb: zeros([N]) });
      expect(i8.byteSize()).to.equal(16_793_601);
      i8.dispose();
    });

    it('getMemoryFootprint and the memory tracker agree after quantizeModel (no hidden copies)', async () => {
      const { memory } = await import('../../index.js');
      for (const cfg of [new BitsAndBytesConfig({ loadIn8bit: true }), new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitUseDoubleQuant: true })]) {
        const before = memory().numBytes;
        const m = tiny(4);
        expect(memory().numBytes - before).to.equal(m.getMemoryFootprint());
        quantizeModel(m, cfg);
        expect(memory().numBytes - before).to.equal(m.getMemoryFootprint());
        const sd = m.stateDict();
        let file = 0;
        for (const t of sd.values()) file += t.size * (t.dtype === 'float32' ? 4 : t.dtype.includes('16') ? 2 : 1);
        expect(m.getMemoryFootprint()).to.equal(file);
        m.dispose();
        expect(memory().numBytes).to.equal(before);
      }
    });
  });

  it('a Linear4bit built from a state reports the same bytes as its state dict', () => {
    const w = tensor(normals(8 * 64, 3), [8, 64]);
    const l = Linear4bit.fromFloat(w, null, { quantType: 'nf4', doubleQuant: true });
    let bytes = 0;
    for (const t of Object.values(l.quant4.stateTensors())) bytes += t.size * (t.dtype === 'float32' ? 4 : 1);
    expect(l.getMemoryFootprint()).to.equal(bytes);
    l.dispose();
    w.dispose();
  });
});
