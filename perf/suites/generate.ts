/**
 * generate perf (perf/generate.ts): prefill and decode tokens/s of a random-weight ~110M Llama per
 * dtype and attention implementation, on the runner's backend. On a software GPU adapter
 * (lavapipe) the runs are shortened (prefill 128, decode 32 tokens).
 */

import '../../backends/webgpu/index.js';
import { runOnBackend } from '../kernels.js';
import { runGenerateSuite } from '../generate.js';
import type { PerfSuite, ResultRow } from '../harness.js';
import { deviceMeta } from './attention.js';

export const suite: PerfSuite = {
  name: 'generate',
  description: 'prefill and decode tokens/s of a random ~110M Llama (dim 768, 12 layers, vocab 32000) per dtype and attention',
  backends: ['cpu', 'webgpu'],
  async run(ctx) {
    const meta = await deviceMeta(ctx.backend);
    const short = meta.softwareAdapter === true;
    const results = await runOnBackend(ctx.backend, () =>
      runGenerateSuite({ log: ctx.progress, ...(short ? { prefill: 128, decode: 32 } : {}) }),
    );
    const rows: ResultRow[] = [];
    for (const r of results) {
      rows.push({ name: `prefill ${r.prefillTokens} tokens, ${r.dtype} ${r.impl}`, value: r.prefillTokensPerSec, unit: 'tokens/s' });
      rows.push({ name: `decode ${r.decodeTokens} tokens, ${r.dtype} ${r.impl}`, value: r.decodeTokensPerSec, unit: 'tokens/s', ms: r.decodeStepMs, note: 'ms = per decode step' });
    }
    return { rows, meta: { ...meta, params: results[0]?.params } };
  },
};
