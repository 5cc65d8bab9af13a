/** Small helpers for the quantization specs (kept here so they do not collide with spec/helpers). */

import { expect } from 'chai';
import { memory, Random, tensor, tidy, type Tensor } from '../../index.js';

/** Fails the test when it leaves tensors alive. */
export function checkLeaks(): void {
  let before = 0;
  beforeEach(() => {
    before = memory().numTensors;
  });
  afterEach(function () {
    if (this.currentTest?.state !== 'passed') return;
    expect(memory().numTensors, 'live tensors after the test').to.equal(before);
  });
}

/** n standard-normal float32 values (seeded). */
export function normals(n: number, seed: number, std = 1): Float32Array {
  const r = new Random(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * r.normal();
  return out;
}

/** A float32 tensor of standard-normal values. */
export function randnT(shape: number[], seed: number, std = 1): Tensor {
  return tensor(normals(shape.reduce((a, b) => a * b, 1), seed, std), shape, 'float32');
}

/** ‖a − b‖ / ‖b‖. */
export function relFrob(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    e += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return Math.sqrt(e / s);
}

/** max |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Float64 product x [T,K] · w[N,K]ᵀ → [T,N]. */
export function matmulT64(x: ArrayLike<number>, w: ArrayLike<number>, T: number, K: number, N: number): Float64Array {
  const out = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[t * K + k] * w[n * K + k];
      out[t * N + n] = s;
    }
  }
  return out;
}

/** Next float32 above x. */
export function nextUpF32(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  if (x === 0) u[0] = 1;
  else if (x > 0) u[0]++;
  else u[0]--;
  return f[0];
}

/** Expects `fn` to throw an instance of `cls` whose message matches every pattern. */
export function expectThrow(fn: () => unknown, cls: new (...a: any[]) => Error, ...patterns: (string | RegExp)[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').to.be.instanceOf(cls);
  for (const p of patterns) {
    if (typeof p === 'string') expect((err as Error).message).to.include(p);
    else expect((err as Error).message).to.match(p);
  }
}

/** `it` whose body runs inside `tidy`: every tensor it creates is freed when it returns. */
export function tit(title: string, fn: () => void): Mocha.Test {
  return it(title, () => {
    tidy(() => {
      fn();
    });
  });
}
