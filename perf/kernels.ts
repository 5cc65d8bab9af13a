/**
 * Kernel perf suites that run on any backend (written for webgpu; the CPU works too):
 *  - matmul: GEMM n×n×n (GFLOP/s) and decode GEMV 1×K·Wᵀ (GB/s of weights), fp32 and fp16;
 *  - attention: flash vs memory-efficient vs math, causal and not, per sequence length
 *    (GFLOP/s by the FA2 paper's count 4·L·S·E·H, halved for causal), fp16 through the dispatcher
 *    and fp32 through the kernels directly.
 * GPU work is asynchronous, so each timing awaits `sync()` (or a read) before stopping the clock.
 *
 * Run: `node dist/perf/kernels.js --backend webgpu [--suite matmul,attention] [--quick]`.
 * `runKernelSuite` is the entry point for the perf runner.
 */

import * as ft from '../index.js';
import '../backends/webgpu/index.js';
import { ENGINE } from '../lib/engine.js';
import type { Tensor } from '../lib/tensor.js';

/** One measured number. */
export interface KernelRow {
  name: string;
  value: number;
  unit: string;
  /** Median milliseconds per call. */
  ms: number;
  note?: string;
}

/** Options of the kernel suites. */
export interface KernelSuiteOptions {
  backend?: string;
  quick?: boolean;
  /** Timed repetitions per measurement (median reported). */
  reps?: number;
  log?: (line: string) => void;
}

/** Median wall time (ms) of `fn` over `reps` runs after one warm-up; waits for the backend each time. */
export async function timeAsync(fn: () => Tensor | Tensor[], reps: number): Promise<number> {
  const backend = ENGINE.backend;
  const once = async () => {
    const t0 = performance.now();
    const out = fn();
    await backend.sync?.();
    const outs = Array.isArray(out) ? out : [out];
    // A one-element read makes sure the work really finished on backends without sync().
    if (!backend.sync) await outs[0].data();
    const dt = performance.now() - t0;
    ft.dispose(outs);
    return dt;
  };
  await once();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(await once());
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

/** GEMM and GEMV throughput. */
export async function matmulSuite(opts: KernelSuiteOptions = {}): Promise<KernelRow[]> {
  const log = opts.log ?? (() => {});
  const reps = opts.reps ?? 5;
  const rows: KernelRow[] = [];
  const sizes = opts.quick ? [256, 512] : [256, 512, 1024];
  for (const dtype of ['float32', 'float16'] as const) {
    for (const n of sizes) {
      const a = ft.cast(ft.randn([n, n], { seed: 1 }), dtype);
      const b = ft.cast(ft.randn([n, n], { seed: 2 }), dtype);
      for (const [label, tb] of [['NN', false], ['NT', true]] as const) {
        log(`matmul ${n}³ ${dtype} ${label} …`);
        const ms = await timeAsync(() => ft.matmul(a, b, { transposeB: tb }), reps);
        rows.push({ name: `matmul ${n}×${n}×${n} ${dtype} ${label}`, value: (2 * n ** 3) / ms / 1e6, unit: 'GFLOP/s', ms });
      }
      ft.dispose([a, b]);
    }
    const K = opts.quick ? 2048 : 4096;
    const x = ft.cast(ft.randn([1, K], { seed: 3 }), dtype);
    const w = ft.cast(ft.randn([K, K], { seed: 4 }), dtype);
    log(`gemv 1×${K}·${K}×${K}ᵀ ${dtype} …`);
    const ms = await timeAsync(() => ft.matmul(x, w, { transposeB: true }), reps);
    const bytes = K * K * (dtype === 'float32' ? 4 : 2);
    rows.push({ name: `gemv 1×${K}·W[${K},${K}]ᵀ ${dtype}`, value: bytes / ms / 1e6, unit: 'GB/s', ms, note: 'weight bytes per second' });
    ft.dispose([x, w]);
  }
  return rows;
}

type Impl = 'FLASH_ATTENTION' | 'EFFICIENT_ATTENTION' | 'MATH';

/** Flash vs memory-efficient vs math attention. */
export async function attentionSuite(opts: KernelSuiteOptions = {}): Promise<KernelRow[]> {
  const log = opts.log ?? (() => {});
  const reps = opts.reps ?? 3;
  const rows: KernelRow[] = [];
  const H = 4;
  const E = 64;
  const lengths = opts.quick ? [128, 512] : [128, 512, 1024];
  for (const dtype of ['float16', 'float32'] as const) {
    for (const L of lengths) {
      const q = ft.cast(ft.randn([1, H, L, E], { seed: 1 }), dtype);
      const k = ft.cast(ft.randn([1, H, L, E], { seed: 2 }), dtype);
      const v = ft.cast(ft.randn([1, H, L, E], { seed: 3 }), dtype);
      for (const causal of [false, true]) {
        const flops = (4 * L * L * E * H) / (causal ? 2 : 1);
        for (const impl of ['FLASH_ATTENTION', 'EFFICIENT_ATTENTION', 'MATH'] as Impl[]) {
          let run: () => Tensor;
          if (impl === 'FLASH_ATTENTION' && dtype === 'float32') {
            // The dispatcher keeps flash for 16-bit inputs; time the same kernel on f32 directly.
            run = () => ENGINE.runKernel('SdpaFlash', [q, k, v], { scale: 1 / Math.sqrt(E), causal: causal ? 'upperLeft' : 'none', enableGqa: false, hasMask: false, returnLse: false }) as Tensor;
          } else {
            run = () => ft.sdpaKernel([impl], () => ft.sdpa(q, k, v, { isCausal: causal }));
          }
          log(`attention ${dtype} L=S=${L} ${causal ? 'causal' : 'full'} ${impl} …`);
          ft.resetPeakMemory();
          const before = ft.memory().numBytes;
          const ms = await timeAsync(run, reps);
          const extra = ft.memory().peakBytes - before;
          rows.push({
            name: `sdpa ${dtype} B=1 H=${H} L=S=${L} E=${E} ${causal ? 'causal' : 'full'} ${impl.replace('_ATTENTION', '').toLowerCase()}`,
            value: flops / ms / 1e6, unit: 'GFLOP/s', ms, note: `peak extra ${(extra / 2 ** 20).toFixed(1)} MiB`,
          });
        }
      }
      ft.dispose([q, k, v]);
    }
  }
  return rows;
}

/** Runs `fn` with `backend` active, restoring the previous backend after. */
export async function runOnBackend<T>(backend: string, fn: () => Promise<T>): Promise<T> {
  const prev = ft.getBackend();
  await ft.setBackend(backend);
  try {
    return await fn();
  } finally {
    await ft.setBackend(prev);
  }
}

/** Runs suites by name on a backend. */
export async function runKernelSuite(name: 'matmul' | 'attention', opts: KernelSuiteOptions = {}): Promise<KernelRow[]> {
  return runOnBackend(opts.backend ?? 'webgpu', () => (name === 'matmul' ? matmulSuite(opts) : attentionSuite(opts)));
}

/** Rows in the perf runner's format (perf/harness.ts ResultRow). */
export function toResultRows(rows: KernelRow[]): { name: string; value: number; unit: string; ms: number; note?: string }[] {
  return rows.map((r) => ({ name: r.name, value: r.value, unit: r.unit, ms: r.ms, ...(r.note ? { note: r.note } : {}) }));
}

/** Markdown table of rows. */
export function kernelTable(rows: KernelRow[]): string {
  const lines = ['| measurement | value | ms | note |', '| --- | ---: | ---: | --- |'];
  for (const r of rows) lines.push(`| ${r.name} | ${r.value.toFixed(2)} ${r.unit} | ${r.ms.toFixed(2)} | ${r.note ?? ''} |`);
  return lines.join('\n');
}

const isMain = typeof process !== 'undefined' && process.argv[1]?.endsWith('perf/kernels.js');
if (isMain) {
  const args = process.argv.slice(2);
  const get = (flag: string, dflt: string) => {
    const i = args.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
    if (i < 0) return dflt;
    return args[i].includes('=') ? args[i].split('=')[1] : args[i + 1];
  };
  const backend = get('--backend', 'webgpu');
  const suites = get('--suite', 'matmul,attention').split(',') as ('matmul' | 'attention')[];
  const quick = args.includes('--quick');
  for (const s of suites) {
    const rows = await runKernelSuite(s, { backend, quick, log: (l) => process.stderr.write(`[perf] ${l}\n`) });
    const b = await ENGINE.initBackend(backend);
    const dev = (b as { info?: { description?: string } }).info?.description ?? backend;
    console.log(`\n${s} on ${backend} (${dev})\n${kernelTable(rows)}\n`);
  }
}
