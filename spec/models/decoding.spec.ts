/**
 * Model behaviour on tiny random checkpoints: KV-cache decoding equals a full recompute, a
 * left-padded batch equals each row alone, the attention implementations agree, RoPE tables and
 * ALiBi slopes match models.md's test vectors.
 */

import { expect } from 'chai';
import { rmSync } from 'node:fs';
import {
  AutoModelForCausalLM, RotaryEmbedding, alibiSlopes, defaultInvFreq, llama3InvFreq, type AttnImplementation, type CausalLM, type RopeConfig,
} from '../../index.js';
import { TINY, writeTiny } from './tiny.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const PROMPT = [1, 17, 23, 5, 99, 42, 7, 64, 8];

for (const [name, raw] of Object.entries(TINY)) {
  describe(`tiny ${name}`, () => {
    let model: CausalLM;
    before(async () => {
      const dir = await writeTiny(raw, { seed: 11 });
      dirs.push(dir);
      model = await AutoModelForCausalLM.fromPretrained(dir);
    });
    after(() => model.dispose());

    for (const impl of ['eager', 'sdpa'] as AttnImplementation[]) {
      it(`${impl}: prefill + cached decode steps equal a full recompute`, () => {
        model.setAttentionImplementation(impl);
        const full = model.forward([PROMPT], { useCache: false });
        const V = full.logits.shape[2];
        const want = full.logits.dataSync();
        const first = model.forward([PROMPT.slice(0, 5)]);
        const cache = first.pastKeyValues!;
        let d = maxDiff(first.logits.dataSync(), want.subarray(0, 5 * V));
        first.logits.dispose();
        for (let i = 5; i < PROMPT.length; i++) {
          const step = model.forward([[PROMPT[i]]], { pastKeyValues: cache });
          d = Math.max(d, maxDiff(step.logits.dataSync(), want.subarray(i * V, (i + 1) * V)));
          step.logits.dispose();
        }
        cache.dispose();
        full.logits.dispose();
        expect(d).to.be.below(1e-4);
      });

      it(`${impl}: a left-padded batch gives each row's unpadded greedy tokens`, async () => {
        model.setAttentionImplementation(impl);
        const short = PROMPT.slice(3);
        const batched = await model.generate([PROMPT, short], { maxNewTokens: 5, eosTokenId: null, padTokenId: 0 });
        const alone = await model.generate([short], { maxNewTokens: 5, eosTokenId: null });
        expect(batched[1]).to.deep.equal(alone[0]);
        expect(batched[0].slice(0, PROMPT.length)).to.deep.equal(PROMPT);
      });
    }
  });
}

describe('attention implementations', () => {
  it('float16: flash_attention_2 (direct and varlen) agrees with sdpa; float32 flash is refused with a clear message', async () => {
    const dir = await writeTiny(TINY.llamaA, { seed: 3 });
    dirs.push(dir);
    await AutoModelForCausalLM.fromPretrained(dir, { attnImplementation: 'flash_attention_2' }).then(
      () => expect.fail('float32 flash should be refused'),
      (e: Error) => expect(e.message).to.match(/flash_attention_2.*float16 or bfloat16.*dtype: 'float16'/),
    );
    const m16 = await AutoModelForCausalLM.fromPretrained(dir, { dtype: 'float16', attnImplementation: 'flash_attention_2' });
    const flash = await m16.generate([PROMPT, PROMPT.slice(4)], { maxNewTokens: 6, eosTokenId: null });
    m16.setAttentionImplementation('sdpa');
    const sdpaOut = await m16.generate([PROMPT, PROMPT.slice(4)], { maxNewTokens: 6, eosTokenId: null });
    expect(flash).to.deep.equal(sdpaOut);
    m16.dispose();
    const m32 = await AutoModelForCausalLM.fromPretrained(dir);
    expect(() => m32.setAttentionImplementation('flash_attention_2')).to.throw(/float16 or bfloat16/);
    m32.dispose();
  });

  it('Falcon ALiBi refuses flash_attention_2', async () => {
    const dir = await writeTiny(TINY.falconD);
    dirs.push(dir);
    const m = await AutoModelForCausalLM.fromPretrained(dir, { dtype: 'float16' });
    expect(() => m.setAttentionImplementation('flash_attention_2')).to.throw(/ALiBi/);
    m.dispose();
  });

  it('outputAttentions returns per-layer weights (falling back to eager with one warning)', async () => {
    const dir = await writeTiny(TINY.llamaB);
    dirs.push(dir);
    const m = await AutoModelForCausalLM.fromPretrained(dir);
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (msg: string) => warnings.push(msg);
    try {
      const a = m.forward([[1, 2, 3]], { outputAttentions: true, useCache: false });
      const b = m.forward([[1, 2, 3]], { outputAttentions: true, useCache: false });
      expect(a.attentions!.length).to.equal(2);
      expect(a.attentions![0].shape).to.deep.equal([1, 4, 3, 3]);
      const w = a.attentions![0].dataSync();
      expect(w[1]).to.equal(0); // causal: query 0 sees only key 0
      expect(w[0]).to.be.closeTo(1, 1e-6);
      [a, b].forEach((r) => [r.logits, ...r.attentions!].forEach((t) => t.dispose()));
    } finally {
      console.warn = warn;
    }
    expect(warnings.filter((x) => /outputAttentions/.test(x)).length).to.be.at.most(1);
    m.dispose();
  });
});

describe('position encodings', () => {
  const rope = (o: Partial<RopeConfig>): RopeConfig => ({
    type: 'default', theta: 10000, factor: 1, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192, maxPositions: 2048, ...o,
  });
  it('default and llama3 inverse frequencies match models.md §0.5', () => {
    const def = [1, 0.316228, 0.1, 0.0316228, 0.01, 0.00316228, 0.001, 0.000316228];
    Array.from(defaultInvFreq(10000, 16)).forEach((v, i) => expect(v).to.be.closeTo(def[i], def[i] * 1e-5));
    const l3 = [1.0, 0.193923, 0.037606, 0.00729267, 0.000524846, 3.4281e-5, 6.64787e-6, 1.28917e-6];
    Array.from(llama3InvFreq(rope({ type: 'llama3', theta: 500000, factor: 8 }), 16)).forEach((v, i) => expect(v).to.be.closeTo(l3[i], l3[i] * 1e-5));
  });
  it('dynamic NTK keeps the base frequencies up to max_position_embeddings and rescales beyond', () => {
    const r = new RotaryEmbedding(rope({ type: 'dynamic', factor: 2, maxPositions: 16 }), 8);
    expect(r.invFreq(15)).to.deep.equal(defaultInvFreq(10000, 8));
    const theta = 10000 * Math.pow((2 * 20) / 16 - 1, 8 / 6);
    Array.from(r.invFreq(19)).forEach((v, i) => expect(v).to.be.closeTo(defaultInvFreq(theta, 8)[i], 1e-7));
  });
  it('linear scaling divides the frequencies by the factor', () => {
    const r = new RotaryEmbedding(rope({ type: 'linear', factor: 2 }), 8);
    Array.from(r.invFreq(0)).forEach((v, i) => expect(v).to.equal(Math.fround(defaultInvFreq(10000, 8)[i] / 2)));
  });
  it('ALiBi slopes for 6 and 8 heads', () => {
    expect(Array.from(alibiSlopes(6))).to.deep.equal([0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]);
    expect(Array.from(alibiSlopes(8))).to.deep.equal([0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]);
  });
});
