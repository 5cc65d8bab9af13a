/**
 * The `generate` perf suite: prefill tokens/s (512 tokens) and decode tokens/s (128 tokens) of a
 * random-weight Llama of ~110M parameters (dim 768, 12 layers, 12 heads, MLP 2048, vocab 32000,
 * tied embeddings), built in memory, per dtype and attention implementation.
 *
 * Run: `node dist/perf/generate.js [--quick] [--dtypes float32,float16] [--impls eager,sdpa,flash_attention_2]`
 * (`--quick` shrinks the model and lengths for a smoke run). `runGenerateSuite` is the entry point
 * for the perf runner (`perf/run.ts --suite generate`).
 */

import {
  BitsAndBytesConfig, LlamaForCausalLM, cast, generationStats, parseLlamaConfig, quantizeModel, randn, type AttnImplementation, type CausalLM,
  type DType,
} from '../index.js';

/** One measured configuration. */
export interface GenerateResult {
  dtype: string;
  impl: AttnImplementation;
  params: number;
  prefillTokens: number;
  prefillTokensPerSec: number;
  decodeTokens: number;
  decodeTokensPerSec: number;
  /** Mean wall time of one decode step, ms. */
  decodeStepMs: number;
}

/** Suite options. */
export interface GenerateSuiteOptions {
  quick?: boolean;
  dtypes?: string[];
  impls?: AttnImplementation[];
  prefill?: number;
  decode?: number;
  log?: (line: string) => void;
}

const FULL = { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 2048, vocab_size: 32000 };
const QUICK = { hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256, vocab_size: 1000 };

/** A Llama with seeded random weights (std 0.02), built without any file. */
export function randomLlama(size: typeof FULL, dtype: DType): CausalLM {
  const cfg = parseLlamaConfig({ model_type: 'llama', ...size, max_position_embeddings: 2048, rms_norm_eps: 1e-5, tie_word_embeddings: true });
  const model = new LlamaForCausalLM(cfg);
  let seed = 1;
  for (const d of model.declaredParameters()) {
    if (d.spec.tiedTo) continue;
    const isNorm = d.spec.shape.length === 1;
    const t = randn(d.spec.shape, { seed: seed++, std: isNorm ? 0.01 : 0.02, mean: isNorm ? 1 : 0 });
    const v = dtype === 'float32' ? t : cast(t, dtype);
    if (v !== t) t.dispose();
    v.kept = true;
    d.module.setParameter(d.field, v);
  }
  model.lm_head.setParameter('weight', model.model.embed_tokens.weight);
  return model;
}

/** Runs the suite; returns one result per (dtype, implementation). */
export async function runGenerateSuite(opts: GenerateSuiteOptions = {}): Promise<GenerateResult[]> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const size = opts.quick ? QUICK : FULL;
  const prefill = opts.prefill ?? (opts.quick ? 64 : 512);
  const decode = opts.decode ?? (opts.quick ? 16 : 128);
  const results: GenerateResult[] = [];
  for (const dtype of opts.dtypes ?? ['float32', 'float16']) {
    // int8 / nf4: float32 weights, then every decoder Linear quantized (the tied head stays float32).
    const quant =
      dtype === 'int8' ? new BitsAndBytesConfig({ loadIn8bit: true })
      : dtype === 'nf4' ? new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4' })
      : null;
    const model = randomLlama(size, quant ? 'float32' : (dtype as DType));
    if (quant) quantizeModel(model, quant);
    const params = model.declaredParameters().filter((d) => !d.spec.tiedTo).reduce((a, d) => a + d.spec.shape.reduce((x, y) => x * y, 1), 0);
    for (const impl of opts.impls ?? (['eager', 'sdpa', 'flash_attention_2'] as AttnImplementation[])) {
      if (impl === 'flash_attention_2' && (dtype === 'float32' || quant)) continue;
      model.setAttentionImplementation(impl);
      const prompt = Array.from({ length: prefill }, (_, i) => 1 + ((i * 7919) % (size.vocab_size - 1)));
      // Prefill: one forward over the prompt (last-position logits only, as generate() does).
      await model.generate([prompt.slice(0, 8)], { maxNewTokens: 2, eosTokenId: null }); // warm-up
      const t0 = performance.now();
      const { logits, pastKeyValues } = model.forward([prompt], { logitsToKeep: 1 });
      await logits.data();
      const prefillMs = performance.now() - t0;
      logits.dispose();
      pastKeyValues?.dispose();
      // Decode: `decode` new tokens after a short prompt; the first token is the prefill's.
      await model.generate([prompt.slice(0, 16)], { maxNewTokens: decode + 1, eosTokenId: null });
      const s = generationStats(model)!;
      const r: GenerateResult = {
        dtype, impl, params, prefillTokens: prefill,
        prefillTokensPerSec: (prefill * 1000) / prefillMs,
        decodeTokens: decode,
        decodeTokensPerSec: (decode * 1000) / s.decodeMs,
        decodeStepMs: s.decodeMs / decode,
      };
      results.push(r);
      log(`${dtype.padEnd(8)} ${impl.padEnd(18)} prefill ${r.prefillTokensPerSec.toFixed(1).padStart(8)} tok/s   decode ${r.decodeTokensPerSec.toFixed(2).padStart(8)} tok/s (${r.decodeStepMs.toFixed(1)} ms/step)`);
    }
    model.dispose();
  }
  return results;
}

const isMain = typeof process !== 'undefined' && process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, 'dist/'));
if (isMain) {
  const args = process.argv.slice(2);
  const val = (k: string) => {
    const i = args.indexOf(k);
    return i >= 0 ? args[i + 1] : undefined;
  };
  await runGenerateSuite({
    quick: args.includes('--quick'),
    dtypes: val('--dtypes')?.split(','),
    impls: val('--impls')?.split(',') as AttnImplementation[] | undefined,
    prefill: val('--prefill') ? Number(val('--prefill')) : undefined,
    decode: val('--decode') ? Number(val('--decode')) : undefined,
  });
}
