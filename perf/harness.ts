/**
 * What every perf suite shares: timing with benchmark.js, progress lines on stderr, machine
 * facts for the report, and the result format the runner prints and saves.
 */

import Benchmark from 'benchmark';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** One measured number, optionally beside a baseline measured in the same run. */
export interface ResultRow {
  /** What was measured, e.g. 'matmul 1024×1024×1024 fp32'. */
  name: string;
  value: number;
  unit: string;
  /** Median time per call in milliseconds; mean and its relative margin of error (%). */
  ms?: number;
  meanMs?: number;
  rme?: number;
  baseline?: { name: string; value: number; ms?: number };
  /** value / baseline.value, or value / some reference stated in `note`. */
  ratio?: number;
  /** Target ratio, when the row has one. */
  target?: number;
  note?: string;
}

/** What a suite returns. */
export interface SuiteResult {
  rows: ResultRow[];
  /** Suite-specific facts (variants in use, definitions of units). */
  meta: Record<string, unknown>;
  /** Extra files (e.g. SVG charts) the runner writes into the output folder, by file name. */
  files?: Record<string, string>;
}

/** Options every suite receives from the runner. */
export interface SuiteContext {
  backend: string;
  /** Seconds benchmark.js may spend per measurement (its maxTime). */
  maxTime: number;
  /** Wait for an idle machine before each timing (see waitForQuiet); 0 = don't. */
  quietSeconds: number;
  /** --quick: a smaller, faster run (suites that support it). */
  quick?: boolean;
  /** --only w1,w2: suites that support it keep the configurations whose name contains every word. */
  only?: string[];
  progress(msg: string): void;
  /** Values of the suite's own options (`PerfSuite.options`) given on the command line. */
  args: Record<string, string>;
}

/** A perf suite: perf/suites/<name>.ts exports `suite`. */
export interface PerfSuite {
  name: string;
  description: string;
  /** Backends the suite can measure. */
  backends: string[];
  /** Suite-specific command-line options (`--name value`), name → help text. */
  options?: Record<string, string>;
  run(ctx: SuiteContext): Promise<SuiteResult>;
}

/** Timing of one function. */
export interface Timing {
  /**
   * Median over benchmark.js samples of seconds per call: the headline number, robust to the
   * interference of other processes on a shared machine (the mean is kept beside it).
   */
  median: number;
  /** Mean seconds per call. */
  mean: number;
  /** Relative margin of error of the mean, in percent. */
  rme: number;
  samples: number;
}

/** [busy, total] CPU jiffies of the whole machine (Linux), or null elsewhere. */
function cpuJiffies(): [number, number] | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return [total - f[3] - f[4], total];
  } catch {
    return null;
  }
}

/**
 * On a shared machine, blocks until the whole machine was ≥ 90% idle for `seconds` in a row
 * (checked every 0.25 s; gives up after 10 minutes) so that other processes do not distort a
 * timing. Linux only; returns at once elsewhere or when seconds = 0.
 */
export function waitForQuiet(seconds: number, progress?: (msg: string) => void): void {
  if (seconds <= 0 || !cpuJiffies()) return;
  const tick = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + 600_000;
  let quiet = 0, told = false;
  let prev = cpuJiffies()!;
  while (quiet < seconds * 4 && Date.now() < end) {
    Atomics.wait(tick, 0, 0, 250);
    const cur = cpuJiffies()!;
    const busy = cur[0] - prev[0], total = cur[1] - prev[1];
    prev = cur;
    if (total > 0 && busy / total <= 0.1) quiet++;
    else {
      quiet = 0;
      if (!told && progress) progress('  (waiting for other processes to finish)');
      told = true;
    }
  }
}

/**
 * Times a synchronous function with benchmark.js (calibrated loop counts, at least 5 samples,
 * `maxTime` seconds).
 */
export function time(name: string, fn: () => void, maxTime: number): Timing {
  const b = new Benchmark(name, fn, { maxTime, minSamples: 5, initCount: 1 });
  b.run();
  if (b.error) throw b.error;
  const sorted = [...b.stats.sample].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, mean: b.stats.mean, rme: b.stats.rme, samples: b.stats.sample.length };
}

/** CPU model, core count, memory, Node and OS, for the report header. */
export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    availableParallelism: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** Formats rows as an aligned text table (also valid Markdown); a note column when any row has a note; NaN values print as n/a. */
export function table(rows: ResultRow[]): string {
  const notes = rows.some((r) => r.note);
  const head = ['measurement', 'value', 'ms/call (median)', 'baseline', 'ratio', 'target', ...(notes ? ['note'] : [])];
  const fmt = (x: number | undefined, d = 1) => (x === undefined ? '' : x.toFixed(d));
  const body = rows.map((r) => [
    r.name,
    Number.isNaN(r.value) ? `— ${r.unit}` : `${fmt(r.value)} ${r.unit}`,
    r.ms === undefined ? '' : r.rme === undefined ? fmt(r.ms, 3) : `${fmt(r.ms, 3)} (±${fmt(r.rme)}%)`,
    r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.value)} ${r.unit}` : '',
    r.ratio === undefined ? '' : `${fmt(r.ratio, 2)}×`,
    r.target === undefined ? '' : `≥ ${r.target}× ${r.ratio !== undefined && r.ratio >= r.target ? '✓' : '✗'}`,
    ...(notes ? [r.note ?? ''] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
