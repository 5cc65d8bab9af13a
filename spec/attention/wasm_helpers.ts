/**
 * Shared pieces of the specs of the CPU's WebAssembly attention kernels: seeded inputs, running
 * one implementation on one kernel path (wasm or the TypeScript reference), and the tolerance
 * rule (float32: 5e-5 absolute + 1e-5 relative; 16-bit outputs: one ulp of the format, since
 * the kernels compute in float32 and round once).
 */
import { expect } from 'chai';
import * as ft from 'flashtensor';
import type { DType, SDPBackend, SdpaOptions, Tensor } from 'flashtensor';
import { halfUlp } from '../helpers/half.js';
import { Rng } from '../helpers/rng.js';

/** A tensor of normal values times `scale` in `dtype`, and its values as numbers (after rounding). */
export function randn(rng: Rng, shape: number[], dtype: DType, scale = 1): { t: Tensor; x: Float32Array } {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * scale;
  const t = ft.tensor(v, shape, dtype);
  return { t, x: t.dataSync() as Float32Array };
}

/** Output (and logsumexp, for flash) of one implementation on one CPU kernel path. */
export function runImpl(
  impl: SDPBackend, kernels: 'wasm' | 'js', q: Tensor, k: Tensor, v: Tensor, opts: SdpaOptions,
): { out: Float32Array; lse?: Float32Array } {
  const prev = ft.cpuInfo().kernels;
  ft.setCpuKernels(kernels);
  try {
    if (impl === 'FLASH_ATTENTION') {
      const { output, lse } = ft.flashAttention(q, k, v, { ...opts, returnLse: true });
      const r = { out: output.dataSync() as Float32Array, lse: lse!.dataSync() as Float32Array };
      ft.dispose([output, lse!]);
      return r;
    }
    const o = ft.sdpaKernel([impl], () => ft.sdpa(q, k, v, opts));
    const out = o.dataSync() as Float32Array;
    o.dispose();
    return { out };
  } finally {
    ft.setCpuKernels(prev);
  }
}

/** Allowed |got − want| for one output element of `dtype`. */
export function tolerance(want: number, dtype: DType, slack = 1): number {
  const f32 = 5e-5 + 1e-5 * Math.abs(want);
  if (dtype === 'float32') return f32 * slack;
  return (halfUlp(want, dtype as 'float16' | 'bfloat16') + f32) * slack;
}

/** Expects got ≈ want elementwise under `tolerance`; NaN never matches. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, dtype: DType, what: string, slack = 1): void {
  expect(got.length, `${what}: length`).to.equal(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tolerance(want[i], dtype, slack))) {
      throw new Error(`${what}: element ${i}: got ${got[i]}, want ${want[i]} (error ${err} > ${tolerance(want[i], dtype, slack)})`);
    }
  }
}

/** Expects natural-log LSEs to match (+∞ exactly where the reference has +∞). */
export function expectLse(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (want[i] === Infinity) expect(got[i], `${what}: lse[${i}]`).to.equal(Infinity);
    else if (!(Math.abs(got[i] - want[i]) <= 2e-5 + 2e-6 * Math.abs(want[i]))) throw new Error(`${what}: lse[${i}] = ${got[i]}, want ${want[i]}`);
  }
}

/** Bit patterns of a float32 array (for bit-identity checks; distinguishes −0 and NaN payloads). */
export function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}
