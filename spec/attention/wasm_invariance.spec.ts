/**
 * Properties of the CPU's WebAssembly attention kernels beyond accuracy: results do not depend
 * on tile sizes (beyond rounding) or on the thread count (bit for bit), and causal calls skip the
 * key tiles above the diagonal (about half the work) while masking only the tiles on it.
 */
import { expect } from 'chai';
import * as ft from 'flashtensor';
import type { DType, SDPBackend, SdpaOptions } from 'flashtensor';
import { attentionWasmStats, resetAttentionWasmStats, setAttentionTiles } from '../../backends/cpu/kernels/attention_wasm.js';
import { Rng } from '../helpers/rng.js';
import { bits, expectClose, randn, runImpl } from './wasm_helpers.js';

const KERNEL: Record<string, string> = { FLASH_ATTENTION: 'SdpaFlash', EFFICIENT_ATTENTION: 'SdpaEfficient' };

/** Runs fn with tiles (br, bc) for the kernel behind impl, restoring the default after. */
function withTiles<T>(impl: SDPBackend, br: number, bc: number, fn: () => T): T {
  setAttentionTiles(KERNEL[impl], { br, bc });
  try {
    return fn();
  } finally {
    setAttentionTiles(KERNEL[impl], null);
  }
}

describe('cpu wasm attention: tile-size invariance', () => {
  const cases: { impl: SDPBackend; dtype: DType; opts: SdpaOptions; withMask: boolean }[] = [
    { impl: 'FLASH_ATTENTION', dtype: 'float16', opts: { isCausal: true }, withMask: false },
    { impl: 'EFFICIENT_ATTENTION', dtype: 'float32', opts: {}, withMask: true },
    { impl: 'EFFICIENT_ATTENTION', dtype: 'float32', opts: { isCausal: true, causalVariant: 'lowerRight' }, withMask: false },
  ];
  for (const c of cases) {
    it(`${c.impl} ${c.dtype} ${c.withMask ? 'masked' : JSON.stringify(c.opts)}: Br ∈ {8, 40, 80, 128} × Bc ∈ {1, 3, 16, 64, 80, S, > S} agree to rounding`, () => {
      const rng = new Rng(11);
      const [L, S] = c.opts.causalVariant === 'lowerRight' ? [129, 300] : [300, 300];
      const q = randn(rng, [1, 4, L, 32], c.dtype);
      const k = randn(rng, [1, 2, S, 32], c.dtype);
      const v = randn(rng, [1, 2, S, 32], c.dtype);
      const mask = c.withMask ? ft.tensor(new Float32Array(L * S).map(() => (rng.next() < 0.1 ? -Infinity : rng.normal())), [L, S]) : undefined;
      const opts = { ...c.opts, enableGqa: true, attnMask: mask };
      const want = runImpl(c.impl, 'wasm', q.t, k.t, v.t, opts);
      for (const br of [8, 40, 80, 128]) {
        for (const bc of [1, 3, 16, 64, 80, S, S + 212]) {
          const got = withTiles(c.impl, br, bc, () => runImpl(c.impl, 'wasm', q.t, k.t, v.t, opts));
          expectClose(got.out, want.out, c.dtype, `Br=${br} Bc=${bc}`, 2);
          if (got.lse) for (let i = 0; i < got.lse.length; i++) expect(Math.abs(got.lse[i] - want.lse![i])).to.be.below(1e-4);
        }
      }
      ft.dispose([q.t, k.t, v.t, mask ?? null]);
    });
  }

  it('rejects tile sizes the kernel cannot use', () => {
    expect(() => setAttentionTiles('SdpaFlash', { br: 12, bc: 64 })).to.throw(/multiple of 8/);
    expect(() => setAttentionTiles('SdpaFlash', { br: 64, bc: 0 })).to.throw(/positive integer/);
    expect(() => setAttentionTiles('Nope', { br: 64, bc: 64 })).to.throw(/unknown kernel/);
  });
});

describe('cpu wasm attention: thread-count invariance', () => {
  const threads = ft.getNumThreads();
  after(() => ft.setNumThreads(threads));

  const shapes: { name: string; q: number[]; kv: number[]; dtype: DType; opts: SdpaOptions; impl: SDPBackend }[] = [
    { name: 'prefill causal fp16, GQA 8/2', q: [2, 8, 300, 64], kv: [2, 2, 300, 64], dtype: 'float16', opts: { isCausal: true, enableGqa: true }, impl: 'FLASH_ATTENTION' },
    { name: 'decode split-KV bf16', q: [1, 8, 1, 64], kv: [1, 2, 3000, 64], dtype: 'bfloat16', opts: { isCausal: true, causalVariant: 'lowerRight', enableGqa: true }, impl: 'FLASH_ATTENTION' },
    { name: 'masked fp32', q: [2, 4, 129, 80], kv: [2, 4, 65, 80], dtype: 'float32', opts: {}, impl: 'EFFICIENT_ATTENTION' },
  ];
  for (const s of shapes) {
    it(`${s.name}: 1, 2 and 5 threads give bit-identical outputs${s.impl === 'FLASH_ATTENTION' ? ' and logsumexp' : ''}`, () => {
      const rng = new Rng(12);
      const q = randn(rng, s.q, s.dtype);
      const k = randn(rng, s.kv, s.dtype);
      const v = randn(rng, s.kv, s.dtype);
      const mask = s.impl === 'EFFICIENT_ATTENTION' ? ft.tensor(new Float32Array(s.q[2] * s.kv[2]).map(() => (rng.next() < 0.8 ? 1 : 0)), [s.q[2], s.kv[2]], 'bool') : undefined;
      const opts = { ...s.opts, attnMask: mask };
      const results = [1, 2, 5].map((n) => {
        ft.setNumThreads(n);
        return runImpl(s.impl, 'wasm', q.t, k.t, v.t, opts);
      });
      for (const r of results.slice(1)) {
        expect(Array.from(bits(r.out))).to.deep.equal(Array.from(bits(results[0].out)));
        if (r.lse) expect(Array.from(bits(r.lse))).to.deep.equal(Array.from(bits(results[0].lse!)));
      }
      ft.dispose([q.t, k.t, v.t, mask ?? null]);
    });
  }

  it('with several threads the work really is shared', () => {
    ft.setNumThreads(2);
    const rng = new Rng(13);
    const q = randn(rng, [1, 8, 512, 64], 'float16');
    runImpl('FLASH_ATTENTION', 'wasm', q.t, q.t, q.t, {}); // starts the pool
    const before = ft.cpuStats().sharesPerThread;
    runImpl('FLASH_ATTENTION', 'wasm', q.t, q.t, q.t, {});
    const after = ft.cpuStats().sharesPerThread;
    expect(after.length, 'a pool exists').to.be.at.least(2);
    const ran = after.map((x, i) => x - (before[i] ?? 0));
    // ≥: a worker adds its count after the job's last share is marked done, so the warm-up
    // call's counts may land late.
    expect(ran.reduce((a, b) => a + b, 0), 'shares of the job (8 = 2 threads × 4)').to.be.at.least(8);
    q.t.dispose();
  });
});

describe('cpu wasm attention: causal work accounting', () => {
  it('causal visits about half the key tiles of non-causal, and masks only the diagonal ones', () => {
    const rng = new Rng(14);
    const N = 800, H = 2;
    const q = randn(rng, [1, H, N, 64], 'float16');
    const count = (opts: SdpaOptions) => withTiles('FLASH_ATTENTION', 80, 80, () => {
      resetAttentionWasmStats();
      runImpl('FLASH_ATTENTION', 'wasm', q.t, q.t, q.t, opts);
      return { ...attentionWasmStats };
    });
    const full = count({});
    const causal = count({ isCausal: true });
    const blocks = N / 80;
    expect(full.tilesVisited).to.equal(H * blocks * blocks);
    expect(full.tilesMasked).to.equal(0);
    // Query block i sees key tiles 0…i: Σ (i + 1) = blocks·(blocks + 1)/2 per head.
    expect(causal.tilesVisited).to.equal((H * blocks * (blocks + 1)) / 2);
    expect(causal.tilesVisited / full.tilesVisited).to.be.closeTo(0.55, 0.001);
    // With Br = Bc only the tile on the diagonal needs per-element masking.
    expect(causal.tilesMasked).to.equal(H * blocks);
    q.t.dispose();
  });

  it('bottom-right decode (L = 1) needs no masked tile; top-left blocks stop at the diagonal', () => {
    const rng = new Rng(15);
    const q = randn(rng, [1, 1, 1, 64], 'float16');
    const kv = randn(rng, [1, 1, 400, 64], 'float16');
    resetAttentionWasmStats();
    withTiles('FLASH_ATTENTION', 80, 80, () => runImpl('FLASH_ATTENTION', 'wasm', q.t, kv.t, kv.t, { isCausal: true, causalVariant: 'lowerRight' }));
    expect(attentionWasmStats.tilesVisited).to.equal(5);
    expect(attentionWasmStats.tilesMasked).to.equal(0);
    ft.dispose([q.t, kv.t]);
  });
});
