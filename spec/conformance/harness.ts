/**
 * The op-conformance harness (in the spirit of ggml's test-backend-ops): every case is data — a
 * name, the kernels it exercises, input specs and a function of ops — and runs on every registered
 * backend against the CPU reference, with per-dtype tolerances. The same cases drive a perf mode
 * (`timeCase`).
 */

import { ENGINE } from '../../lib/engine.js';
import type { DType } from '../../lib/dtype.js';
import { isFloat } from '../../lib/dtype.js';
import { Random } from '../../lib/random.js';
import type { Tensor } from '../../lib/tensor.js';
import { toStorage } from '../../ops/creation.js';
import * as ft from '../../index.js';
import { dispose, toBackend } from '../../index.js';

/** How an input's values are drawn. */
export type Gen =
  | 'normal' // N(0, 1)
  | 'positive' // U(0.1, 3)
  | 'signed' // U(-3, 3)
  | 'int' // integers in [-20, 20]
  | 'bool'
  | { index: number } // integers in [0, index)
  | { values: readonly number[] }; // explicit, repeated to fill

/** One input of a case. */
export interface InputSpec {
  shape: number[];
  dtype: DType;
  gen?: Gen;
}

/** Absolute and relative tolerance: |got − want| ≤ atol + rtol·|want|. */
export interface Tol {
  atol: number;
  rtol: number;
}

/** Default tolerances per output dtype: one rounding of the output dtype plus f32 compute slack. */
export const DEFAULT_TOL: Record<DType, Tol> = {
  float32: { atol: 1e-5, rtol: 1e-5 },
  float16: { atol: 1e-3, rtol: 2e-3 },
  bfloat16: { atol: 1e-2, rtol: 1.6e-2 },
  int32: { atol: 0, rtol: 0 },
  int8: { atol: 0, rtol: 0 },
  uint8: { atol: 0, rtol: 0 },
  bool: { atol: 0, rtol: 0 },
};

/** Anything a case returns: one tensor, a list, or an object of tensors. */
export type CaseOutput = Tensor | Tensor[] | Record<string, Tensor>;

/** A conformance case. */
export interface OpCase {
  name: string;
  /** Kernel names (lib/kernel_names.ts) this case exercises; used for the coverage check. */
  kernels: string[];
  inputs: InputSpec[];
  /** Runs on tensors that live on the backend under test (the backend is active inside). */
  run: (xs: Tensor[]) => CaseOutput;
  /** Tolerance overrides by output dtype (or for every dtype with `all`). */
  tol?: Partial<Record<DType | 'all', Tol>>;
  /** Seed of the input draw (default: derived from the name). */
  seed?: number;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Draws an input's values (deterministic per case). */
export function drawValues(spec: InputSpec, rng: Random): Float64Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  const g = spec.gen ?? (isFloat(spec.dtype) ? 'normal' : spec.dtype === 'bool' ? 'bool' : 'int');
  for (let i = 0; i < n; i++) {
    if (g === 'normal') v[i] = rng.normal();
    else if (g === 'positive') v[i] = 0.1 + 2.9 * rng.uniform();
    else if (g === 'signed') v[i] = -3 + 6 * rng.uniform();
    else if (g === 'int') v[i] = Math.floor(rng.uniform() * 41) - 20;
    else if (g === 'bool') v[i] = rng.uniform() < 0.5 ? 1 : 0;
    else if ('index' in g) v[i] = Math.floor(rng.uniform() * g.index);
    else v[i] = g.values[i % g.values.length];
  }
  if (spec.dtype === 'uint8') for (let i = 0; i < n; i++) v[i] = Math.abs(v[i]);
  return v;
}

/** Creates a case's inputs on `backend`. */
export async function makeInputs(c: OpCase, backend: string): Promise<Tensor[]> {
  const rng = new Random(c.seed ?? hash(c.name));
  const target = await ENGINE.initBackend(backend);
  return c.inputs.map((spec) => ENGINE.makeTensor(toStorage(drawValues(spec, rng), spec.dtype), spec.shape, spec.dtype, target));
}

function flattenOutput(o: CaseOutput): Tensor[] {
  if (Array.isArray(o)) return o;
  if (typeof (o as Tensor).dtype === 'string' && 'shape' in o) return [o as Tensor];
  return Object.values(o as Record<string, Tensor>);
}

/**
 * A backend under one configuration: the CPU with its TypeScript reference kernels, the CPU with
 * its fast (WebAssembly) kernels, the WebGPU backend, …
 */
export interface Variant {
  label: string;
  backend: string;
  /** Applies the configuration (and returns a function restoring the previous one). */
  enter?: () => () => void;
}

/** The CPU backend's kernel switch (`setCpuKernels('js' | 'wasm')`), when the build has one. */
function cpuKernelSwitch(mode: string): (() => () => void) | undefined {
  const set = Reflect.get(ft, 'setCpuKernels') as ((m: string) => void) | undefined;
  if (typeof set !== 'function') return undefined;
  return () => {
    set(mode);
    return () => set('wasm');
  };
}

/** The reference every variant is checked against: the CPU's TypeScript kernels. */
export const REFERENCE: Variant = { label: 'cpu (reference kernels)', backend: 'cpu', enter: cpuKernelSwitch('js') };

/** Every variant under test: the CPU's fast path (when it has one) and every other registered backend. */
export function variants(): Variant[] {
  const out: Variant[] = [];
  const fast = cpuKernelSwitch('wasm');
  if (fast) out.push({ label: 'cpu (WebAssembly kernels)', backend: 'cpu', enter: fast });
  for (const b of ENGINE.registeredBackends()) if (b !== 'cpu') out.push({ label: b, backend: b });
  return out;
}

/** Runs a case on one backend (or variant): its outputs' shapes, dtypes and values. */
export async function runCase(c: OpCase, target: string | Variant): Promise<{ shape: readonly number[]; dtype: DType; values: ArrayLike<number> }[]> {
  const v = typeof target === 'string' ? { label: target, backend: target } : target;
  const restore = v.enter?.();
  try {
    return await runOn(c, v.backend);
  } finally {
    restore?.();
  }
}

async function runOn(c: OpCase, backend: string): Promise<{ shape: readonly number[]; dtype: DType; values: ArrayLike<number> }[]> {
  const xs = await makeInputs(c, backend);
  const b = await ENGINE.initBackend(backend);
  let outs: Tensor[] = [];
  try {
    outs = flattenOutput(ENGINE.withBackend(b, () => ENGINE.tidy(() => c.run(xs))));
    const res = [];
    for (const t of outs) res.push({ shape: t.shape, dtype: t.dtype, values: await t.data() });
    return res;
  } finally {
    dispose(outs);
    dispose(xs);
  }
}

/** First mismatch between two results under a tolerance, or null. */
export function compare(
  got: { shape: readonly number[]; dtype: DType; values: ArrayLike<number> }[],
  want: { shape: readonly number[]; dtype: DType; values: ArrayLike<number> }[],
  tolFor: (dtype: DType) => Tol,
): string | null {
  if (got.length !== want.length) return `returned ${got.length} outputs, reference ${want.length}`;
  for (let o = 0; o < got.length; o++) {
    const g = got[o];
    const w = want[o];
    if (g.dtype !== w.dtype) return `output ${o}: dtype ${g.dtype}, reference ${w.dtype}`;
    if (g.shape.join() !== w.shape.join()) return `output ${o}: shape [${g.shape}], reference [${w.shape}]`;
    const { atol, rtol } = tolFor(w.dtype);
    let worst = -1;
    let worstErr = 0;
    for (let i = 0; i < w.values.length; i++) {
      const a = g.values[i];
      const b = w.values[i];
      if (Number.isNaN(b) || Number.isNaN(a)) {
        if (Number.isNaN(a) !== Number.isNaN(b)) return `output ${o}[${i}]: got ${a}, reference ${b}`;
        continue;
      }
      if (!Number.isFinite(b) || !Number.isFinite(a)) {
        if (a !== b) return `output ${o}[${i}]: got ${a}, reference ${b}`;
        continue;
      }
      const err = Math.abs(a - b) - (atol + rtol * Math.abs(b));
      if (err > worstErr) {
        worstErr = err;
        worst = i;
      }
    }
    if (worst >= 0) {
      return `output ${o}[${worst}]: got ${g.values[worst]}, reference ${w.values[worst]} (|diff| ${Math.abs(g.values[worst] - w.values[worst]).toExponential(2)} > atol ${atol} + rtol ${rtol}·|ref|)`;
    }
  }
  return null;
}

/** Tolerance of a case for an output dtype. */
export function tolerance(c: OpCase, dtype: DType): Tol {
  return c.tol?.[dtype] ?? c.tol?.all ?? DEFAULT_TOL[dtype];
}

/** The reference backend every other backend is checked against. */
export const REFERENCE_BACKEND = REFERENCE.backend;

/** Runs a case on a backend (or variant) and on the reference; returns the mismatch or null. */
export async function checkCase(c: OpCase, target: string | Variant): Promise<string | null> {
  const want = await runCase(c, REFERENCE);
  const got = await runCase(c, target);
  return compare(got, want, (d) => tolerance(c, d));
}

/** Perf mode: median milliseconds of `reps` runs of a case on a backend (inputs made once, sync after each). */
export async function timeCase(c: OpCase, backend: string, reps = 5): Promise<number> {
  const xs = await makeInputs(c, backend);
  const b = await ENGINE.initBackend(backend);
  const times: number[] = [];
  try {
    for (let r = 0; r <= reps; r++) {
      const t0 = performance.now();
      const outs = flattenOutput(ENGINE.withBackend(b, () => ENGINE.tidy(() => c.run(xs))));
      await b.sync?.();
      await outs[0]?.data();
      if (r > 0) times.push(performance.now() - t0);
      dispose(outs);
    }
  } finally {
    dispose(xs);
  }
  times.sort((x, y) => x - y);
  return times[times.length >> 1];
}

export { toBackend };
