/**
 * Charts of the attention perf suite, in the spirit of the FlashAttention papers' figures:
 * speedup over the math path (and over tfjs-backend-wasm) per sequence length, time per call,
 * and peak memory per sequence length. Hand-written SVG via svg_chart.ts.
 */

import { barChart, lineChart, type Series } from './svg_chart.js';

/** What the charts need of a measurement (perf/suites/attention.ts `Measurement`). */
export interface AttentionPoint {
  impl: string;
  dtype: string;
  B: number;
  L: number;
  causal: boolean;
  ms?: number;
  peakBytes?: number;
  skipped?: string;
}

const COLORS: Record<string, string> = {
  'flash float16': '#d62728',
  'efficient float16': '#ff7f0e',
  'efficient float32': '#2ca02c',
  'math float16': '#1f77b4',
  'math float32': '#9467bd',
  'tfjs float32': '#7f7f7f',
};
const NAMES: Record<string, string> = {
  'flash float16': 'flash fp16',
  'efficient float16': 'mem-efficient fp16',
  'efficient float32': 'mem-efficient fp32',
  'math float16': 'math fp16',
  'math float32': 'math fp32',
  'tfjs float32': 'tfjs-wasm fp32',
};

/** SVG files by name: attention-{speedup,time,memory}-<backend>.svg (B = 1). */
export function attentionCharts(points: AttentionPoint[], backend: string): Record<string, string> {
  const B = 1;
  const seqs = [...new Set(points.filter((p) => p.B === B).map((p) => p.L))].sort((a, b) => a - b);
  if (!seqs.length) return {};
  const at = (impl: string, dtype: string, L: number, causal: boolean) => points.find((p) => p.impl === impl && p.dtype === dtype && p.B === B && p.L === L && p.causal === causal && !p.skipped);
  const files: Record<string, string> = {};
  const sub = `B=${B}, H=8, E=64, L = S; ${backend} backend`;

  // Speedup of the fused kernels over math in the same dtype, and of flash over tfjs-wasm.
  const speed: Series[] = [];
  const ratio = (num: [string, string], den: [string, string], causal: boolean) =>
    seqs.map((L) => {
      const a = at(num[0], num[1], L, causal), b = at(den[0], den[1], L, causal);
      return a?.ms && b?.ms ? b.ms / a.ms : null;
    });
  const add = (name: string, color: string, values: (number | null)[], missingLabel: string) => {
    if (values.some((v) => v !== null)) speed.push({ name, color, values, missingLabel });
  };
  add('flash fp16 / math fp16, causal', '#d62728', ratio(['flash', 'float16'], ['math', 'float16'], true), 'math skipped');
  add('flash fp16 / math fp16, full', '#f4a582', ratio(['flash', 'float16'], ['math', 'float16'], false), 'math skipped');
  add('mem-eff fp32 / math fp32, causal', '#2ca02c', ratio(['efficient', 'float32'], ['math', 'float32'], true), 'math skipped');
  add('mem-eff fp32 / math fp32, full', '#98df8a', ratio(['efficient', 'float32'], ['math', 'float32'], false), 'math skipped');
  add('flash fp16 / tfjs-wasm fp32, causal', '#404040', ratio(['flash', 'float16'], ['tfjs', 'float32'], true), 'tfjs skipped');
  add('flash fp16 / tfjs-wasm fp32, full', '#bababa', ratio(['flash', 'float16'], ['tfjs', 'float32'], false), 'tfjs skipped');
  if (speed.length) {
    files[`attention-speedup-${backend}.svg`] = barChart({
      title: 'Attention speedup over the composed baselines', subtitle: `${sub}; higher is better`,
      x: seqs, xLabel: 'sequence length', yLabel: 'speedup (baseline time / fused time)', series: speed,
      logY: true, labelBars: true, refLines: [{ y: 1, label: '1×' }], width: 760,
    });
  }

  for (const causal of [true, false]) {
    const keys = Object.keys(COLORS);
    const timeSeries = keys.map((key) => {
      const [impl, dtype] = key.split(' ');
      return { name: NAMES[key], color: COLORS[key], values: seqs.map((L) => at(impl, dtype, L, causal)?.ms ?? null), dashed: impl === 'tfjs' };
    }).filter((s) => s.values.some((v) => v !== null));
    if (timeSeries.length) {
      files[`attention-time-${causal ? 'causal' : 'full'}-${backend}.svg`] = lineChart({
        title: `Attention time per call (${causal ? 'causal' : 'no mask'})`, subtitle: `${sub}; missing points were skipped (see the JSON)`,
        x: seqs, xLabel: 'sequence length', yLabel: 'ms per call (median, log scale)', series: timeSeries, logY: true,
      });
    }
  }

  const memSeries = Object.keys(COLORS).filter((k) => !k.startsWith('tfjs')).map((key) => {
    const [impl, dtype] = key.split(' ');
    const values = seqs.map((L) => { const p = at(impl, dtype, L, true); return p?.peakBytes ? p.peakBytes / 2 ** 20 : null; });
    // Flash and memory-efficient fp16 share their tiles, so their lines coincide: dash one.
    return { name: NAMES[key], color: COLORS[key], values, dashed: impl === 'efficient' };
  }).filter((s) => s.values.some((v) => v !== null));
  if (memSeries.length) {
    const f = at('flash', 'float16', 4096, true), m = at('math', 'float16', 4096, true);
    const note = f?.peakBytes && m?.peakBytes ? `; at 4096 math needs ${(m.peakBytes / f.peakBytes).toFixed(0)}× flash's memory` : '';
    files[`attention-memory-${backend}.svg`] = lineChart({
      title: 'Attention peak memory (causal)', subtitle: `${sub}; engine peak above the inputs${note}`,
      x: seqs, xLabel: 'sequence length', yLabel: 'peak MiB (log scale)', series: memSeries, logY: true,
    });
  }
  return files;
}
