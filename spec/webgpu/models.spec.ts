/**
 * Models on WebGPU: the transformers fixtures (fp32 logits within 1e-4, cached-decode step logits,
 * batched left-padded greedy tokens; float16 greedy tokens through flash), the bundled
 * stories260K greedy story equal to the CPU's, and 1,000 generate() calls leaving both the
 * engine's counters and the GPU buffer pool where they started.
 */

import { expect } from 'chai';
import {
  AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig, bundledModelDir, getBackend, memory, setBackend, type AttnImplementation, type CausalLM,
} from '../../index.js';
import { getWebGPUBackend } from '../../backends/webgpu/index.js';
import { fixtureDir, maxDiffMasked, readExpected, rows } from '../models/helpers.js';
import { requireWebGPU } from '../helpers/webgpu_env.js';

const MODELS = ['llama_gqa', 'llama3_rope', 'falcon_7b_style', 'falcon_40b_style', 'falcon_alibi', 'opt_125m_style', 'opt_350m_style'];
const TOL = 1e-4;

const run = await requireWebGPU();

/** Runs `fn` with `name` as the active backend, restoring the previous one after. */
async function on<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const prev = getBackend();
  await setBackend(name);
  try {
    return await fn();
  } finally {
    await setBackend(prev);
  }
}

/** Loads a model onto webgpu. */
function onWebGPU(dir: string, opts: { attnImplementation?: AttnImplementation; dtype?: 'float16' } = {}): Promise<CausalLM> {
  return on('webgpu', () => AutoModelForCausalLM.fromPretrained(dir, opts));
}

(run ? describe : describe.skip)('webgpu: models', function () {
  this.timeout(180_000);

  describe('stories260K', () => {
    let cpuModel: CausalLM;
    let gpuModel: CausalLM;
    before(async () => {
      const dir = await bundledModelDir();
      cpuModel = await AutoModelForCausalLM.fromPretrained(dir, { backend: 'cpu' });
      gpuModel = await onWebGPU(dir);
    });
    after(() => {
      cpuModel.dispose();
      gpuModel.dispose();
    });

    it('the greedy story on WebGPU equals the CPU one (255 tokens)', async () => {
      const dir = await bundledModelDir();
      const tok = await AutoTokenizer.fromPretrained(dir);
      const [cpu] = await cpuModel.generate([1], { maxNewTokens: 255, eosTokenId: null });
      // The CPU stays the active backend: the model runs where its weights live.
      expect(getBackend()).to.equal('cpu');
      const [gpu] = await gpuModel.generate([1], { maxNewTokens: 255, eosTokenId: null });
      expect(gpu).to.deep.equal(cpu);
      expect(tok.decode(gpu, { skipSpecialTokens: true })).to.match(/^Once upon a time, there was a little girl named Lily/);
    });

    for (const [label, cfg] of [['LLM.int8', { loadIn8bit: true }], ['NF4', { loadIn4bit: true, bnb4bitQuantType: 'nf4' as const }], ['FP4 (float16 compute)', { loadIn4bit: true, bnb4bitComputeDtype: 'float16' as const }]] as const) {
      it(`quantized ${label}: greedy tokens on WebGPU equal the CPU's`, async () => {
        const dir = await bundledModelDir();
        const cpuQ = await on('cpu', () => AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: new BitsAndBytesConfig(cfg) }));
        const gpuQ = await on('webgpu', () => AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig: new BitsAndBytesConfig(cfg) }));
        try {
          const [a] = await on('cpu', () => cpuQ.generate([1], { maxNewTokens: 40, eosTokenId: null }));
          const [b] = await on('webgpu', () => gpuQ.generate([1], { maxNewTokens: 40, eosTokenId: null }));
          expect(b).to.deep.equal(a);
        } finally {
          cpuQ.dispose();
          gpuQ.dispose();
        }
      });
    }

    it('1,000 generate() calls return GPU memory to its baseline', () => on('webgpu', async () => {
      const gpu = await getWebGPUBackend();
      for (let i = 0; i < 100; i++) await gpuModel.generate([1, 403], { maxNewTokens: 2 }); // warm the pool
      await gpu.sync();
      const before = memory();
      const pool = gpu.memoryInfo();
      for (let i = 0; i < 1000; i++) await gpuModel.generate([1, 403], { maxNewTokens: 2 });
      await gpu.sync();
      const now = memory();
      const after = gpu.memoryInfo();
      expect(now.numTensors).to.equal(before.numTensors);
      expect(now.numBytes).to.equal(before.numBytes);
      expect(now.backends.webgpu.numBytes).to.equal(before.backends.webgpu.numBytes);
      expect(after.liveBytes, 'GPU bytes held by the buffer pool').to.equal(pool.liveBytes);
      expect(after.misses, 'buffers created during the 1,000 calls').to.equal(pool.misses);
      expect(after.pipelines).to.equal(pool.pipelines);
    }));
  });

  for (const name of MODELS) {
    const dir = fixtureDir(name);
    (dir ? describe : describe.skip)(`fixture ${name}`, () => {
      let exp: Awaited<ReturnType<typeof readExpected>>;
      let model: CausalLM;
      before(async () => {
        exp = await readExpected(`${dir}/expected.safetensors`);
        model = await onWebGPU(dir!, { attnImplementation: 'sdpa' });
        await setBackend('webgpu');
      });
      after(async () => {
        model?.dispose();
        await setBackend('cpu');
      });

      it('sdpa logits match transformers within 1e-4 at real tokens', async () => {
        const { logits, pastKeyValues } = model.forward(rows(exp.input_ids), { attentionMask: rows(exp.attention_mask), positionIds: rows(exp.position_ids) });
        expect(logits.backendName).to.equal('webgpu');
        const d = maxDiffMasked(await logits.data(), exp.logits_sdpa.data, exp.attention_mask.data, logits.shape[2]);
        logits.dispose();
        pastKeyValues!.dispose();
        expect(d).to.be.below(TOL);
      });

      it("batched left-padded greedy tokens and every step's logits match", async () => {
        const steps: Float32Array[] = [];
        const out = await model.generate(rows(exp.input_ids), {
          attentionMask: rows(exp.attention_mask), maxNewTokens: 12, eosTokenId: null, onLogits: (l) => steps.push(l.slice()),
        });
        expect(out.map((r) => r.slice(-12))).to.deep.equal(rows(exp.greedy_new_tokens_sdpa));
        const [B, S, V] = exp.greedy_step_logits_sdpa.shape;
        let d = 0;
        for (let s = 0; s < S; s++) for (let b = 0; b < B; b++) for (let v = 0; v < V; v++) d = Math.max(d, Math.abs(steps[s][b * V + v] - exp.greedy_step_logits_sdpa.data[(b * S + s) * V + v]));
        expect(d).to.be.below(TOL);
      });

      it('float16 with flash_attention_2 (sdpa for ALiBi) gives the greedy tokens', async () => {
        const impl: AttnImplementation = name === 'falcon_alibi' ? 'sdpa' : 'flash_attention_2';
        const m16 = await onWebGPU(dir!, { attnImplementation: impl, dtype: 'float16' });
        try {
          const out = await m16.generate(rows(exp.input_ids), { attentionMask: rows(exp.attention_mask), maxNewTokens: 12, eosTokenId: null });
          expect(out.map((r) => r.slice(-12))).to.deep.equal(rows(exp.greedy_new_tokens_sdpa));
        } finally {
          m16.dispose();
        }
      });
    });
  }
});
