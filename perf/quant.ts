/**
 * Perf suite `quant`: GEMV (1×4096 · 4096×4096ᵀ) and GEMM (128×4096 · 4096×4096ᵀ) with fp32,
 * fp16, int8 (LLM.int8, threshold 6) and nf4 (blocksize 64, float32 compute) weights, all in one
 * run, timed as medians with ratios to fp32 from the same run; plus the stored weight bytes of each
 * format (everything stored: codes, scales, maps, JSON state) as a fraction of fp32.
 */

import * as ft from '../index.js';

/** One measured case. */
export interface QuantPerfRow {
  op: 'GEMV' | 'GEMM';
  weight: string;
  /** x shape and W shape. */
  shape: string;
  medianMs: number;
  minMs: number;
  runs: number;
  /** fp32 median / this median (higher is faster). */
  speedupVsFp32: number;
}

/** Stored bytes of one weight format. */
export interface QuantBytesRow {
  weight: string;
  bytes: number;
  ratioVsFp32: number;
  bitsPerParam: number;
}

/** Options of the suite. */
export interface QuantSuiteOptions {
  N?: number;
  K?: number;
  gemmRows?: number;
  /** Timed runs per case (after warm-up); the GEMM cases use a third of it, at least 3. */
  runs?: number;
  log?: (line: string) => void;
}

function time(fn: () => ft.Tensor, runs: number): { median: number; min: number } {
  for (let i = 0; i < 2; i++) fn().dispose();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const y = fn();
    y.dataSync();
    ts.push(performance.now() - t0);
    y.dispose();
  }
  ts.sort((a, b) => a - b);
  return { median: ts[ts.length >> 1], min: ts[0] };
}

/** Runs the suite and returns its rows. */
export function runQuantSuite(opts: QuantSuiteOptions = {}): { perf: QuantPerfRow[]; bytes: QuantBytesRow[] } {
  const N = opts.N ?? 4096;
  const K = opts.K ?? 4096;
  const M = opts.gemmRows ?? 128;
  const runs = opts.runs ?? 15;
  const log = opts.log ?? (() => {});
  const w32 = ft.randn([N, K], { seed: 1, std: 0.02 });
  log(`quantizing a [${N}, ${K}] weight …`);
  const weights: [string, ft.LinearWeight][] = [
    ['fp32', new ft.DenseWeight(w32)],
    ['fp16', new ft.DenseWeight(ft.cast(w32, 'float16'))],
    ['int8', ft.Int8Weight.fromFloat(w32)],
    ['nf4', ft.Quant4Weight.fromFloat(w32, { quantType: 'nf4' })],
    ['nf4+dq', ft.Quant4Weight.fromFloat(w32, { quantType: 'nf4', doubleQuant: true })],
  ];
  const fp32Bytes = N * K * 4;
  const bytes: QuantBytesRow[] = weights.map(([name, w]) => ({
    weight: name, bytes: w.byteSize(), ratioVsFp32: w.byteSize() / fp32Bytes, bitsPerParam: (w.byteSize() * 8) / (N * K),
  }));
  const perf: QuantPerfRow[] = [];
  for (const [op, rows] of [['GEMV', 1], ['GEMM', M]] as const) {
    const x = ft.randn([rows, K], { seed: 2 });
    let base = 0;
    for (const [name, w] of weights) {
      if (name === 'nf4+dq' && op === 'GEMM') continue;
      const r = time(() => w.matmulT(x), op === 'GEMV' ? runs : Math.max(3, Math.ceil(runs / 3)));
      if (name === 'fp32') base = r.median;
      const row: QuantPerfRow = {
        op, weight: name, shape: `${rows}×${K} · ${N}×${K}ᵀ`, medianMs: r.median, minMs: r.min,
        runs: op === 'GEMV' ? runs : Math.max(3, Math.ceil(runs / 3)), speedupVsFp32: base / r.median,
      };
      perf.push(row);
      log(`${op} ${name}: median ${r.median.toFixed(3)} ms (min ${r.min.toFixed(3)}), ${row.speedupVsFp32.toFixed(2)}× fp32`);
    }
    x.dispose();
  }
  for (const [, w] of weights) w.dispose();
  return { perf, bytes };
}

/** Markdown tables of a run. */
export function quantSuiteMarkdown(r: { perf: QuantPerfRow[]; bytes: QuantBytesRow[] }): string {
  const lines = ['| op | weights | shape | median ms | min ms | runs | speed vs fp32 |', '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const p of r.perf) {
    lines.push(`| ${p.op} | ${p.weight} | ${p.shape} | ${p.medianMs.toFixed(3)} | ${p.minMs.toFixed(3)} | ${p.runs} | ${p.speedupVsFp32.toFixed(2)}× |`);
  }
  lines.push('', '| weights | stored bytes | ratio to fp32 | bits/param |', '| --- | --- | --- | --- |');
  for (const b of r.bytes) lines.push(`| ${b.weight} | ${b.bytes.toLocaleString('en-US')} | ${b.ratioVsFp32.toFixed(4)} | ${b.bitsPerParam.toFixed(3)} |`);
  return lines.join('\n');
}
