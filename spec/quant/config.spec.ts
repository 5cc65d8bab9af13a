/** BitsAndBytesConfig (defaults, validation, JSON) and quantizeModel's module selection (§4, §7 items 23, 25). */

import { expect } from 'chai';
import {
  ArgumentError, BitsAndBytesConfig, configJsonString, DenseWeight, Embedding, Int8Weight, isSkippedModule, Linear, Module,
  Quant4Weight, quantizeModel, RMSNorm, tensor, withQuantizationConfig, type Tensor,
} from '../../index.js';
import { checkLeaks, expectThrow, normals } from './helpers.js';

const HF_4BIT = {
  _load_in_4bit: true,
  _load_in_8bit: false,
  bnb_4bit_compute_dtype: 'bfloat16',
  bnb_4bit_quant_storage: 'uint8',
  bnb_4bit_quant_type: 'nf4',
  bnb_4bit_use_double_quant: true,
  llm_int8_enable_fp32_cpu_offload: false,
  llm_int8_has_fp16_weight: false,
  llm_int8_skip_modules: null,
  llm_int8_threshold: 6.0,
  load_in_4bit: true,
  load_in_8bit: false,
  quant_method: 'bitsandbytes',
};

class Block extends Module {
  constructor(public up_proj: Linear, public down_proj: Linear) {
    super();
  }
}

/** embed_tokens, layers.{0,1,10}.{up,down}_proj, norm, lm_head (tied or not). */
class Model extends Module {
  embed_tokens: Embedding;
  layers: Block[];
  norm: RMSNorm;
  lm_head: Linear;
  constructor(tied: boolean) {
    super();
    const t = (shape: number[], s: number): Tensor => tensor(normals(shape[0] * (shape[1] ?? 1), s), shape);
    this.embed_tokens = new Embedding(t([20, 8], 1));
    this.layers = Array.from({ length: 11 }, (_, i) => new Block(new Linear(t([16, 8], 10 + i)), new Linear(t([8, 16], 30 + i))));
    this.norm = new RMSNorm(t([8], 2));
    this.lm_head = new Linear(tied ? new DenseWeight(this.embed_tokens.weight) : t([20, 8], 3));
  }
}

const kinds = (m: Module) => Object.fromEntries(m.namedModules().filter(([, x]) => x instanceof Linear).map(([p, x]) => [p, (x as Linear).weight.kind]));

describe('quant/BitsAndBytesConfig', () => {
  checkLeaks();

  it('defaults are transformers\' and toJSON is its sorted quantization_config dict', () => {
    const c = new BitsAndBytesConfig();
    expect(c.toJSON()).to.deep.equal({
      _load_in_4bit: false, _load_in_8bit: false, bnb_4bit_compute_dtype: 'float32', bnb_4bit_quant_storage: 'uint8',
      bnb_4bit_quant_type: 'fp4', bnb_4bit_use_double_quant: false, llm_int8_enable_fp32_cpu_offload: false,
      llm_int8_has_fp16_weight: false, llm_int8_skip_modules: null, llm_int8_threshold: 6, load_in_4bit: false,
      load_in_8bit: false, quant_method: 'bitsandbytes',
    });
    expect(Object.keys(c.toJSON())).to.deep.equal(Object.keys(c.toJSON()).slice().sort());
    expect(c.quantizationMethod()).to.equal(null);
    expect(new BitsAndBytesConfig({ loadIn8bit: true }).quantizationMethod()).to.equal('llm_int8');
    expect(new BitsAndBytesConfig({ loadIn4bit: true }).quantizationMethod()).to.equal('fp4');
    expect(new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' }).quantizationMethod()).to.equal('nf4');
  });

  it('fromJSON parses an HF dict back to the same config; missing fields take defaults; unknown keys are ignored (item 23)', () => {
    const c = BitsAndBytesConfig.fromJSON(HF_4BIT);
    expect(c.toJSON()).to.deep.equal(HF_4BIT);
    expect(c.loadIn4bit && c.bnb4bitUseDoubleQuant && c.bnb4bitComputeDtype === 'bfloat16').to.equal(true);
    const old = BitsAndBytesConfig.fromJSON({ load_in_8bit: true, llm_int8_threshold: 4.5, something_new: 1 });
    expect(old.toJSON()).to.deep.equal({ ...new BitsAndBytesConfig({ loadIn8bit: true, llmInt8Threshold: 4.5 }).toJSON() });
    expect(BitsAndBytesConfig.fromJSON({ _load_in_4bit: true }).loadIn4bit).to.equal(true);
    const round = new BitsAndBytesConfig({ loadIn8bit: true, llmInt8SkipModules: ['lm_head', 'mlp'], llmInt8HasFp16Weight: true });
    expect(BitsAndBytesConfig.fromJSON(JSON.parse(JSON.stringify(round))).toJSON()).to.deep.equal(round.toJSON());
    expectThrow(() => BitsAndBytesConfig.fromJSON({ quant_method: 'gptq' }), ArgumentError, "'quant_method' must be \"bitsandbytes\"");
  });

  it('validation: both 8 and 4 bit, setters, field types and domains', () => {
    expectThrow(() => new BitsAndBytesConfig({ loadIn8bit: true, loadIn4bit: true }), ArgumentError, 'both true');
    const c = new BitsAndBytesConfig({ loadIn8bit: true });
    expectThrow(() => (c.loadIn4bit = true), ArgumentError, 'both true');
    c.loadIn8bit = false;
    c.loadIn4bit = true;
    expect(c.quantizationMethod()).to.equal('fp4');
    expectThrow(() => new BitsAndBytesConfig({ llmInt8Threshold: '6' as never }), ArgumentError, "'llmInt8Threshold' must be a finite number");
    expectThrow(() => new BitsAndBytesConfig({ llmInt8SkipModules: 'lm_head' as never }), ArgumentError, "'llmInt8SkipModules' must be an array of strings or null");
    expectThrow(() => new BitsAndBytesConfig({ bnb4bitQuantType: 'int4' as never }), ArgumentError, "'bnb4bitQuantType' must be 'fp4' or 'nf4', got \"int4\"");
    expectThrow(() => new BitsAndBytesConfig({ bnb4bitComputeDtype: 'int8' as never }), ArgumentError, "'bnb4bitComputeDtype' must be one of float32, float16, bfloat16");
    expectThrow(() => new BitsAndBytesConfig({ bnb4bitQuantStorage: 'int32' as never }), ArgumentError, "'bnb4bitQuantStorage' must be one of float16, float32, int8, uint8, float64, bfloat16");
    expectThrow(() => new BitsAndBytesConfig({ loadIn8bit: 1 as never }), ArgumentError, "'loadIn8bit' must be a boolean");
    expectThrow(() => new BitsAndBytesConfig({ bnb4bitUseDoubleQuant: 'yes' as never }), ArgumentError, "'bnb4bitUseDoubleQuant' must be a boolean");
    for (const s of ['float16', 'float32', 'int8', 'uint8', 'float64', 'bfloat16'] as const) new BitsAndBytesConfig({ bnb4bitQuantStorage: s });
  });

  it('config.json text: quantization_config written like transformers (indent 2, sorted, 6.0 as a float)', () => {
    const text = configJsonString(withQuantizationConfig({ model_type: 'llama', rms_norm_eps: 1e-5, hidden_size: 64 }, BitsAndBytesConfig.fromJSON(HF_4BIT)));
    expect(text).to.equal(
      [
        '{',
        '  "hidden_size": 64,',
        '  "model_type": "llama",',
        '  "quantization_config": {',
        '    "_load_in_4bit": true,',
        '    "_load_in_8bit": false,',
        '    "bnb_4bit_compute_dtype": "bfloat16",',
        '    "bnb_4bit_quant_storage": "uint8",',
        '    "bnb_4bit_quant_type": "nf4",',
        '    "bnb_4bit_use_double_quant": true,',
        '    "llm_int8_enable_fp32_cpu_offload": false,',
        '    "llm_int8_has_fp16_weight": false,',
        '    "llm_int8_skip_modules": null,',
        '    "llm_int8_threshold": 6.0,',
        '    "load_in_4bit": true,',
        '    "load_in_8bit": false,',
        '    "quant_method": "bitsandbytes"',
        '  },',
        '  "rms_norm_eps": 1e-05',
        '}',
        '',
      ].join('\n'),
    );
  });
});

describe('quant/quantizeModel', () => {
  checkLeaks();

  it('skip matching: full name, last component, or "entry." inside the path', () => {
    expect(isSkippedModule('lm_head', ['lm_head'])).to.equal(true);
    expect(isSkippedModule('model.layers.1.mlp.down_proj', ['down_proj'])).to.equal(true);
    expect(isSkippedModule('model.layers.1.mlp.down_proj', ['layers.1'])).to.equal(true);
    expect(isSkippedModule('model.layers.10.mlp.down_proj', ['layers.1'])).to.equal(false);
    expect(isSkippedModule('model.layers.1.mlp.down_proj', ['mlp'])).to.equal(true);
    expect(isSkippedModule('model.layers.1.mlp.down_proj', ['down'])).to.equal(false);
  });

  it('default: every Linear but an untied lm_head; embeddings and norms untouched; float weights disposed (item 25)', () => {
    const m = new Model(false);
    const up0 = m.layers[0].up_proj.weight as DenseWeight;
    const report = quantizeModel(m, new BitsAndBytesConfig({ loadIn8bit: true }));
    expect(report.quantized.length).to.equal(22);
    expect(report.skipped).to.deep.equal([{ path: 'lm_head', reason: 'in the skip list' }]);
    expect(up0.tensor.isDisposed).to.equal(true);
    expect(m.layers[0].up_proj.weight).to.be.instanceOf(Int8Weight);
    expect(m.lm_head.weight.kind).to.equal('dense');
    expect(m.embed_tokens.weight.dtype).to.equal('float32');
    expect(m.norm.weight.dtype).to.equal('float32');
    // Quantizing again skips what is already quantized.
    const again = quantizeModel(m, new BitsAndBytesConfig({ loadIn4bit: true }));
    expect(again.quantized).to.deep.equal([]);
    m.dispose();
  });

  it('a user skip list replaces the default: without lm_head it is quantized (transformers behaviour)', () => {
    const m = new Model(false);
    quantizeModel(m, new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', llmInt8SkipModules: ['layers.1', 'down_proj'] }));
    const k = kinds(m);
    expect(k.lm_head).to.equal('nf4');
    expect(k['layers.1.up_proj']).to.equal('dense');
    expect(k['layers.10.up_proj']).to.equal('nf4');
    expect(k['layers.3.down_proj']).to.equal('dense');
    expect(k['layers.3.up_proj']).to.equal('nf4');
    expect(m.layers[3].up_proj.weight).to.be.instanceOf(Quant4Weight);
    m.dispose();
  });

  it('a tied lm_head is never quantized, even when the skip list allows it; the embedding stays intact', () => {
    const m = new Model(true);
    const report = quantizeModel(m, new BitsAndBytesConfig({ loadIn8bit: true, llmInt8SkipModules: [] }));
    expect(report.skipped).to.deep.equal([{ path: 'lm_head', reason: 'tied weight (shared with another parameter)' }]);
    expect(m.embed_tokens.weight.isDisposed).to.equal(false);
    expect((m.lm_head.weight as DenseWeight).tensor).to.equal(m.embed_tokens.weight);
    m.dispose();
  });

  it('4-bit settings flow from the config into the weights', () => {
    const m = new Model(false);
    quantizeModel(m, new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true, bnb4bitComputeDtype: 'bfloat16', bnb4bitQuantStorage: 'bfloat16' }));
    const w = m.layers[0].up_proj.weight as Quant4Weight;
    expect([w.kind, w.state.blocksize, !!w.state.nestedAbsmax, w.computeDtype, w.quantStorage]).to.deep.equal(['nf4', 64, true, 'bfloat16', 'bfloat16']);
    expect(w.stateTensors().weight.dtype).to.equal('bfloat16');
    const i8 = new Model(false);
    quantizeModel(i8, new BitsAndBytesConfig({ loadIn8bit: true, llmInt8Threshold: 3.5, llmInt8HasFp16Weight: true }));
    const q = i8.layers[0].up_proj.weight as Int8Weight;
    expect(q.threshold).to.equal(3.5);
    expect(q.hasFp16Weights).to.equal(true);
    expect(q.byteSize()).to.equal(16 * 8 + 16 * 4 + 1 + 16 * 8 * 2 + 8 * 4);
    m.dispose();
    i8.dispose();
  });

  it('rejects a config that quantizes nothing', () => {
    const m = new Model(false);
    expectThrow(() => quantizeModel(m, new BitsAndBytesConfig()), ArgumentError, 'neither loadIn8bit nor loadIn4bit');
    m.dispose();
  });
});
