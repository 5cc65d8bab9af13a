/**
 * generate() on the bundled stories260K model: the llama2.c greedy story, seeded sampling,
 * EOS handling (number, list, null), stop strings, streaming (callback, async iterator, text),
 * sdpaKernel scopes deciding the kernel, and memory returning to its baseline after many calls.
 */

import { expect } from 'chai';
import {
  AutoModelForCausalLM, AutoTokenizer, SDPBackend, TextStreamer, TokenStreamer, bundledModelDir, memory, resetSdpaCounts, sdpaCounts, sdpaKernel,
  type CausalLM, type PreTrainedTokenizer,
} from '../../index.js';

// llama2.c's run.c output on this checkpoint (greedy, from BOS), as quoted in the model's README.
const LLAMA2C_STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.';

describe('generate (stories260K)', () => {
  let model: CausalLM;
  let tok: PreTrainedTokenizer;
  before(async () => {
    const dir = await bundledModelDir();
    [model, tok] = await Promise.all([AutoModelForCausalLM.fromPretrained(dir), AutoTokenizer.fromPretrained(dir)]);
  });
  after(() => model.dispose());

  it("greedy from BOS reproduces llama2.c's story", async () => {
    const [ids] = await model.generate([1], { maxNewTokens: 255, eosTokenId: null });
    expect(ids.length).to.equal(256);
    expect(tok.decode(ids, { skipSpecialTokens: true }).startsWith(LLAMA2C_STORY)).to.equal(true);
  });

  it('eager, sdpa and the greedy defaults agree', async () => {
    const prompt = tok.encode('Once upon a time');
    const a = await model.generate([prompt], { maxNewTokens: 30 });
    model.setAttentionImplementation('eager');
    const b = await model.generate([prompt], { maxNewTokens: 30 });
    model.setAttentionImplementation('sdpa');
    expect(a).to.deep.equal(b);
  });

  it('seeded sampling is reproducible and seeds differ; temperature 0 is greedy', async () => {
    const p = tok.encode('The dog');
    const s1 = await model.generate([p], { doSample: true, temperature: 1, topK: 40, topP: 0.9, seed: 5, maxNewTokens: 20 });
    const s2 = await model.generate([p], { doSample: true, temperature: 1, topK: 40, topP: 0.9, seed: 5, maxNewTokens: 20 });
    const s3 = await model.generate([p], { doSample: true, temperature: 1.5, seed: 6, maxNewTokens: 20 });
    expect(s1).to.deep.equal(s2);
    expect(s3).to.not.deep.equal(s1);
    const greedy = await model.generate([p], { maxNewTokens: 10 });
    expect(await model.generate([p], { doSample: true, temperature: 0, seed: 1, maxNewTokens: 10 })).to.deep.equal(greedy);
    expect(await model.generate([p], { doSample: true, topK: 1, seed: 9, maxNewTokens: 10 })).to.deep.equal(greedy);
  });

  it('repetition penalty changes a repetitive greedy continuation', async () => {
    const p = tok.encode('Lily was sad');
    const plain = await model.generate([p], { maxNewTokens: 40 });
    const penalised = await model.generate([p], { maxNewTokens: 40, repetitionPenalty: 1.5 });
    expect(penalised).to.not.deep.equal(plain);
  });

  it('stops on EOS (number or list) and keeps going with eosTokenId null', async () => {
    const p = [1];
    const [free] = await model.generate([p], { maxNewTokens: 12, eosTokenId: null });
    const stopAt = free[5];
    const [a] = await model.generate([p], { maxNewTokens: 12, eosTokenId: stopAt });
    expect(a).to.deep.equal(free.slice(0, free.indexOf(stopAt) + 1));
    const [b] = await model.generate([p], { maxNewTokens: 12, eosTokenId: [9999, stopAt] });
    expect(b).to.deep.equal(a);
  });

  it('stops at a stop string (with the tokenizer)', async () => {
    const [ids] = await model.generate([1], { maxNewTokens: 100, stopStrings: ['park'], tokenizer: tok });
    const text = tok.decode(ids, { skipSpecialTokens: true });
    expect(text.endsWith('park')).to.equal(true);
    await model.generate([1], { stopStrings: 'x' }).then(() => expect.fail(), (e: Error) => expect(e.message).to.match(/tokenizer/));
  });

  it('streams tokens (callback and async iterator) and text, in order', async () => {
    const calls: number[][] = [];
    const out = await model.generate([1], { maxNewTokens: 15, streamer: (t) => calls.push(t) });
    expect(calls.map((c) => c[0])).to.deep.equal(out[0].slice(1));
    const ts = new TokenStreamer();
    const collected: number[] = [];
    const consume = (async () => {
      for await (const step of ts) collected.push(step[0]);
    })();
    await model.generate([1], { maxNewTokens: 15, streamer: ts });
    await consume;
    expect(collected).to.deep.equal(out[0].slice(1));
    const pieces: string[] = [];
    const text = new TextStreamer(tok, { onText: (t) => pieces.push(t) });
    await model.generate([1], { maxNewTokens: 15, streamer: text });
    expect(pieces.join('')).to.equal(tok.decode(out[0].slice(1), { skipSpecialTokens: true }));
  });

  it('batched ragged prompts are left-padded; each row equals its single run', async () => {
    const a = tok.encode('Once upon a time');
    const b = tok.encode('The cat');
    const both = await model.generate([a, b], { maxNewTokens: 8, eosTokenId: null });
    expect(both[0]).to.deep.equal((await model.generate([a], { maxNewTokens: 8, eosTokenId: null }))[0]);
    expect(both[1]).to.deep.equal((await model.generate([b], { maxNewTokens: 8, eosTokenId: null }))[0]);
  });

  it('sdpaKernel scopes around generate() decide the kernel', async () => {
    resetSdpaCounts();
    await sdpaKernel(SDPBackend.MATH, () => model.generate([1, 403], { maxNewTokens: 3 }));
    const c = sdpaCounts();
    expect(c.MATH).to.be.greaterThan(0);
    expect(c.EFFICIENT_ATTENTION + c.FLASH_ATTENTION).to.equal(0);
    resetSdpaCounts();
    await sdpaKernel([SDPBackend.EFFICIENT_ATTENTION], () => model.generate([1, 403], { maxNewTokens: 3 }));
    expect(sdpaCounts().EFFICIENT_ATTENTION).to.equal(5 * 3);
    expect(sdpaCounts().MATH).to.equal(0);
  });

  it('1,000 generate() calls leave memory() where it started', async function () {
    this.timeout(120_000);
    await model.generate([1], { maxNewTokens: 2 });
    const before = memory();
    for (let i = 0; i < 1000; i++) await model.generate([1, 403], { maxNewTokens: 2 });
    const now = memory();
    expect(now.numTensors).to.equal(before.numTensors);
    expect(now.numBytes).to.equal(before.numBytes);
  });
});
