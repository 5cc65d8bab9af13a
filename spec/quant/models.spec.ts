/** Quantized Llama end to end: quantize on load, save with bitsandbytes keys, reload pre-quantized (stories260K). */

import { expect } from 'chai';
import {
  AutoModelForCausalLM, BitsAndBytesConfig, bundledModelDir, Linear, openSafetensors, quantizeModel, saveQuantizedModel, tensor, type CausalLM,
} from '../../index.js';
import { quantizationFromFlags } from '../../models/cli_quant.js';
import { relFrob } from './helpers.js';

const PROMPT = [[1, 403, 407, 261, 378, 391, 281, 362, 420, 429, 338, 265, 427, 269, 395, 282]];

function logits(model: CausalLM): Float32Array {
  const ids = tensor(Int32Array.from(PROMPT[0]), [1, PROMPT[0].length], 'int32');
  const out = model.forward(ids, { useCache: false });
  const v = out.logits.dataSync().slice() as Float32Array;
  out.logits.dispose();
  ids.dispose();
  return v;
}

const linears = (m: CausalLM) => m.namedModules().filter(([, x]) => x instanceof Linear) as [string, Linear][];

describe('quant/models (stories260K)', function () {
  this.timeout(60000);
  let dir: string;
  let ref: Float32Array;

  before(async () => {
    dir = await bundledModelDir();
    const m = await AutoModelForCausalLM.fromPretrained(dir);
    ref = logits(m);
    m.dispose();
  });

  for (const [name, cfg, maxErr] of [
    ['int8', new BitsAndBytesConfig({ loadIn8bit: true }), 0.03],
    ['nf4', new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitUseDoubleQuant: true }), 0.25],
  ] as const) {
    it(`${name}: quantize on load, save, reload pre-quantized bit-exactly (no option needed)`, async () => {
      const q = await AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: cfg });
      const kinds = Object.fromEntries(linears(q).map(([p, l]) => [p, l.weight.kind]));
      expect(kinds['lm_head']).to.equal('dense'); // tied to the embedding: never quantized
      expect(kinds['model.layers.0.self_attn.q_proj']).to.equal(name === 'int8' ? 'int8' : 'nf4');
      expect(Object.values(kinds).filter((k) => k !== 'dense').length).to.equal(5 * 7);
      const lq = logits(q);
      const err = relFrob(lq, ref);
      expect(err, `relative logit error ${err}`).to.be.below(maxErr);
      expect(err).to.be.above(0);

      const { mkdtemp, readFile, rm } = await import('node:fs/promises');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const out = await mkdtemp(join(tmpdir(), 'ft-qmodel-'));
      try {
        const modelConfig = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
        await saveQuantizedModel(out, q, cfg, { modelConfig });
        const f = await openSafetensors(join(out, 'model.safetensors'));
        expect(f.has('lm_head.weight')).to.equal(false); // tied weights stored once, as transformers
        expect(f.has(name === 'int8' ? 'model.layers.0.mlp.up_proj.SCB' : 'model.layers.0.mlp.up_proj.weight.quant_state.bitsandbytes__nf4')).to.equal(true);
        await f.close();
        const r = await AutoModelForCausalLM.fromPretrained(out);
        expect(Array.from(logits(r))).to.deep.equal(Array.from(lq));
        expect(r.getMemoryFootprint()).to.equal(q.getMemoryFootprint());
        r.dispose();
      } finally {
        await rm(out, { recursive: true, force: true });
      }
      q.dispose();
    });
  }

  it('quantizeModel on a loaded float model equals quantize-on-load', async () => {
    const a = await AutoModelForCausalLM.fromPretrained(dir);
    const cfg = new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'fp4' });
    const report = quantizeModel(a, cfg);
    expect(report.skipped.map((s) => s.path)).to.deep.equal(['lm_head']);
    const b = await AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: cfg });
    expect(Array.from(logits(a))).to.deep.equal(Array.from(logits(b)));
    expect(a.getMemoryFootprint()).to.be.below(1_044_992 * 0.6);
    a.dispose();
    b.dispose();
  });

  it('CLI flags build the config', async () => {
    expect(((await quantizationFromFlags(true, false, undefined)) as BitsAndBytesConfig).quantizationMethod()).to.equal('llm_int8');
    expect(((await quantizationFromFlags(false, true, undefined)) as BitsAndBytesConfig).quantizationMethod()).to.equal('nf4');
    expect(((await quantizationFromFlags(false, true, 'fp4')) as BitsAndBytesConfig).quantizationMethod()).to.equal('fp4');
    expect(await quantizationFromFlags(false, false, undefined)).to.equal(null);
    let err: unknown;
    try {
      await quantizationFromFlags(false, true, 'int4');
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.include('--quant-type must be nf4 or fp4');
    const bf = (await quantizationFromFlags(false, true, undefined, 'bfloat16')) as BitsAndBytesConfig;
    expect(bf.bnb4bitComputeDtype).to.equal('bfloat16');
    expect(((await quantizationFromFlags(false, true, undefined)) as BitsAndBytesConfig).bnb4bitComputeDtype).to.equal('float32');
    const rejects = async (args: Parameters<typeof quantizationFromFlags>, msg: string) => {
      let e: unknown;
      try {
        await quantizationFromFlags(...args);
      } catch (x) {
        e = x;
      }
      expect(String(e)).to.include(msg);
    };
    await rejects([false, true, undefined, 'int8'], "--compute-dtype must be one of float32, float16, bfloat16, got 'int8'");
    await rejects([true, false, undefined, 'bfloat16'], '--compute-dtype needs --load-in-4bit');
  });
});
