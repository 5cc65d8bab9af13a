/**
 * Generation benchmark (used by perf/suites/generate.ts, the runner's `generate` suite): prefill
 * tokens/s (512 tokens) and decode tokens/s (128 tokens) of a random-weight Llama of ~110M
 * parameters (dim 768, 12 layers, 12 heads, MLP 2048, vocab 32000, tied embeddings) built in
 * memory, per dtype and attention implementation, with medians over repeats and the decode
 * step's worker wake-ups. `quick` shrinks the model and lengths for a smoke run.
 *
 * int8 / nf4 are a float32 model whose decoder Linears `quantizeModel` replaced (the tied head
 * stays float32); nf4 computes in float32 (Hugging Face's default `bnb_4bit_compute_dtype`),
 * nf4-bf16 in bfloat16 (the usual QLoRA inference setting).
 */

import * as ft from '../index.js';
import {
  BitsAndBytesConfig, LlamaForCausalLM, quantizeModel, cast, cpuStats, generationStats, parseLlamaConfig, randn, type AttnImplementation, type CausalLM, type DType,
} from '../index.js';

/** One measured configuration (or one that does not apply: `skipped` says why). */
export interface GenerateResult {
  dtype: string;
  impl: AttnImplementation;
  params: number;
  prefillTokens: number;
  /** Median over repeats. */
  prefillTokensPerSec: number;
  decodeTokens: number;
  /** Median over repeats. */
  decodeTokensPerSec: number;
  /** Median wall time of one decode step, ms. */
  decodeStepMs: number;
  /** Jobs that had to wake a sleeping worker, per decode step (mean over repeats). */
  wakesPerStep: number;
  /** Every repeat's figures, for the spread. */
  prefillRuns: number[];
  decodeRuns: number[];
  /** Where the time goes (one extra profiled prefill and decode, after the timed runs), with `profile`. */
  profile?: { prefill: ft.ProfileInfo; decode: ft.ProfileInfo };
  skipped?: string;
}

/** Options of runGenerateSuite. */
export interface GenerateSuiteOptions {
  quick?: boolean;
  /** float32, float16, bfloat16, int8, nf4, nf4-bf16 (default: BENCH_DTYPES). */
  dtypes?: string[];
  impls?: AttnImplementation[];
  prefill?: number;
  decode?: number;
  /** Measurements per figure; the median is reported (default 3, quick 1). */
  repeats?: number;
  log?: (line: string) => void;
  /** Called before every timing (e.g. to wait for an idle machine). */
  beforeTiming?: () => void;
  /** Also profile one prefill and one decode per configuration (kernel times by name). */
  profile?: boolean;
}

/** The dtypes the suite measures by default. */
export const BENCH_DTYPES = ['float32', 'float16', 'int8', 'nf4', 'nf4-bf16'];

export const FULL_SIZE = { hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, intermediate_size: 2048, vocab_size: 32000 };
export const QUICK_SIZE = { hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 256, vocab_size: 1000 };

/** A Llama with seeded random weights (std 0.02; norms ≈ 1), built without any file. */
export function randomLlama(size: typeof FULL_SIZE, dtype: DType): CausalLM {
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

/** Builds the model for a benchmark dtype, or returns why it cannot. */
function buildModel(size: typeof FULL_SIZE, dtype: string): CausalLM | string {
  if (!isQuantized(dtype)) return randomLlama(size, dtype as DType);
  const model = randomLlama(size, 'float32');
  const config =
    dtype === 'int8'
      ? new BitsAndBytesConfig({ loadIn8bit: true })
      : new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: 'nf4', bnb4bitComputeDtype: dtype === 'nf4-bf16' ? 'bfloat16' : 'float32' });
  quantizeModel(model, config);
  return model;
}

const isQuantized = (dtype: string) => dtype === 'int8' || dtype.startsWith('nf4');

/** Why an attention implementation does not apply to a dtype, or null. */
function notApplicable(dtype: string, impl: AttnImplementation): string | null {
  if (impl !== 'flash_attention_2') return null;
  if (dtype === 'float32') return 'flash attention needs float16/bfloat16 activations';
  if (isQuantized(dtype)) return 'quantized models keep float32 activations: flash attention needs float16/bfloat16';
  return null;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Runs the benchmark; returns one result per (dtype, implementation). */
export async function runGenerateSuite(opts: GenerateSuiteOptions = {}): Promise<GenerateResult[]> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const size = opts.quick ? QUICK_SIZE : FULL_SIZE;
  const prefill = opts.prefill ?? (opts.quick ? 64 : 512);
  const decode = opts.decode ?? (opts.quick ? 16 : 128);
  const repeats = opts.repeats ?? (opts.quick ? 1 : 3);
  const before = opts.beforeTiming ?? (() => {});
  const prompt = Array.from({ length: prefill }, (_, i) => 1 + ((i * 7919) % (size.vocab_size - 1)));
  const results: GenerateResult[] = [];
  for (const dtype of opts.dtypes ?? BENCH_DTYPES) {
    const impls = opts.impls ?? (['eager', 'sdpa', 'flash_attention_2'] as AttnImplementation[]);
    const base = { dtype, params: 0, prefillTokens: prefill, decodeTokens: decode, prefillTokensPerSec: NaN, decodeTokensPerSec: NaN, decodeStepMs: NaN, wakesPerStep: NaN, prefillRuns: [], decodeRuns: [] };
    log(`${dtype}: building the model`);
    const model = buildModel(size, dtype);
    if (typeof model === 'string') {
      log(`${dtype}: skipped (${model})`);
      for (const impl of impls) results.push({ ...base, impl, skipped: model });
      continue;
    }
    const params = model.declaredParameters().filter((d) => !d.spec.tiedTo).reduce((a, d) => a + d.spec.shape.reduce((x, y) => x * y, 1), 0);
    for (const impl of impls) {
      const na = notApplicable(dtype, impl);
      if (na) {
        results.push({ ...base, impl, params, skipped: na });
        continue;
      }
      model.setAttentionImplementation(impl);
      await model.generate([prompt.slice(0, 8)], { maxNewTokens: 2, eosTokenId: null }); // warm-up (compiles the kernels' hot paths)
      const prefillRuns: number[] = [];
      const decodeRuns: number[] = [];
      const stepMs: number[] = [];
      let wakes = 0;
      for (let r = 0; r < repeats; r++) {
        log(`${dtype} ${impl}: prefill ${prefill} tokens (${r + 1}/${repeats})`);
        before();
        // One forward over the prompt, logits for the last position only (as generate() does).
        const t0 = performance.now();
        const { logits, pastKeyValues } = model.forward([prompt], { logitsToKeep: 1 });
        await logits.data();
        prefillRuns.push((prefill * 1000) / (performance.now() - t0));
        logits.dispose();
        pastKeyValues?.dispose();
        log(`${dtype} ${impl}: decode ${decode} tokens (${r + 1}/${repeats})`);
        before();
        // `decode` steps after a 16-token prompt (the first new token comes from the prefill).
        const w0 = cpuStats().workerWakes;
        await model.generate([prompt.slice(0, 16)], { maxNewTokens: decode + 1, eosTokenId: null });
        wakes += cpuStats().workerWakes - w0;
        const s = generationStats(model)!;
        decodeRuns.push((decode * 1000) / s.decodeMs);
        stepMs.push(s.decodeMs / decode);
      }
      const r: GenerateResult = {
        dtype, impl, params, prefillTokens: prefill, decodeTokens: decode,
        prefillTokensPerSec: median(prefillRuns), decodeTokensPerSec: median(decodeRuns), decodeStepMs: median(stepMs),
        wakesPerStep: wakes / (repeats * (decode + 1)), prefillRuns, decodeRuns,
      };
      if (opts.profile) {
        log(`${dtype} ${impl}: profiling one prefill and one decode`);
        before();
        const p = ft.profile(() => model.forward([prompt], { logitsToKeep: 1 }));
        p.result.logits.dispose();
        p.result.pastKeyValues?.dispose();
        before();
        const d = await ft.profile(() => model.generate([prompt.slice(0, 16)], { maxNewTokens: decode + 1, eosTokenId: null }));
        r.profile = { prefill: p.profile, decode: d.profile };
      }
      results.push(r);
      log(`${dtype.padEnd(8)} ${impl.padEnd(18)} prefill ${r.prefillTokensPerSec.toFixed(1).padStart(7)} tok/s   decode ${r.decodeTokensPerSec.toFixed(1).padStart(6)} tok/s (${r.decodeStepMs.toFixed(2)} ms/step, ${r.wakesPerStep.toFixed(2)} wakes/step)`);
    }
    model.dispose();
  }
  return results;
}
