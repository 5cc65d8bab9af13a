/**
 * The CPU's WebAssembly attention kernels (flash, memory-efficient, varlen) against an
 * independent float64 reference and against the TypeScript reference kernels, on odd shapes:
 * L, S ∈ {1, 7, 63, 64, 65, 129, 300}, E ∈ {8, 32, 64, 80, 128, 256}, GQA ratios 1/2/4/8, both
 * causal alignments, KV caches attended to a prefix, Ev ≠ E, masks of every broadcast shape,
 * fully masked rows and logits of ±1e4.
 */
import { expect } from 'chai';
import * as ft from 'flashtensor';
import type { DType, SDPBackend, SdpaOptions, Tensor } from 'flashtensor';
import { attentionWasmStats } from '../../backends/cpu/kernels/attention_wasm.js';
import { refAttention, type RefMask } from '../helpers/attention_ref.js';
import { Rng } from '../helpers/rng.js';
import { expectClose, expectLse, randn, runImpl } from './wasm_helpers.js';

const SEQ = [1, 7, 63, 64, 65, 129, 300];
const HEAD_DIMS = [8, 32, 64, 80, 128, 256];
const RATIOS = [1, 2, 4, 8];
const DTYPES: DType[] = ['float16', 'float32', 'bfloat16'];

interface Shape { B: number; H: number; Hkv: number; L: number; S: number; E: number; Ev: number }

/** Runs `impls` on both kernel paths and checks each against float64 (and LSE for flash). */
function checkCase(rng: Rng, s: Shape, dtype: DType, opts: SdpaOptions, impls: SDPBackend[], label: string, mask?: { t: Tensor; ref: RefMask }): void {
  const q = randn(rng, [s.B, s.H, s.L, s.E], dtype);
  const k = randn(rng, [s.B, s.Hkv, s.S, s.E], dtype);
  const v = randn(rng, [s.B, s.Hkv, s.S, s.Ev], dtype);
  const o = { ...opts, attnMask: mask?.t, enableGqa: s.H !== s.Hkv };
  const ref = refAttention(q.x, k.x, v.x, { ...s, scale: o.scale ?? undefined, causal: o.isCausal ? o.causalVariant ?? 'upperLeft' : undefined, mask: mask?.ref });
  for (const impl of impls) {
    const fast = runImpl(impl, 'wasm', q.t, k.t, v.t, o);
    const slow = runImpl(impl, 'js', q.t, k.t, v.t, o);
    expectClose(fast.out, ref.out, dtype, `${label} ${impl} wasm vs float64`);
    expectClose(fast.out, slow.out, dtype, `${label} ${impl} wasm vs TS reference`, 2);
    if (fast.lse) expectLse(fast.lse, ref.lse, `${label} ${impl}`);
  }
  ft.dispose([q.t, k.t, v.t]);
}

describe('cpu wasm attention: the fast path really runs', () => {
  it('SdpaFlash, SdpaEfficient and FlashAttnVarlen are served by WebAssembly, not the reference', () => {
    expect(ft.cpuInfo().kernels, 'this build and runtime run the wasm kernels').to.equal('wasm');
    ft.resetCpuStats();
    const rng = new Rng(1);
    const q = randn(rng, [1, 2, 9, 16], 'float16');
    ft.dispose([
      ft.sdpaKernel(['FLASH_ATTENTION'], () => ft.sdpa(q.t, q.t, q.t)),
      ft.sdpaKernel(['EFFICIENT_ATTENTION'], () => ft.sdpa(q.t, q.t, q.t)),
      ft.flashAttnVarlen(ft.reshape(q.t, [9, 2, 16]), ft.reshape(q.t, [9, 2, 16]), ft.reshape(q.t, [9, 2, 16]), [0, 4, 9], [0, 4, 9], 5, 5),
    ]);
    const st = ft.cpuStats();
    expect(st.wasm.SdpaFlash).to.equal(1);
    expect(st.wasm.SdpaEfficient).to.equal(1);
    expect(st.wasm.FlashAttnVarlen).to.equal(1);
    expect(st.js.SdpaFlash ?? 0).to.equal(0);
    expect(st.js.SdpaEfficient ?? 0).to.equal(0);
    q.t.dispose();
  });
});

describe('cpu wasm attention vs float64 on odd shapes', () => {
  const rng = new Rng(20261121);
  // Every (L, S) pair once; head dim, GQA ratio, dtype and causality rotate through their lists.
  let n = 0;
  for (const L of SEQ) for (const S of SEQ) {
    const i = n++;
    const E = HEAD_DIMS[i % HEAD_DIMS.length];
    const ratio = RATIOS[(i >> 1) % RATIOS.length];
    const dtype = DTYPES[i % DTYPES.length];
    const causal = (['none', 'lowerRight', 'upperLeft'] as const)[i % 3];
    // Keep the float64 reference quick: fewer heads for the big products.
    const Hkv = L * S * E > 2e6 ? 1 : 2;
    const shape: Shape = { B: i % 4 === 0 ? 2 : 1, H: Hkv * ratio, Hkv, L, S, E, Ev: E };
    const opts: SdpaOptions = causal === 'none' ? {} : { isCausal: true, causalVariant: causal };
    const flashOk = dtype !== 'float32' && !(causal === 'upperLeft' && L !== S);
    const impls: SDPBackend[] = flashOk ? ['FLASH_ATTENTION', 'EFFICIENT_ATTENTION'] : ['EFFICIENT_ATTENTION'];
    it(`L=${L} S=${S} E=${E} H=${shape.H}/${Hkv} B=${shape.B} ${dtype} ${causal}`, () => checkCase(rng, shape, dtype, opts, impls, `#${i}`));
  }

  it('memory-efficient with Ev ≠ E (Ev 8, 24, 72, 130) and a custom scale', () => {
    for (const [E, Ev] of [[64, 8], [32, 24], [8, 72], [80, 130]]) {
      for (const dtype of ['float32', 'float16'] as const) {
        checkCase(rng, { B: 2, H: 4, Hkv: 2, L: 65, S: 63, E, Ev }, dtype, { scale: 0.3 }, ['EFFICIENT_ATTENTION'], `E=${E} Ev=${Ev} ${dtype}`);
      }
    }
  });

  it('negative scale', () => {
    checkCase(rng, { B: 1, H: 2, Hkv: 2, L: 17, S: 33, E: 16, Ev: 16 }, 'float16', { scale: -0.5 }, ['FLASH_ATTENTION', 'EFFICIENT_ATTENTION'], 'scale -0.5');
  });

  it('decode (L = 1) over long caches splits the key range and merges', () => {
    const before = attentionWasmStats.splitCalls;
    for (const [H, Hkv, S] of [[8, 2, 3000], [4, 4, 700], [32, 8, 4096]]) {
      checkCase(rng, { B: 1, H, Hkv, L: 1, S, E: 64, Ev: 64 }, 'float16', { isCausal: true, causalVariant: 'lowerRight' }, ['FLASH_ATTENTION', 'EFFICIENT_ATTENTION'], `decode ${H}/${Hkv} S=${S}`);
    }
    expect(attentionWasmStats.splitCalls - before, 'split-KV calls').to.be.at.least(4);
  });
});

describe('cpu wasm attention: KV cache prefix (kvLength)', () => {
  it('attends the first kvLength of an allocated cache exactly like the sliced keys', () => {
    const rng = new Rng(7);
    for (const dtype of ['float16', 'float32'] as const) {
      for (const [L, cap, len] of [[1, 300, 129], [7, 300, 65], [65, 129, 64]]) {
        const q = randn(rng, [1, 4, L, 32], dtype);
        const k = randn(rng, [1, 2, cap, 32], dtype);
        const v = randn(rng, [1, 2, cap, 32], dtype);
        const opts: SdpaOptions = { isCausal: true, causalVariant: 'lowerRight', enableGqa: true, kvLength: len };
        const ref = refAttention(q.x, k.x, v.x, { B: 1, H: 4, Hkv: 2, L, S: len, SAlloc: cap, E: 32, Ev: 32, causal: 'lowerRight' });
        const impls: SDPBackend[] = dtype === 'float32' ? ['EFFICIENT_ATTENTION'] : ['FLASH_ATTENTION', 'EFFICIENT_ATTENTION'];
        for (const impl of impls) {
          const got = runImpl(impl, 'wasm', q.t, k.t, v.t, opts);
          expectClose(got.out, ref.out, dtype, `${dtype} L=${L} kvLength ${len}/${cap} ${impl}`);
          if (got.lse) expectLse(got.lse, ref.lse, `${dtype} kvLength ${impl}`);
        }
        ft.dispose([q.t, k.t, v.t]);
      }
    }
  });
});

/** Every mask shape that broadcasts to (B, H, L, S), with its values. */
function maskShapes(B: number, H: number, L: number, S: number): number[][] {
  const out: number[][] = [[S], [1], [L, S], [1, S], [L, 1], [1, L, S], [H, 1, S]];
  for (let m = 0; m < 16; m++) out.push([B, H, L, S].map((d, i) => (m & (1 << i) ? d : 1)));
  return out;
}

describe('cpu wasm attention: masks (memory-efficient)', () => {
  const [B, H, L, S, E] = [2, 3, 7, 9, 8];
  for (const shape of maskShapes(B, H, L, S)) {
    for (const kind of ['bool', 'float32', 'float16'] as const) {
      it(`mask [${shape}] ${kind}`, () => {
        const rng = new Rng(shape.length * 100 + shape.reduce((a, b) => a * 7 + b, 0));
        const n = shape.reduce((a, b) => a * b, 1);
        const data = new Float32Array(n).map(() => (kind === 'bool' ? (rng.next() < 0.7 ? 1 : 0) : rng.next() < 0.2 ? -Infinity : rng.normal()));
        const t = ft.tensor(data, shape, kind);
        const ref: RefMask = { data: t.dataSync(), shape, bool: kind === 'bool' };
        // A float16 mask needs float16 queries (mask dtype: bool, float32 or the query's).
        const dtype: DType = kind === 'float16' ? 'float16' : 'float32';
        checkCase(rng, { B, H, Hkv: H, L, S, E, Ev: E }, dtype, {}, ['EFFICIENT_ATTENTION'], `mask [${shape}] ${kind}`, { t, ref });
        t.dispose();
      });
    }
  }

  it('fully masked rows are exactly 0 (bool and −∞ float masks), other rows unaffected', () => {
    const rng = new Rng(3);
    for (const kind of ['bool', 'float32'] as const) {
      const keep = new Float32Array(L * S).map((_, i) => (Math.floor(i / S) % 3 === 1 ? (kind === 'bool' ? 0 : -Infinity) : kind === 'bool' ? 1 : 0));
      const t = ft.tensor(keep, [L, S], kind);
      const q = randn(rng, [B, H, L, E], 'float32');
      const kv = randn(rng, [B, H, S, E], 'float32');
      const got = runImpl('EFFICIENT_ATTENTION', 'wasm', q.t, kv.t, kv.t, { attnMask: t }).out;
      for (let r = 0; r < B * H * L; r++) {
        const row = Array.from(got.subarray(r * E, (r + 1) * E));
        if ((r % L) % 3 === 1) expect(row.every((x) => x === 0), `row ${r} is 0`).to.equal(true);
        else expect(row.some((x) => x !== 0), `row ${r} is not 0`).to.equal(true);
      }
      ft.dispose([t, q.t, kv.t]);
    }
  });

  it('masked keys do not leak: huge values at masked positions change nothing', () => {
    const rng = new Rng(4);
    const q = randn(rng, [1, 2, L, E], 'float32');
    const k = randn(rng, [1, 2, S, E], 'float32');
    const v = randn(rng, [1, 2, S, E], 'float32');
    const mask = ft.tensor(new Float32Array(S).map((_, j) => (j % 4 === 2 ? 0 : 1)), [S], 'bool');
    const kx = Float32Array.from(k.x), vx = Float32Array.from(v.x);
    for (let h = 0; h < 2; h++) for (let j = 2; j < S; j += 4) for (let e = 0; e < E; e++) {
      kx[(h * S + j) * E + e] = 1e10;
      vx[(h * S + j) * E + e] = 1e10;
    }
    const [k2, v2] = [ft.tensor(kx, [1, 2, S, E]), ft.tensor(vx, [1, 2, S, E])];
    const clean = runImpl('EFFICIENT_ATTENTION', 'wasm', q.t, k.t, v.t, { attnMask: mask }).out;
    const dirty = runImpl('EFFICIENT_ATTENTION', 'wasm', q.t, k2, v2, { attnMask: mask }).out;
    expect(Array.from(dirty)).to.deep.equal(Array.from(clean));
    ft.dispose([q.t, k.t, v.t, k2, v2, mask]);
  });

  it("float32's minimum as an additive mask is not −∞: those rows average V uniformly (PyTorch)", () => {
    const rng = new Rng(5);
    const q = randn(rng, [1, 1, 3, E], 'float32');
    const kv = randn(rng, [1, 1, S, E], 'float32');
    const m = ft.full([3, S], -3.4028234663852886e38, 'float32');
    const got = runImpl('EFFICIENT_ATTENTION', 'wasm', q.t, kv.t, kv.t, { attnMask: m }).out;
    for (let e = 0; e < E; e++) {
      let mean = 0;
      for (let j = 0; j < S; j++) mean += kv.x[j * E + e] / S;
      for (let i = 0; i < 3; i++) expect(Math.abs(got[i * E + e] - mean)).to.be.below(1e-5);
    }
    ft.dispose([q.t, kv.t, m]);
  });
});

describe('cpu wasm attention: numerics at the edges', () => {
  it('bottom-right causal with L > S: the first L − S rows are 0 with logsumexp +∞', () => {
    const rng = new Rng(6);
    const q = randn(rng, [1, 2, 70, 16], 'float16');
    const kv = randn(rng, [1, 2, 9, 16], 'float16');
    const opts: SdpaOptions = { isCausal: true, causalVariant: 'lowerRight' };
    const { out, lse } = runImpl('FLASH_ATTENTION', 'wasm', q.t, kv.t, kv.t, opts);
    const ref = refAttention(q.x, kv.x, kv.x, { B: 1, H: 2, Hkv: 2, L: 70, S: 9, E: 16, Ev: 16, causal: 'lowerRight' });
    expectClose(out, ref.out, 'float16', 'L > S');
    expectLse(lse!, ref.lse, 'L > S');
    for (let h = 0; h < 2; h++) for (let i = 0; i < 61; i++) {
      expect(lse![h * 70 + i]).to.equal(Infinity);
      expect(Array.from(out.subarray((h * 70 + i) * 16, (h * 70 + i + 1) * 16)).every((x) => x === 0)).to.equal(true);
    }
    ft.dispose([q.t, kv.t]);
  });

  it('logits of ±1e4 (float32) and near float16 overflow stay finite and match float64', () => {
    const rng = new Rng(8);
    for (const [dtype, scaleQ] of [['float32', 100], ['float16', 120]] as const) {
      const q = randn(rng, [1, 2, 33, 64], dtype, scaleQ);
      const k = randn(rng, [1, 2, 65, 64], dtype, scaleQ);
      const v = randn(rng, [1, 2, 65, 64], dtype);
      const ref = refAttention(q.x, k.x, v.x, { B: 1, H: 2, Hkv: 2, L: 33, S: 65, E: 64, Ev: 64 });
      const impls: SDPBackend[] = dtype === 'float32' ? ['EFFICIENT_ATTENTION'] : ['FLASH_ATTENTION', 'EFFICIENT_ATTENTION'];
      for (const impl of impls) {
        const got = runImpl(impl, 'wasm', q.t, k.t, v.t, {});
        expect(got.out.every(Number.isFinite), `${dtype} ${impl} finite`).to.equal(true);
        // Scores of 1e4 carry float32 rounding of ~1e-3, which moves near-tied weights: loose bound.
        expectClose(got.out, ref.out, dtype, `${dtype} ${impl} large logits`, 400);
        if (got.lse) expect(got.lse.every(Number.isFinite)).to.equal(true);
      }
      ft.dispose([q.t, k.t, v.t]);
    }
  });
});

describe('cpu wasm attention: varlen', () => {
  it('packed sequences (lengths 1 … 129, one empty) equal per-sequence float64 attention', () => {
    const rng = new Rng(9);
    const lensQ = [1, 7, 0, 63, 65, 129];
    const lensK = [1, 9, 3, 63, 100, 129];
    const [H, Hkv, E] = [4, 2, 32];
    for (const causal of [false, true]) {
      const Tq = lensQ.reduce((a, b) => a + b), Tk = lensK.reduce((a, b) => a + b);
      const q = randn(rng, [Tq, H, E], 'float16');
      const k = randn(rng, [Tk, Hkv, E], 'float16');
      const v = randn(rng, [Tk, Hkv, E], 'float16');
      const cu = (ls: number[]) => ls.reduce((acc, l) => [...acc, acc[acc.length - 1] + l], [0]);
      const out = ft.flashAttnVarlen(q.t, k.t, v.t, cu(lensQ), cu(lensK), 129, 129, { isCausal: causal });
      const got = out.dataSync();
      out.dispose();
      let q0 = 0, k0 = 0;
      lensQ.forEach((lq, b) => {
        const lk = lensK[b];
        // (T, H, E) → (1, H, T, E) for the reference.
        const toBHTE = (x: Float32Array, t0: number, T: number, h: number) => {
          const r = new Float32Array(h * T * E);
          for (let t = 0; t < T; t++) for (let hh = 0; hh < h; hh++) for (let e = 0; e < E; e++) r[(hh * T + t) * E + e] = x[((t0 + t) * h + hh) * E + e];
          return r;
        };
        const ref = refAttention(toBHTE(q.x, q0, lq, H), toBHTE(k.x, k0, lk, Hkv), toBHTE(v.x, k0, lk, Hkv), { B: 1, H, Hkv, L: lq, S: lk, E, Ev: E, causal: causal ? 'lowerRight' : undefined });
        const mine = new Float32Array(H * lq * E);
        for (let t = 0; t < lq; t++) for (let h = 0; h < H; h++) for (let e = 0; e < E; e++) mine[(h * lq + t) * E + e] = got[((q0 + t) * H + h) * E + e];
        expectClose(mine, ref.out, 'float16', `varlen seq ${b} causal=${causal}`);
        q0 += lq;
        k0 += lk;
      });
      ft.dispose([q.t, k.t, v.t]);
    }
  });
});
