/**
 * Loading tiny random checkpoints for every §7 config: names and shapes, sharded files, prefix
 * tolerance, stale buffers, the one-error mismatch report, streaming progress and peak memory.
 */

import { expect } from 'chai';
import { rmSync } from 'node:fs';
import {
  AutoConfig, AutoModelForCausalLM, CheckpointMismatchError, UnsupportedModelError, memory, randn, resetPeakMemory,
  type LlamaConfig, type FalconConfig,
} from '../../index.js';
import { TINY, writeTiny } from './tiny.js';

const dirs: string[] = [];
async function tiny(raw: Record<string, unknown>, opts: Parameters<typeof writeTiny>[1] = {}): Promise<string> {
  const d = await writeTiny(raw, opts);
  dirs.push(d);
  return d;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('models: config parsing', () => {
  it('reads v4 (rope_theta + rope_scaling with legacy "type") and v5 (rope_parameters, dtype) layouts', () => {
    const b = AutoConfig.fromDict(TINY.llamaB) as LlamaConfig;
    expect(b.rope).to.include({ type: 'linear', factor: 2, theta: 10000 });
    expect(b.headDim).to.equal(16);
    const c = AutoConfig.fromDict(TINY.llamaC) as LlamaConfig;
    expect(c.rope).to.include({ type: 'dynamic', factor: 2, theta: 10000, maxPositions: 16 });
    expect(c.numKvHeads).to.equal(1);
    expect(c.storedDType).to.equal('float32');
    const a = AutoConfig.fromDict(TINY.llamaA) as LlamaConfig;
    expect(a.rope).to.include({ type: 'llama3', theta: 500000, originalMaxPositions: 8192 });
    expect(a.eosTokenId).to.deep.equal([2, 3]);
  });

  it('reads legacy Falcon keys; n_head_kv implies the new architecture', () => {
    const legacy = AutoConfig.fromDict({ model_type: 'RefinedWebModel', n_embed: 64, n_head: 4, n_layer: 2, vocab_size: 128 }) as FalconConfig;
    expect(legacy).to.include({ modelType: 'falcon', hiddenSize: 64, numHeads: 4, numLayers: 2, numKvHeads: 1, newDecoderArchitecture: false });
    const forty = AutoConfig.fromDict({ model_type: 'RefinedWeb', n_embed: 64, n_head: 8, n_head_kv: 2, n_layer: 2, vocab_size: 128 }) as FalconConfig;
    expect(forty).to.include({ newDecoderArchitecture: true, numKvHeads: 2, numLnInParallelAttn: 2 });
    const f7 = AutoConfig.fromDict({ ...TINY.falconA, num_kv_heads: 4 }) as FalconConfig;
    expect(f7.numKvHeads).to.equal(1); // multi_query wins on the old architecture
  });

  it('names unsupported model types, mllama included', () => {
    expect(() => AutoConfig.fromDict({ model_type: 'gpt2' })).to.throw(UnsupportedModelError, /unsupported model_type 'gpt2'.*supported: llama, falcon, opt/);
    expect(() => AutoConfig.fromDict({ model_type: 'mllama' })).to.throw(UnsupportedModelError, /mllama.*not supported yet/);
  });
});

describe('models: loading checkpoints', () => {
  for (const [name, raw] of Object.entries(TINY)) {
    it(`${name}: loads, forwards (B, T, vocab) and frees everything on dispose`, async () => {
      const before = memory();
      const model = await AutoModelForCausalLM.fromPretrained(await tiny(raw));
      const { logits, pastKeyValues } = model.forward([[1, 5, 9, 3]]);
      expect(logits.shape).to.deep.equal([1, 4, raw.vocab_size]);
      expect(Array.from(logits.dataSync()).every(Number.isFinite)).to.equal(true);
      logits.dispose();
      pastKeyValues!.dispose();
      model.dispose();
      expect(memory().numTensors).to.equal(before.numTensors);
      expect(memory().numBytes).to.equal(before.numBytes);
    });
  }

  it('a two-shard checkpoint loads the same weights as one file', async () => {
    const one = await AutoModelForCausalLM.fromPretrained(await tiny(TINY.llamaB, { seed: 7 }));
    const two = await AutoModelForCausalLM.fromPretrained(await tiny(TINY.llamaB, { seed: 7, sharded: true }));
    const a = one.forward([[3, 4, 5]], { useCache: false }).logits;
    const b = two.forward([[3, 4, 5]], { useCache: false }).logits;
    expect(Array.from(a.dataSync())).to.deep.equal(Array.from(b.dataSync()));
    [a, b].forEach((t) => t.dispose());
    one.dispose();
    two.dispose();
  });

  it('tolerates a missing or extra base prefix (OPT saved as decoder.*) and skips stale rotary_emb.inv_freq', async () => {
    const opt = await AutoModelForCausalLM.fromPretrained(await tiny(TINY.optB, { rename: (n) => n.replace(/^model\./, '') }));
    opt.dispose();
    const llama = await AutoModelForCausalLM.fromPretrained(await tiny(TINY.llamaB, { extra: { 'model.layers.0.self_attn.rotary_emb.inv_freq': randn([8]) } }));
    llama.dispose();
  });

  it('reports missing, unexpected and mis-shaped tensors together in one error', async () => {
    const dir = await tiny(TINY.llamaB, {
      rename: (n) => (n === 'model.norm.weight' ? null : n),
      extra: { 'model.layers.0.self_attn.q_proj.weight': randn([8, 48]), 'model.layers.0.mystery.weight': randn([3]) },
    });
    let err: unknown;
    try {
      await AutoModelForCausalLM.fromPretrained(dir);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(CheckpointMismatchError);
    const e = err as CheckpointMismatchError;
    expect(e.missing).to.deep.equal(['model.norm.weight']);
    expect(e.unexpected).to.deep.equal(['model.layers.0.mystery.weight']);
    expect(e.mismatched).to.deep.equal([{ name: 'model.layers.0.self_attn.q_proj.weight', expected: [64, 48], found: [8, 48] }]);
    expect(e.message).to.match(/missing \(1\)[\s\S]*unexpected \(1\)[\s\S]*wrong shape \(1\)/);
  });

  it('streams tensors into the target dtype with progress; peak memory stays near the final size', async () => {
    const raw = { ...TINY.llamaB, hidden_size: 128, intermediate_size: 384, head_dim: 32, vocab_size: 512 };
    const dir = await tiny(raw);
    const seen: string[] = [];
    let last = { loadedBytes: 0, totalBytes: -1 };
    const base = memory().numBytes;
    resetPeakMemory();
    const model = await AutoModelForCausalLM.fromPretrained(dir, {
      dtype: 'float16',
      onProgress: (p) => {
        seen.push(p.tensor);
        last = p;
      },
    });
    const peak = memory().peakBytes - base;
    const final = model.getMemoryFootprint();
    expect(model.dtype).to.equal('float16');
    expect(last.loadedBytes).to.equal(last.totalBytes);
    expect(seen.length).to.equal(model.declaredParameters().filter((d) => !d.spec.tiedTo).length);
    // Everything held at the peak is the final fp16 model (plus at most one tensor in flight).
    const largest = 512 * 128 * 2;
    expect(peak).to.be.at.most(final + largest);
    model.dispose();
  });
});
