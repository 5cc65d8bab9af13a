/**
 * CPU matmul throughput: fp32 GEMM at 512/1024/2048 (GFLOP/s) and decode-style GEMV
 * 1×4096 · Wᵀ with W [4096, 4096] in fp32, fp16 and bf16 (GB/s of weights), each beside
 * @tensorflow/tfjs-backend-wasm measured in the same run, and the memory-copy bandwidth the
 * GEMV numbers are judged against.
 */

import * as ft from '../../index.js';
import { time as timeRaw, waitForQuiet, type PerfSuite, type ResultRow, type SuiteContext, type Timing } from '../harness.js';
import { loadTfjsWasm } from '../tfjs_wasm.js';
import { matmulSuite, runOnBackend, toResultRows } from '../kernels.js';
import { deviceMeta } from './attention.js';

const GEMM_SIZES = [512, 1024, 2048];
const GEMV_K = 4096, GEMV_N = 4096;
const COPY_BYTES = 256 * 2 ** 20;

/** Best-of-`reps` bandwidth of TypedArray.set over 256 MiB, counting bytes read + written. */
function copyBandwidth(ctx: SuiteContext): ResultRow {
  waitForQuiet(ctx.quietSeconds, ctx.progress);
  ctx.progress('memory copy 256 MiB …');
  const src = new Uint8Array(COPY_BYTES).fill(1);
  const dst = new Uint8Array(COPY_BYTES);
  dst.set(src); // fault every page in first
  let best = Infinity;
  for (let r = 0; r < 10; r++) {
    const t0 = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t0);
  }
  return {
    name: 'memory copy 256 MiB (TypedArray.set, 1 thread)',
    value: (2 * COPY_BYTES) / (best / 1e3) / 1e9,
    unit: 'GB/s',
    ms: best,
    note: 'bytes read + bytes written per second, best of 10',
  };
}

let context: SuiteContext;
/** Times fn after waiting for a quiet machine when asked to (--quiet). */
function time(name: string, fn: () => void, maxTime: number): Timing {
  waitForQuiet(context.quietSeconds, context.progress);
  return timeRaw(name, fn, maxTime);
}

export const suite: PerfSuite = {
  name: 'matmul',
  description: 'fp32 GEMM 512/1024/2048 and GEMV 1×4096·4096×4096 (fp32/fp16/bf16 weights) vs tfjs-backend-wasm',
  backends: ['cpu', 'webgpu'],
  async run(ctx) {
    if (ctx.backend !== 'cpu') {
      // GPU backends: GEMM and GEMV timed asynchronously (perf/kernels.ts); no tfjs baseline.
      const rows = await runOnBackend(ctx.backend, () => matmulSuite({ log: ctx.progress }));
      return { rows: toResultRows(rows), meta: await deviceMeta(ctx.backend) };
    }
    context = ctx;
    await ft.setBackend('cpu');
    const tfw = await loadTfjsWasm();
    const { tf } = tfw;
    const rows: ResultRow[] = [];
    const copy = copyBandwidth(ctx);
    rows.push(copy);
    ctx.progress(`copy: ${copy.value.toFixed(1)} GB/s`);

    const gemm = (n: number, threads: number, withBaseline: boolean) => {
      ft.setNumThreads(threads);
      const a = ft.randn([n, n], { seed: 1 }), b = ft.randn([n, n], { seed: 2 });
      ft.matmul(a, b).dispose(); // warm up (starts the pool, tiers up the kernels)
      ctx.progress(`matmul ${n}³ fp32, flashtensor ${threads} thread(s) …`);
      const ours = time(`ft ${n}`, () => ft.matmul(a, b).dispose(), ctx.maxTime);
      ft.dispose([a, b]);
      const flops = 2 * n ** 3;
      const row: ResultRow = {
        name: `matmul ${n}×${n}×${n} fp32${threads === 1 ? ', 1 thread' : ''}`,
        value: flops / ours.median / 1e9, unit: 'GFLOP/s', ms: ours.median * 1e3, meanMs: ours.mean * 1e3, rme: ours.rme,
      };
      if (withBaseline) {
        const ta = tf.randomNormal([n, n]), tb = tf.randomNormal([n, n]);
        tf.matMul(ta, tb).dispose();
        ctx.progress(`matmul ${n}³ fp32, tfjs-wasm …`);
        const base = time(`tfjs ${n}`, () => tf.matMul(ta, tb).dispose(), ctx.maxTime);
        tf.dispose([ta, tb]);
        row.baseline = { name: 'tfjs-wasm', value: flops / base.median / 1e9, ms: base.median * 1e3 };
        row.ratio = base.median / ours.median;
        if (n === 1024) row.target = 2;
      }
      ctx.progress(`  ${row.value.toFixed(1)} GFLOP/s${row.baseline ? ` vs ${row.baseline.value.toFixed(1)}` : ''}`);
      return row;
    };
    const threads = ft.getNumThreads();
    for (const n of GEMM_SIZES) rows.push(gemm(n, threads, true));
    rows.push(gemm(1024, 1, false));
    ft.setNumThreads(threads);

    // GEMV, Linear orientation: y = x·Wᵀ, W [N, K]. tfjs has no 16-bit weights, so its fp32 GEMV
    // is the baseline for every row, compared by time per call.
    const tx = tf.randomNormal([1, GEMV_K]), tW = tf.randomNormal([GEMV_N, GEMV_K]);
    tf.matMul(tx, tW, false, true).dispose();
    ctx.progress('GEMV fp32, tfjs-wasm …');
    const tBase = time('tfjs gemv', () => tf.matMul(tx, tW, false, true).dispose(), ctx.maxTime);
    tf.dispose([tx, tW]);
    const x = ft.randn([1, GEMV_K], { seed: 3 });
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      const w32 = ft.randn([GEMV_N, GEMV_K], { seed: 4 });
      const w = dtype === 'float32' ? w32 : ft.cast(w32, dtype);
      if (w !== w32) w32.dispose();
      ft.linear(x, w).dispose();
      ctx.progress(`GEMV ${dtype} weights, flashtensor …`);
      const ours = time(`ft gemv ${dtype}`, () => ft.linear(x, w).dispose(), ctx.maxTime);
      w.dispose();
      const bytes = GEMV_N * GEMV_K * (dtype === 'float32' ? 4 : 2);
      const value = bytes / ours.median / 1e9;
      const short = dtype === 'float32' ? 'fp32' : dtype === 'float16' ? 'fp16' : 'bf16';
      rows.push({
        name: `GEMV 1×${GEMV_K} · (${GEMV_N}×${GEMV_K})ᵀ ${short} weights`,
        value, unit: 'GB/s', ms: ours.median * 1e3, meanMs: ours.mean * 1e3, rme: ours.rme,
        baseline: { name: 'tfjs-wasm fp32', value: (GEMV_N * GEMV_K * 4) / tBase.median / 1e9, ms: tBase.median * 1e3 },
        ratio: tBase.median / ours.median,
        note: 'ratio = speedup in time per call',
      });
      if (dtype === 'float32') {
        rows.push({
          name: 'GEMV fp32 weight bandwidth / copy bandwidth',
          value, unit: 'GB/s', ratio: value / copy.value, target: 0.6,
          note: `vs the memory copy row (${copy.value.toFixed(1)} GB/s read + written)`,
        });
      }
      ctx.progress(`  ${value.toFixed(1)} GB/s (${(ours.median * 1e3).toFixed(2)} ms)`);
    }
    x.dispose();

    return {
      rows,
      meta: {
        flashtensor: ft.cpuInfo(),
        tfjs: { package: `@tensorflow/tfjs-backend-wasm@${tfw.version}`, variant: tfw.variant, threads: tfw.threads },
        units: 'GFLOP/s = 2·M·N·K / time; GEMV GB/s = bytes of weights read / time; copy GB/s = (bytes read + bytes written) / time; ratio = baseline time / our time',
      },
    };
  },
};
