/** The loader bridge: quantize-on-load and pre-quantized Linears through the weight transform. */

import { expect } from 'chai';
import { BitsAndBytesConfig, BNB_COMPANION_SUFFIXES, DenseWeight, Int8Weight, Quant4Weight, tensor, tidy, type Tensor } from '../../index.js';
import { checkLeaks, normals } from './helpers.js';

describe('quant/loader hook', () => {
  checkLeaks();

  it('quantize follows the skip rules and the config; names are parameter names', () => {
    tidy(() => {
      const w = tensor(normals(16 * 64, 1), [16, 64]);
      const t8 = new BitsAndBytesConfig({ loadIn8bit: true, llmInt8Threshold: 5 }).weightTransform();
      const q = t8.quantize('model.layers.0.mlp.up_proj.weight', w) as Int8Weight;
      expect(q).to.be.instanceOf(Int8Weight);
      expect(q.threshold).to.equal(5);
      q.dispose();
      expect(t8.quantize('lm_head.weight', w)).to.equal(null);
      const t4 = new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', llmInt8SkipModules: ['mlp'] }).weightTransform();
      expect(t4.quantize('model.layers.0.mlp.up_proj.weight', w)).to.equal(null);
      const q4 = t4.quantize('lm_head.weight', w) as Quant4Weight;
      expect(q4.kind).to.equal('nf4');
      q4.dispose();
      expect(new BitsAndBytesConfig().weightTransform().quantize('x.weight', w)).to.equal(null);
    });
  });

  it('pre-quantized Linears are recognised by their companions and rebuilt (the loader keeps its tensors)', () => {
    tidy(() => {
      const w = tensor(normals(8 * 64, 2), [8, 64]);
      for (const cfg of [new BitsAndBytesConfig({ loadIn8bit: true }), new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitUseDoubleQuant: true })]) {
        const t = cfg.weightTransform();
        const saved = t.quantize('model.layers.1.self_attn.o_proj.weight', w)!;
        const parts: Record<string, Tensor> = saved.stateTensors();
        for (const s of Object.keys(parts)) if (s !== 'weight') expect(BNB_COMPANION_SUFFIXES).to.include(s);
        expect(t.isPrequantized('model.layers.1.self_attn.o_proj.weight', (s) => s in parts)).to.equal(true);
        expect(t.isPrequantized('lm_head.weight', () => false)).to.equal(false);
        const back = t.fromPrequantized('model.layers.1.self_attn.o_proj.weight', parts);
        expect(back.kind).to.equal(saved.kind);
        const x = tensor(normals(2 * 64, 3), [2, 64]);
        expect(Array.from(back.matmulT(x).dataSync())).to.deep.equal(Array.from(saved.matmulT(x).dataSync()));
        saved.dispose(); // the rebuilt weight shares the data and keeps it alive
        expect(back.matmulT(x).shape).to.deep.equal([2, 8]);
        back.dispose();
      }
      void DenseWeight;
    });
  });
});
