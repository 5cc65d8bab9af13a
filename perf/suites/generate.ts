/**
 * `npm run perf -- --backend cpu --suite generate [--quick] [--only float16,sdpa] [--quiet]`:
 * prefill (512 tokens) and decode (128 tokens) tokens/s of a random ~110M Llama per dtype
 * (float32, float16, int8, nf4 in float32 and in bfloat16 compute) × attention (eager, sdpa, flash_attention_2), medians of 3, and
 * the decode step's wake cost: jobs per step that found the worker asleep × the measured wake
 * latency, and a kernel profile (time shares by kernel name) of one extra prefill and decode per
 * configuration. `--only` keeps configurations whose "dtype impl" contains every listed word.
 * With `--backend webgpu` the same model runs on the GPU (no wake or profile rows; on a software
 * adapter such as lavapipe the runs are shortened to prefill 128, decode 32 tokens).
 */

import * as ft from '../../index.js';
import { ENGINE } from '../../lib/engine.js';
import type { CpuBackend } from '../../backends/cpu/backend.js';
import { BENCH_DTYPES, FULL_SIZE, QUICK_SIZE, runGenerateSuite, type GenerateResult } from '../generate.js';
import { waitForQuiet, type PerfSuite, type ResultRow } from '../harness.js';
import '../../backends/webgpu/index.js';
import { runOnBackend } from '../kernels.js';
import { deviceMeta } from './attention.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Busy-waits `us` microseconds (sleeping would let the OS deschedule this thread too). */
function idle(us: number): void {
  const end = performance.now() + us / 1e3;
  while (performance.now() < end);
}

/**
 * Median latency (µs) of a one-share job that the worker must run after it went to sleep:
 * what each wake-up adds to a decode step.
 */
function wakeLatencyMicros(): number {
  const cpu = ENGINE.backendSync('cpu') as CpuBackend;
  const pool = cpu.wasm()?.pool;
  if (!pool || pool.threads < 2) return NaN;
  const p = cpu.allocScratch(64);
  try {
    const t: number[] = [];
    for (let i = 0; i < 100; i++) {
      idle(pool.spinMicros + 2000);
      const t0 = performance.now();
      pool.run('poolMark', 1, [p, 1], 0b10, false);
      t.push((performance.now() - t0) * 1e3);
    }
    return median(t);
  } finally {
    cpu.freeScratch(p, 64);
  }
}

/**
 * Per-op cost at decode sizes (µs): a full op (validation, kernel lookup, a 768-float wasm kernel,
 * tensor wrapping, dispose) and a view (no kernel) — what ~200 ops per decode step pay beyond
 * their kernels.
 */
function opOverheadMicros(): { add: number; view: number } {
  const a = ft.randn([1, 1, 768], { seed: 1 }), b = ft.randn([1, 1, 768], { seed: 2 });
  const per = (fn: () => void) => {
    const t: number[] = [];
    for (let r = 0; r < 15; r++) {
      const t0 = performance.now();
      for (let i = 0; i < 2000; i++) fn();
      t.push(((performance.now() - t0) * 1e3) / 2000);
    }
    return median(t);
  };
  const res = { add: per(() => ft.add(a, b).dispose()), view: per(() => ft.reshape(a, [768]).dispose()) };
  ft.dispose([a, b]);
  return res;
}

export const suite: PerfSuite = {
  name: 'generate',
  description: 'prefill and decode tokens/s of a random ~110M Llama (dim 768, 12 layers, vocab 32000) per dtype and attention',
  backends: ['cpu', 'webgpu'],
  async run(ctx) {
    if (ctx.backend !== 'cpu') return runOnGpu(ctx);
    await ft.setBackend('cpu');
    const only = ctx.only ?? [];
    const wanted = (dtype: string, impl: string) => only.every((w) => `${dtype} ${impl}`.includes(w));
    const dtypes = BENCH_DTYPES.filter((d) => ['eager', 'sdpa', 'flash_attention_2'].some((i) => wanted(d, i)));
    const impls = (['eager', 'sdpa', 'flash_attention_2'] as const).filter((i) => dtypes.some((d) => wanted(d, i)));
    const results = await runGenerateSuite({
      quick: ctx.quick,
      dtypes,
      impls: [...impls],
      log: ctx.progress,
      profile: true,
      beforeTiming: () => waitForQuiet(ctx.quietSeconds, ctx.progress),
    });
    ctx.progress('worker wake latency …');
    waitForQuiet(ctx.quietSeconds, ctx.progress);
    const wakeUs = wakeLatencyMicros();
    const rows = tokenRows(results.filter((r) => wanted(r.dtype, r.impl)), (r) =>
      `ms = per step; ${r.wakesPerStep.toFixed(2)} wakes/step ≈ ${(r.wakesPerStep * wakeUs).toFixed(0)} µs/step`);
    rows.push({ name: 'worker wake latency (job after the worker slept)', value: wakeUs, unit: 'µs', note: 'median of 100; × wakes/step = the decode step wake cost' });
    waitForQuiet(ctx.quietSeconds, ctx.progress);
    const op = opOverheadMicros();
    rows.push({ name: 'per-op cost: add of 768 float32 (op + kernel + tensor)', value: op.add, unit: 'µs', note: 'median of 15 × 2000' });
    rows.push({ name: 'per-op cost: reshape view (no kernel)', value: op.view, unit: 'µs', note: 'median of 15 × 2000' });
    // Where the time goes, per configuration: kernel shares of one profiled prefill and decode.
    const share = (p: ft.ProfileInfo) =>
      [...p.kernels.slice(0, 6).map((k) => `${k.name} ${((100 * k.ms) / p.totalMs).toFixed(1)}%`), `outside kernels ${((100 * (p.totalMs - p.kernelMs)) / p.totalMs).toFixed(1)}%`].join(', ');
    const profiles: Record<string, string> = {};
    for (const r of results) {
      if (!r.profile || !wanted(r.dtype, r.impl)) continue;
      profiles[`prefill ${r.dtype} ${r.impl}`] = share(r.profile.prefill);
      profiles[`decode ${r.dtype} ${r.impl}`] = `${share(r.profile.decode)}; ${(r.profile.decode.calls / (r.decodeTokens + 1)).toFixed(0)} kernel calls/step`;
    }
    const info = ft.cpuInfo();
    return {
      rows,
      meta: {
        model: ctx.quick ? QUICK_SIZE : FULL_SIZE,
        params: results.find((r) => r.params)?.params,
        threads: info.threads, spinMicros: info.spinMicros, relaxedSimd: info.relaxedSimd,
        quick: !!ctx.quick,
        profiles,
        definitions: 'prefill = one forward over the prompt with last-position logits; decode = generate() steps after a 16-token prompt; medians of 3 runs (1 with --quick)',
      },
    };
  },
};

/** The same benchmark on a GPU backend: tokens/s rows only (wake latency and profiles are CPU matters). */
async function runOnGpu(ctx: Parameters<PerfSuite['run']>[0]): ReturnType<PerfSuite['run']> {
  const meta = await deviceMeta(ctx.backend);
  const short = meta.softwareAdapter === true;
  const only = ctx.only ?? [];
  const wanted = (dtype: string, impl: string) => only.every((w) => `${dtype} ${impl}`.includes(w));
  const results = await runOnBackend(ctx.backend, () =>
    runGenerateSuite({
      quick: ctx.quick,
      log: ctx.progress,
      dtypes: BENCH_DTYPES.filter((d) => ['eager', 'sdpa', 'flash_attention_2'].some((i) => wanted(d, i))),
      ...(short ? { prefill: 128, decode: 32, repeats: 1 } : {}),
    }),
  );
  const rows = tokenRows(results.filter((r) => wanted(r.dtype, r.impl)), () => 'ms = per decode step');
  return { rows, meta: { ...meta, params: results.find((r) => r.params)?.params, shortened: short } };
}

/** Prefill and decode rows per configuration (skipped ones as n/a), the runs' spread in the notes. */
function tokenRows(results: GenerateResult[], decodeNote: (r: GenerateResult) => string): ResultRow[] {
  const spread = (xs: number[]) => (xs.length > 1 ? `runs ${xs.map((x) => x.toFixed(1)).join(', ')}` : '');
  const rows: ResultRow[] = [];
  for (const r of results) {
    const label = `${r.dtype} ${r.impl}`;
    if (r.skipped) {
      rows.push({ name: `prefill ${r.prefillTokens} / decode ${r.decodeTokens}, ${label}`, value: NaN, unit: 'tokens/s', note: `n/a: ${r.skipped}` });
      continue;
    }
    rows.push({ name: `prefill ${r.prefillTokens} tokens, ${label}`, value: r.prefillTokensPerSec, unit: 'tokens/s', ms: (r.prefillTokens * 1000) / r.prefillTokensPerSec, note: spread(r.prefillRuns) });
    rows.push({ name: `decode ${r.decodeTokens} tokens, ${label}`, value: r.decodeTokensPerSec, unit: 'tokens/s', ms: r.decodeStepMs, note: [decodeNote(r), spread(r.decodeRuns)].filter(Boolean).join('; ') });
  }
  return rows;
}
