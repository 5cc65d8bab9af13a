/**
 * Attention perf: flash vs memory-efficient vs math per sequence length, full and causal, float16
 * through the dispatcher and float32 through the kernels (see perf/kernels.ts). Any backend.
 */

import { attentionSuite, runOnBackend, toResultRows } from '../kernels.js';
import type { PerfSuite } from '../harness.js';

export const suite: PerfSuite = {
  name: 'attention',
  description: 'sdpa flash vs memory-efficient vs math, B=1 H=4 E=64, L=S 128/512/1024, full and causal, fp16 and fp32',
  backends: ['cpu', 'webgpu'],
  async run(ctx) {
    const rows = await runOnBackend(ctx.backend, () => attentionSuite({ log: ctx.progress }));
    return { rows: toResultRows(rows), meta: await deviceMeta(ctx.backend) };
  },
};

/** The device the backend runs on (adapter description for webgpu). */
export async function deviceMeta(backend: string): Promise<Record<string, unknown>> {
  const { ENGINE } = await import('../../lib/engine.js');
  const b = (await ENGINE.initBackend(backend)) as { info?: { description?: string; isFallback?: boolean } };
  return b.info ? { device: b.info.description, softwareAdapter: b.info.isFallback } : { device: 'cpu' };
}
