/**
 * Perf runner: `npm run perf -- --backend cpu --suite matmul [--out perf/results] [--max-time 2] [--quiet]`.
 * Loads perf/suites/<suite>.js (each exports `suite: PerfSuite`), runs it with progress on
 * stderr, prints a table and writes <out>/<suite>-<backend>.json (and a .md table beside it).
 * Several suites: --suite matmul,pool. New suites need no change here. --quiet waits for an idle
 * machine before each timing (for shared machines); --quick and --only shrink a run where a suite supports them. Suites may declare options of their own
 * (e.g. `--seq 512,1024` for attention; `--help --suite attention` lists them) and extra files
 * to write (charts).
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, table, type PerfSuite } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
// Compiled to dist/perf/run.js; results go to the source tree's perf/results by default.
const defaultOut = resolve(here, '..', '..', 'perf', 'results');

interface RunOptions { backend: string; suites: string[]; out: string; maxTime: number; quiet: number; quick: boolean; only: string[]; help: boolean; rest: string[][] }

function parseArgs(argv: string[]): RunOptions {
  const opts: RunOptions = { backend: 'cpu', suites: ['matmul'], out: defaultOut, maxTime: 2, quiet: 0, quick: false, only: [], help: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--backend': opts.backend = value(); break;
      case '--suite': opts.suites = value().split(',').filter(Boolean); break;
      case '--out': opts.out = resolve(value()); break;
      case '--max-time': opts.maxTime = Number(value()); break;
      case '--quiet': opts.quiet = inline === undefined ? 2 : Number(inline); break;
      case '--quick': opts.quick = true; break;
      case '--only': opts.only = value().split(',').filter(Boolean); break;
      case '--help': opts.help = true; break;
      default:
        // A suite's own option (checked against the selected suites' declarations in main).
        if (!flag.startsWith('--')) throw new Error(`perf: unexpected argument '${argv[i]}' (try --help)`);
        opts.rest.push([flag.slice(2), value()]);
    }
  }
  return opts;
}

function usage(suites: PerfSuite[]): void {
  console.log('usage: npm run perf -- [--backend cpu] [--suite matmul[,pool]] [--out dir] [--max-time seconds] [--quiet[=seconds]] [--quick] [--only w1,w2] [suite options]');
  console.log('  --quiet: before each timing, wait until the machine was idle that long (default 2 s; Linux)');
  console.log('  --quick: a smaller smoke run (suites that support it); --only: keep configurations whose name has every word (generate: "float16,sdpa")');
  for (const s of suites) {
    for (const [name, help] of Object.entries(s.options ?? {})) console.log(`  --${name} (suite ${s.name}): ${help}`);
  }
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const progress = (msg: string) => process.stderr.write(`[perf ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
  const suites: PerfSuite[] = [];
  for (const name of opts.suites) suites.push(((await import(`./suites/${name}.js`)) as { suite: PerfSuite }).suite);
  if (opts.help) {
    usage(suites);
    return;
  }
  const args: Record<string, string> = {};
  for (const [k, v] of opts.rest) {
    if (!suites.some((s) => s.options && k in s.options)) throw new Error(`perf: unknown option '--${k}' for suite(s) ${opts.suites.join(', ')} (try --help)`);
    args[k] = v;
  }
  mkdirSync(opts.out, { recursive: true });
  for (const [i, suite] of suites.entries()) {
    const name = opts.suites[i];
    if (!suite.backends.includes(opts.backend)) throw new Error(`perf: suite '${name}' does not support backend '${opts.backend}' (${suite.backends.join(', ')})`);
    progress(`suite '${name}' on backend '${opts.backend}': ${suite.description}`);
    const started = new Date();
    const result = await suite.run({ backend: opts.backend, maxTime: opts.maxTime, quietSeconds: opts.quiet, quick: opts.quick, only: opts.only, progress, args });
    const report = {
      suite: name,
      backend: opts.backend,
      date: started.toISOString(),
      seconds: Math.round((Date.now() - started.getTime()) / 100) / 10,
      command: `npm run perf -- ${process.argv.slice(2).join(' ')}`.trim(),
      machine: machine(),
      meta: result.meta,
      rows: result.rows,
    };
    const text = table(result.rows);
    console.log(`\n${name} on ${opts.backend} (${report.machine.cpu}, ${report.machine.cores} cores, ${report.date})\n${text}\n`);
    for (const [k, v] of Object.entries(result.meta)) console.log(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    const base = join(opts.out, `${name}-${opts.backend}`);
    writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${base}.md`, `${text}\n`);
    progress(`wrote ${base}.json and .md`);
    for (const [file, content] of Object.entries(result.files ?? {})) {
      writeFileSync(join(opts.out, file), content);
      progress(`wrote ${join(opts.out, file)}`);
    }
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
