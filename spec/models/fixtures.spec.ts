/**
 * Every text fixture in shared/fixtures/models reproduced: fp32 logits within 1e-4 of transformers
 * at real tokens (eager and sdpa; falcon_alibi against logits_sdpa, see the fixture README), the
 * plain-forward default position ids, the cached decode's step logits, and the batched,
 * left-padded greedy tokens; in float16 the greedy tokens also match with flash_attention_2.
 */

import { expect } from 'chai';
import { AutoModelForCausalLM, memory, type AttnImplementation, type CausalLM } from '../../index.js';
import { fixtureDir, maxDiffMasked, readExpected, rows } from './helpers.js';

const MODELS = ['llama_gqa', 'llama3_rope', 'falcon_7b_style', 'falcon_40b_style', 'falcon_alibi', 'opt_125m_style', 'opt_350m_style'];
const TOL = 1e-4;

for (const name of MODELS) {
  const dir = fixtureDir(name);
  describe(`fixture ${name}`, function () {
    if (!dir) {
      it.skip('shared/fixtures not found beside the checkout');
      return;
    }
    let exp: Awaited<ReturnType<typeof readExpected>>;
    before(async () => {
      exp = await readExpected(`${dir}/expected.safetensors`);
    });

    for (const impl of ['eager', 'sdpa'] as AttnImplementation[]) {
      describe(impl, () => {
        let model: CausalLM;
        before(async () => {
          model = await AutoModelForCausalLM.fromPretrained(dir, { attnImplementation: impl });
        });
        after(() => model.dispose());

        it('logits match transformers within 1e-4 at real tokens', () => {
          const before = memory().numTensors;
          const { logits, pastKeyValues } = model.forward(rows(exp.input_ids), { attentionMask: rows(exp.attention_mask), positionIds: rows(exp.position_ids) });
          // Falcon with ALiBi: transformers' eager path adds the bias twice; both paths here match its sdpa path.
          const ref = impl === 'eager' && name !== 'falcon_alibi' ? exp.logits_eager : exp.logits_sdpa;
          const d = maxDiffMasked(logits.dataSync(), ref.data, exp.attention_mask.data, logits.shape[2]);
          logits.dispose();
          pastKeyValues!.dispose();
          expect(d).to.be.below(TOL);
          expect(memory().numTensors).to.equal(before);
        });

        it('default position ids (plain forward) match', () => {
          const { logits, pastKeyValues } = model.forward(rows(exp.input_ids), { attentionMask: rows(exp.attention_mask), useCache: false });
          expect(pastKeyValues).to.equal(null);
          const d = maxDiffMasked(logits.dataSync(), exp.logits_sdpa_default_position_ids.data, exp.attention_mask.data, logits.shape[2]);
          logits.dispose();
          expect(d).to.be.below(TOL);
        });

        it('batched left-padded greedy tokens and every step\'s logits match', async () => {
          const steps: Float32Array[] = [];
          const out = await model.generate(rows(exp.input_ids), {
            attentionMask: rows(exp.attention_mask), maxNewTokens: 12, eosTokenId: null,
            onLogits: (l) => steps.push(l.slice()),
          });
          const ref = impl === 'eager' && name !== 'falcon_alibi' ? exp.greedy_new_tokens_eager : exp.greedy_new_tokens_sdpa;
          expect(out.map((r) => r.slice(-12))).to.deep.equal(rows(ref));
          const [B, S, V] = exp.greedy_step_logits_sdpa.shape;
          let d = 0;
          for (let s = 0; s < S; s++) {
            for (let b = 0; b < B; b++) {
              for (let v = 0; v < V; v++) d = Math.max(d, Math.abs(steps[s][b * V + v] - exp.greedy_step_logits_sdpa.data[(b * S + s) * V + v]));
            }
          }
          expect(d).to.be.below(TOL);
        });
      });
    }

    it('float16: eager, sdpa and flash_attention_2 give the fixture\'s greedy tokens', async () => {
      for (const impl of ['eager', 'sdpa', 'flash_attention_2'] as AttnImplementation[]) {
        if (impl === 'flash_attention_2' && name === 'falcon_alibi') continue; // flash cannot apply ALiBi
        const model = await AutoModelForCausalLM.fromPretrained(dir, { attnImplementation: impl, dtype: 'float16' });
        const out = await model.generate(rows(exp.input_ids), { attentionMask: rows(exp.attention_mask), maxNewTokens: 12, eosTokenId: null });
        model.dispose();
        expect(out.map((r) => r.slice(-12)), impl).to.deep.equal(rows(exp.greedy_new_tokens_sdpa));
      }
    });
  });
}
