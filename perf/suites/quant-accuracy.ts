/**
 * Perf suite `quant-accuracy`: stories260K (a real tiny Llama) in fp32 against LLM.int8, NF4 (± double
 * quant) and FP4 loaded through `fromPretrained(dir, { quantizationConfig })`: perplexity on a fixed
 * text, greedy-continuation agreement with fp32, logit error and stored bytes (perf/quant_accuracy.ts).
 */

import { quantAccuracyMarkdown, runQuantAccuracy } from '../quant_accuracy.js';
import type { PerfSuite, ResultRow } from '../harness.js';

export const suite: PerfSuite = {
  name: 'quant-accuracy',
  description: 'stories260K fp32 vs int8 / nf4 / nf4+dq / fp4: perplexity, greedy agreement, bytes',
  backends: ['cpu'],
  async run(ctx) {
    const res = await runQuantAccuracy({ log: ctx.progress });
    const base = res[0];
    const rows: ResultRow[] = [];
    for (const r of res) {
      rows.push({
        name: `perplexity ${r.name} = ${r.perplexity.toFixed(4)}`, value: r.perplexity, unit: 'ppl',
        ...(r === base ? {} : { baseline: { name: 'fp32', value: base.perplexity }, ratio: r.perplexity / base.perplexity }),
      });
    }
    for (const r of res.slice(1)) {
      rows.push({ name: `greedy agreement ${r.name} (${r.identical}/8 identical)`, value: 100 * r.tokenAgreement, unit: '%', note: `${r.identical} of 8 continuations identical; mean matching prefix ${r.matchingPrefix.toFixed(1)} tokens` });
    }
    return { rows, meta: { table: quantAccuracyMarkdown(res) } };
  },
};
