/**
 * Quantized-weight perf: GEMV (1×4096 · 4096×4096ᵀ) and GEMM (128×4096 · 4096×4096ᵀ) with fp32,
 * fp16, LLM.int8 and NF4 weights, ratios to fp32 from the same run. The CPU runs perf/quant.ts (which
 * also times double-quantized NF4); other backends are timed asynchronously here (double
 * quantization needs a synchronous read of the absmax mean, which GPU backends cannot do).
 */

import * as ft from '../../index.js';
import { runOnBackend, timeAsync } from '../kernels.js';
import { runQuantSuite } from '../quant.js';
import type { PerfSuite, ResultRow } from '../harness.js';
import { deviceMeta } from './attention.js';

export const suite: PerfSuite = {
  name: 'quant',
  description: 'GEMV/GEMM with fp32, fp16, int8 (LLM.int8) and nf4 weights, 4096×4096',
  backends: ['cpu', 'webgpu'],
  async run(ctx) {
    const meta = await deviceMeta(ctx.backend);
    if (ctx.backend === 'cpu') {
      const r = await runOnBackend('cpu', async () => runQuantSuite({ log: ctx.progress }));
      const rows: ResultRow[] = r.perf.map((p) => ({ name: `${p.op} ${p.shape} ${p.weight}`, value: p.speedupVsFp32, unit: '× fp32', ms: p.medianMs }));
      return { rows, meta: { ...meta, bytes: r.bytes } };
    }
    const rows = await runOnBackend(ctx.backend, async () => {
      const N = 4096, K = 4096;
      const w32 = ft.randn([N, K], { seed: 1, std: 0.02 });
      const weights: [string, ft.LinearWeight][] = [
        ['fp32', new ft.DenseWeight(w32)],
        ['fp16', new ft.DenseWeight(ft.cast(w32, 'float16'))],
        ['int8', ft.Int8Weight.fromFloat(w32)],
        ['nf4', ft.Quant4Weight.fromFloat(w32, { quantType: 'nf4' })],
      ];
      const out: ResultRow[] = [];
      for (const [op, T] of [['GEMV', 1], ['GEMM', 128]] as const) {
        const x = ft.randn([T, K], { seed: 2 });
        let base = 0;
        for (const [name, w] of weights) {
          ctx.progress(`${op} ${name} …`);
          const ms = await timeAsync(() => w.matmulT(x), op === 'GEMV' ? 9 : 3);
          if (name === 'fp32') base = ms;
          out.push({ name: `${op} ${T}×${K} · ${N}×${K}ᵀ ${name}`, value: base / ms, unit: '× fp32', ms, note: `${((w.byteSize() * 8) / (N * K)).toFixed(2)} bits/param` });
        }
        x.dispose();
      }
      for (const [, w] of weights) w.dispose();
      return out;
    });
    return { rows, meta };
  },
};
