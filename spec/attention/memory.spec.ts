/**
 * Attention memory, proven with the engine's peak counter (`resetPeakMemory()` before a call,
 * `memory().peakBytes` minus the bytes live before it): the fused CPU kernels use tile-sized
 * scratch, so at L = S = 4096 they peak at a small fraction of the math path's (B, H, L, S)
 * float32 score buffers; flash completes at L = S = 65536, where math refuses to start.
 *
 * These are the slow attention specs: about 30 s for math at 4096 and about a minute for flash at
 * 65536 on two cores. The 65536 run is causal (half the work; measured ~50 s on two Zen 5
 * cores, non-causal would be ~100 s).
 */
import { expect } from 'chai';
import * as ft from 'flashtensor';
import type { SDPBackend, SdpaOptions, Tensor } from 'flashtensor';

/** Peak bytes above what was live before `fn`, and fn's result. */
function peakOf<T>(fn: () => T): { peak: number; result: T } {
  const base = ft.memory().numBytes;
  ft.resetPeakMemory();
  const result = fn();
  return { peak: ft.memory().peakBytes - base, result };
}

/**
 * Allowed scratch: each share's tiles (~110 KiB at E = 64 with the default 80×80 tiles; 4 shares
 * per thread, at most 128) with room to spare — nothing that grows with L or S.
 */
const tileBytes = () => Math.min(ft.getNumThreads() * 4, 128) * 256 * 1024 + 2 ** 20;

function halfRandn(shape: number[], seed: number): Tensor {
  return ft.tidy(() => ft.cast(ft.randn(shape, { seed }), 'float16'));
}

describe('attention memory (engine peak counter)', function () {
  this.timeout(600_000);

  it('L = S = 4096, B=1 H=8 E=64: flash and memory-efficient peak ≤ 1/50 of math on the same inputs', () => {
    const shape = [1, 8, 4096, 64];
    const [q, k, v] = [1, 2, 3].map((s) => halfRandn(shape, s));
    const opts: SdpaOptions = { isCausal: true };
    const peaks: Partial<Record<SDPBackend, number>> = {};
    const outs: Partial<Record<SDPBackend, Float32Array>> = {};
    for (const impl of ['FLASH_ATTENTION', 'EFFICIENT_ATTENTION', 'MATH'] as const) {
      const { peak, result } = peakOf(() => ft.sdpaKernel([impl], () => ft.sdpa(q, k, v, opts)));
      peaks[impl] = peak;
      outs[impl] = result.dataSync() as Float32Array;
      result.dispose();
    }
    const scoreBytes = 8 * 4096 * 4096 * 4; // one (B, H, L, S) float32 buffer: 512 MiB
    expect(peaks.MATH!, 'math materialises at least one score buffer').to.be.at.least(scoreBytes);
    const outBytes = 8 * 4096 * 64 * 2;
    for (const impl of ['FLASH_ATTENTION', 'EFFICIENT_ATTENTION'] as const) {
      expect(peaks[impl]!, `${impl} peak vs math`).to.be.at.most(peaks.MATH! / 50);
      // What is left is the output plus per-thread tiles: nothing of size L·S.
      expect(peaks[impl]!, `${impl} peak vs output + tiles`).to.be.at.most(outBytes + tileBytes());
      // Same inputs, same answer (16-bit outputs: a couple of ulps at |out| < 1).
      let worst = 0;
      for (let i = 0; i < outs.MATH!.length; i++) worst = Math.max(worst, Math.abs(outs[impl]![i] - outs.MATH![i]));
      expect(worst, `${impl} vs math`).to.be.below(4e-3);
    }
    ft.dispose([q, k, v]);
  });

  it('math refuses L = S = 65536 (over its score budget) without allocating; flash completes it', () => {
    const N = 65536, H = 8, E = 64;
    const shape = [1, H, N, E];
    const [q, k, v] = [4, 5, 6].map((s) => halfRandn(shape, s));
    const opts: SdpaOptions = { isCausal: true };

    // Refused by the dispatcher (reason names the budget) and by the math path itself.
    const refused = peakOf(() => {
      expect(() => ft.sdpaKernel(['MATH'], () => ft.sdpa(q, k, v, opts))).to.throw(ft.NoAvailableKernelError, /score buffer.*over its budget/);
      expect(() => ft.sdpaWithWeights(q, k, v, opts)).to.throw(ft.OutOfMemoryError, /over its budget/);
    });
    expect(refused.peak, 'nothing was allocated for the refused math call').to.equal(0);

    const t0 = performance.now();
    const { peak, result } = peakOf(() => ft.flashAttention(q, k, v, { ...opts, returnLse: true }));
    const seconds = (performance.now() - t0) / 1e3;
    const outBytes = H * N * E * 2, lseBytes = H * N * 4;
    expect(peak, 'flash at 65536: output + logsumexp + tiles').to.be.at.most(outBytes + lseBytes + tileBytes());
    // Spot-check rows against a float64 reference computed for those rows only.
    const [qx, kx, vx] = [q, k, v].map((t) => t.dataSync());
    const out = result.output.dataSync();
    for (const [h, i] of [[0, 0], [3, 1], [5, 4097], [7, N - 1]]) {
      const s = new Float64Array(i + 1);
      let mx = -Infinity;
      for (let j = 0; j <= i; j++) {
        let d = 0;
        for (let e = 0; e < E; e++) d += qx[(h * N + i) * E + e] * kx[(h * N + j) * E + e];
        s[j] = d / Math.sqrt(E);
        mx = Math.max(mx, s[j]);
      }
      let sum = 0;
      for (let j = 0; j <= i; j++) sum += Math.exp(s[j] - mx);
      for (let e = 0; e < E; e += 7) {
        let want = 0;
        for (let j = 0; j <= i; j++) want += (Math.exp(s[j] - mx) / sum) * vx[(h * N + j) * E + e];
        expect(Math.abs(out[(h * N + i) * E + e] - want), `row ${i} of head ${h}`).to.be.below(2e-3);
      }
    }
    ft.dispose([q, k, v, result.output, result.lse!]);
    console.log(`      flash causal L = S = ${N} (B=1, H=${H}, E=${E}, fp16): ${seconds.toFixed(1)} s, peak ${(peak / 2 ** 20).toFixed(1)} MiB`);
  });
});
