/**
 * Perf suite `quant`: GEMV 1×4096 · 4096×4096ᵀ and GEMM 128×4096 · 4096×4096ᵀ with fp32, fp16,
 * int8 (LLM.int8, threshold 6) and nf4 weights (blocksize 64; float32 compute, Hugging Face's
 * default, and bfloat16 compute, the usual QLoRA setting; also with double quant), each beside
 * fp32 measured in the same run; plus the bytes each format stores (codes, scales, maps, JSON
 * state: everything) against fp32. Targets: int8 and nf4 GEMV ≥ 1.5× fp32 (nf4 in either compute
 * dtype); stored bytes int8 ≤ 0.27×, nf4 ≤ 0.15×, nf4 + double quant ≤ 0.135× fp32.
 *
 * The GEMV ratios are also measured in interleaved rounds (`pairedGemvRows`), which compare the
 * formats under the same background load.
 *
 * GPU backends (webgpu) are timed asynchronously (each run awaits the queue), without double
 * quantization (quantizing it reads the absmax mean synchronously, which a GPU cannot).
 */

import * as ft from '../../index.js';
import { time, waitForQuiet, type PerfSuite, type ResultRow, type SuiteContext } from '../harness.js';
import { runOnBackend, timeAsync } from '../kernels.js';
import { deviceMeta } from './attention.js';

const N = 4096, K = 4096, GEMM_ROWS = 128;

export const suite: PerfSuite = {
  name: 'quant',
  description: 'GEMV 1×4096·4096×4096ᵀ and GEMM 128×4096·4096×4096ᵀ with fp32/fp16/int8/nf4 weights; stored weight bytes',
  backends: ['cpu', 'webgpu'],
  async run(ctx) {
    if (ctx.backend !== 'cpu') return runOnBackend(ctx.backend, () => gpuRun(ctx));
    await ft.setBackend('cpu');
    ctx.progress(`quantizing a [${N}, ${K}] weight …`);
    const weights = benchWeights(true);
    const rows: ResultRow[] = [];
    const fp32Bytes = N * K * 4;
    const TARGET_SPEED: Record<string, number> = { int8: 1.5, nf4: 1.5, 'nf4 (bf16 compute)': 1.5 };
    for (const [op, T] of [['GEMV', 1], ['GEMM', GEMM_ROWS]] as const) {
      const x = ft.randn([T, K], { seed: 2 });
      let base: { ms: number; value: number } | null = null;
      for (const [name, w] of weights) {
        if (op === 'GEMM' && name === 'nf4+dq') continue;
        w.matmulT(x).dispose(); // warm up: pool started, kernels tiered up
        waitForQuiet(ctx.quietSeconds, ctx.progress);
        ctx.progress(`${op} ${name} …`);
        const t = time(`${op} ${name}`, () => w.matmulT(x).dispose(), ctx.maxTime);
        const ms = t.median * 1e3;
        const value = op === 'GEMV' ? w.byteSize() / t.median / 1e9 : (2 * T * N * K) / t.median / 1e9;
        const row: ResultRow = {
          name: `${op} ${T}×${K}·${N}×${K}ᵀ ${name}`,
          value, unit: op === 'GEMV' ? 'GB/s' : 'GFLOP/s', ms, meanMs: t.mean * 1e3, rme: t.rme,
        };
        if (!base) base = { ms, value };
        else {
          row.baseline = { name: 'fp32', value: base.value, ms: base.ms };
          row.ratio = base.ms / ms;
          if (op === 'GEMV' && TARGET_SPEED[name]) row.target = TARGET_SPEED[name];
          row.note = 'ratio = fp32 time / this time';
        }
        rows.push(row);
        ctx.progress(`  ${ms.toFixed(3)} ms${row.ratio ? ` (${row.ratio.toFixed(2)}× fp32)` : ''}`);
      }
      if (op === 'GEMV') rows.push(...pairedGemvRows(ctx, weights, x, TARGET_SPEED));
      x.dispose();
    }
    const MAX_FRACTION: Record<string, number> = { int8: 0.27, nf4: 0.15, 'nf4+dq': 0.135 };
    for (const [name, w] of weights) {
      if (name === 'fp32' || name.includes('compute')) continue; // the compute dtype stores nothing
      const frac = w.byteSize() / fp32Bytes;
      rows.push({
        name: `stored bytes ${name} [${N}, ${K}]`,
        value: w.byteSize() / 2 ** 20, unit: 'MiB',
        baseline: { name: 'fp32', value: fp32Bytes / 2 ** 20 },
        ratio: fp32Bytes / w.byteSize(),
        target: MAX_FRACTION[name] ? Math.round(100 / MAX_FRACTION[name]) / 100 : undefined,
        note: `${(frac).toFixed(4)}× fp32 bytes (${((w.byteSize() * 8) / (N * K)).toFixed(3)} bits/param)${MAX_FRACTION[name] ? `; target ≤ ${MAX_FRACTION[name]}×` : ''}`,
      });
    }
    for (const [, w] of weights) w.dispose();
    return { rows, meta: { cpu: ft.cpuInfo(), threads: ft.getNumThreads(), weights: 'randn std 0.02, seed 1; x randn seed 2', int8: 'threshold 6 (no outliers in N(0,1) inputs)', nf4: 'blocksize 64, compute float32 (and bfloat16 where named)' } };
  },
};

/** Interleaved rounds of the GEMV ratio against fp32. */
const PAIRED_ROUNDS = 31;
const PAIRED_CALLS = 16;

/**
 * The GEMV ratios measured in interleaved rounds: each round times every weight for
 * PAIRED_CALLS calls back to back, and the round's ratio is fp32's time over the format's. On a
 * shared machine the load of other tenants drifts over the seconds benchmark.js spends on each
 * format, and the memory-bound fp32 GEMV and the compute-bound 4-bit one react to it
 * differently; pairing inside rounds a few milliseconds long compares them under the same load.
 * Reported: the median ratio over the rounds, and its spread.
 */
function pairedGemvRows(ctx: SuiteContext, weights: [string, ft.LinearWeight][], x: ft.Tensor, targets: Record<string, number>): ResultRow[] {
  waitForQuiet(ctx.quietSeconds, ctx.progress);
  ctx.progress(`GEMV paired rounds (${PAIRED_ROUNDS} × ${PAIRED_CALLS} calls per format) …`);
  const times = new Map<string, number[]>(weights.map(([name]) => [name, []]));
  for (let r = 0; r < PAIRED_ROUNDS; r++) {
    // Rotate the order so that no format always runs right after the same neighbour.
    for (let i = 0; i < weights.length; i++) {
      const [name, w] = weights[(i + r) % weights.length];
      const t0 = performance.now();
      for (let c = 0; c < PAIRED_CALLS; c++) w.matmulT(x).dispose();
      times.get(name)!.push((performance.now() - t0) / PAIRED_CALLS);
    }
  }
  const fp32 = times.get('fp32')!;
  const med = (v: number[]): number => { const s = [...v].sort((a, b) => a - b); return s[s.length >> 1]; };
  const rows: ResultRow[] = [];
  for (const [name] of weights) {
    if (name === 'fp32') continue;
    const t = times.get(name)!;
    const ratios = t.map((ms, r) => fp32[r] / ms).sort((a, b) => a - b);
    const q = (p: number): number => ratios[Math.round(p * (ratios.length - 1))];
    rows.push({
      name: `GEMV 1×${K}·${N}×${K}ᵀ ${name}, paired rounds`,
      value: med(t), unit: 'ms', ms: med(t),
      baseline: { name: 'fp32', value: med(fp32), ms: med(fp32) },
      ratio: q(0.5), target: targets[name],
      note: `median over ${PAIRED_ROUNDS} interleaved rounds of fp32 time / this time; quartiles ${q(0.25).toFixed(2)}–${q(0.75).toFixed(2)}, range ${ratios[0].toFixed(2)}–${ratios[ratios.length - 1].toFixed(2)}`,
    });
    ctx.progress(`  ${name}: ${q(0.5).toFixed(2)}× fp32 (quartiles ${q(0.25).toFixed(2)}–${q(0.75).toFixed(2)})`);
  }
  return rows;
}

/** The GPU variant: the same weights (no double quantization), medians of asynchronous runs. */
async function gpuRun(ctx: SuiteContext): Promise<{ rows: ResultRow[]; meta: Record<string, unknown> }> {
  const weights = benchWeights(false);
  const rows: ResultRow[] = [];
  for (const [op, T] of [['GEMV', 1], ['GEMM', GEMM_ROWS]] as const) {
    const x = ft.randn([T, K], { seed: 2 });
    let base: { ms: number; value: number } | null = null;
    for (const [name, w] of weights) {
      ctx.progress(`${op} ${name} …`);
      const ms = await timeAsync(() => w.matmulT(x), op === 'GEMV' ? 9 : 3);
      const value = op === 'GEMV' ? w.byteSize() / ms / 1e6 : (2 * T * N * K) / ms / 1e6;
      const row: ResultRow = { name: `${op} ${T}×${K}·${N}×${K}ᵀ ${name}`, value, unit: op === 'GEMV' ? 'GB/s' : 'GFLOP/s', ms };
      if (!base) base = { ms, value };
      else Object.assign(row, { baseline: { name: 'fp32', value: base.value, ms: base.ms }, ratio: base.ms / ms, note: 'ratio = fp32 time / this time' });
      rows.push(row);
    }
    x.dispose();
  }
  for (const [, w] of weights) w.dispose();
  return { rows, meta: { ...(await deviceMeta(ctx.backend)), int8: 'fused Int8Linear kernel, threshold 6', nf4: 'blocksize 64, compute float32' } };
}

/** The [N, K] weight (seed 1, std 0.02) in every measured format; nf4 + double quant where asked. */
function benchWeights(doubleQuant: boolean): [string, ft.LinearWeight][] {
  const w32 = ft.randn([N, K], { seed: 1, std: 0.02 });
  const weights: [string, ft.LinearWeight][] = [
    ['fp32', new ft.DenseWeight(w32)],
    ['fp16', new ft.DenseWeight(ft.cast(w32, 'float16'))],
    ['int8', ft.Int8Weight.fromFloat(w32)],
    ['nf4', ft.Quant4Weight.fromFloat(w32, { quantType: 'nf4' })],
    ['nf4 (bf16 compute)', ft.Quant4Weight.fromFloat(w32, { quantType: 'nf4', computeDtype: 'bfloat16' })],
  ];
  if (doubleQuant) weights.push(['nf4+dq', ft.Quant4Weight.fromFloat(w32, { quantType: 'nf4', doubleQuant: true })]);
  return weights;
}
