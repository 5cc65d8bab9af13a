/**
 * Property tests: on random shapes the three implementations agree with an independent float64
 * reference; varlen equals the padded batch on real tokens; LSE, causal alignment and KV-cache
 * consistency hold.
 */
import { expect } from 'chai';
import {
  sdpa, sdpaKernel, explainSdpa, flashAttention, flashAttnVarlen, unpadInput, padInput, fromStorage, cast, randn,
  dispose, Random, type SDPBackend, type SdpaOptions, type Tensor,
} from 'flashtensor';

interface Ref { out: Float64Array; lse: Float64Array }

/** Naive float64 attention over (B, H, L, E) flat arrays; mask (B|1, H|1, L, S) keep/bias. */
function reference(
  q: Float32Array, k: Float32Array, v: Float32Array, [B, H, L, E]: number[], Hkv: number, S: number, Ev: number,
  o: { scale?: number; causal?: 'upperLeft' | 'lowerRight'; mask?: { data: Float32Array | Uint8Array; shape: number[]; bool: boolean } },
): Ref {
  const scale = o.scale ?? 1 / Math.sqrt(E);
  const out = new Float64Array(B * H * L * Ev);
  const lse = new Float64Array(B * H * L);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / Hkv));
    for (let i = 0; i < L; i++) {
      const s = new Float64Array(S);
      for (let j = 0; j < S; j++) {
        let dot = 0;
        for (let e = 0; e < E; e++) dot += q[((b * H + h) * L + i) * E + e] * k[((b * Hkv + g) * S + j) * E + e];
        s[j] = dot * scale;
        const off = o.causal === 'lowerRight' ? S - L : 0;
        if (o.causal && j > i + off) s[j] = -Infinity;
        if (o.mask) {
          const [mb, mh] = o.mask.shape;
          const idx = (((mb === 1 ? 0 : b) * mh + (mh === 1 ? 0 : h)) * L + i) * S + j;
          const m = o.mask.data[idx];
          if (o.mask.bool) { if (!m) s[j] = -Infinity; } else s[j] += m;
        }
      }
      const mx = Math.max(...s);
      const base = ((b * H + h) * L + i);
      if (mx === -Infinity) { lse[base] = Infinity; continue; }
      let sum = 0;
      for (let j = 0; j < S; j++) sum += Math.exp(s[j] - mx);
      lse[base] = mx + Math.log(sum);
      for (let j = 0; j < S; j++) {
        const p = Math.exp(s[j] - mx) / sum;
        for (let e = 0; e < Ev; e++) out[base * Ev + e] += p * v[((b * Hkv + g) * S + j) * Ev + e];
      }
    }
  }
  return { out, lse };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

const rng = new Random(20261121);
const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng.uniform() * xs.length)];

describe('sdpa properties over random shapes', () => {
  const Es = [8, 32, 64, 80, 128];
  const ratios = [1, 2, 4, 8];
  for (let trial = 0; trial < 24; trial++) {
    const E = Es[trial % Es.length];
    const ratio = ratios[trial % ratios.length];
    const Hkv = pick([1, 2]);
    const H = Hkv * ratio;
    const B = pick([1, 2]);
    const L = pick([1, 5, 17, 40]);
    const S = pick([3, 9, 33, 70].filter((s) => s !== L));
    const kind = (['none', 'upperLeft', 'lowerRight', 'bool', 'float'] as const)[trial % 5];
    it(`#${trial}: B=${B} H=${H} Hkv=${Hkv} L=${L} S=${S} E=${E} ${kind}: math, efficient and flash agree with float64`, async () => {
      const seed = 1000 + trial;
      const q = randn([B, H, L, E], { seed });
      const k = randn([B, Hkv, S, E], { seed: seed + 1 });
      const v = randn([B, Hkv, S, E], { seed: seed + 2 });
      let mask: Tensor | undefined;
      let refMask: { data: Float32Array | Uint8Array; shape: number[]; bool: boolean } | undefined;
      if (kind === 'bool' || kind === 'float') {
        const mshape = [B, 1, L, S];
        const r = new Random(seed + 3);
        const n = B * L * S;
        if (kind === 'bool') {
          const d = new Uint8Array(n).map(() => (r.uniform() < 0.7 ? 1 : 0));
          for (let j = 0; j < S; j++) d[j] = 0; // row 0 of batch 0 fully masked
          mask = fromStorage(d, mshape, 'bool');
          refMask = { data: d, shape: mshape, bool: true };
        } else {
          const d = new Float32Array(n).map(() => (r.uniform() < 0.2 ? -Infinity : r.normal()));
          for (let j = 0; j < S; j++) d[j] = -Infinity;
          mask = fromStorage(d, mshape, 'float32');
          refMask = { data: d, shape: mshape, bool: false };
        }
      }
      const causal = kind === 'upperLeft' || kind === 'lowerRight' ? kind : undefined;
      const opts: SdpaOptions = { attnMask: mask, isCausal: !!causal, causalVariant: causal, enableGqa: ratio > 1 };
      const ref = reference(await q.data() as Float32Array, await k.data() as Float32Array, await v.data() as Float32Array, [B, H, L, E], Hkv, S, E, { causal, mask: refMask });
      const run = (impl: SDPBackend, qq: Tensor, kk: Tensor, vv: Tensor) => sdpaKernel([impl], () => sdpa(qq, kk, vv, opts));
      for (const impl of ['MATH', 'EFFICIENT_ATTENTION'] as const) {
        const out = run(impl, q, k, v);
        expect(maxDiff(await out.data(), ref.out), impl).to.be.below(2e-5);
        out.dispose();
      }
      // Flash and the others on float16 inputs, against the reference on the rounded inputs.
      const [qh, kh, vh] = [q, k, v].map((t) => cast(t, 'float16'));
      const ref16 = reference(await qh.data() as Float32Array, await kh.data() as Float32Array, await vh.data() as Float32Array, [B, H, L, E], Hkv, S, E, { causal, mask: refMask });
      const eligible = explainSdpa(qh, kh, vh, opts).filter((e) => e.eligible).map((e) => e.backend);
      if (!mask && !(causal === 'upperLeft' && L !== S)) expect(eligible).to.include('FLASH_ATTENTION');
      for (const impl of eligible) {
        const out = run(impl, qh, kh, vh);
        expect(maxDiff(await out.data(), ref16.out), `${impl} fp16`).to.be.below(4e-3);
        out.dispose();
      }
      if (eligible.includes('FLASH_ATTENTION')) {
        const { output, lse } = flashAttention(qh, kh, vh, { ...opts, returnLse: true });
        const got = await lse!.data();
        for (let i = 0; i < got.length; i++) {
          if (ref16.lse[i] === Infinity) expect(got[i]).to.equal(Infinity);
          else expect(Math.abs(got[i] - ref16.lse[i])).to.be.below(1e-4);
        }
        dispose([output, lse!]);
      }
      dispose([q, k, v, qh, kh, vh, mask ?? null]);
    });
  }
});

describe('causal alignment and KV-cache consistency', () => {
  it('isCausal equals tril(ones(L, S)) keep-mask; lowerRight equals tril(ones, S − L)', async () => {
    for (const [L, S] of [[5, 5], [2, 5], [5, 2], [1, 9], [9, 1]]) {
      // One-hot values make the output the attention pattern itself: out[i, j] = P(i attends j).
      const q = randn([1, 1, L, 8], { seed: L * 10 + S });
      const k = randn([1, 1, S, 8], { seed: L * 10 + S + 1 });
      const eye = new Float32Array(S * S);
      for (let j = 0; j < S; j++) eye[j * S + j] = 1;
      const v = fromStorage(eye, [1, 1, S, S], 'float32');
      for (const variant of ['upperLeft', 'lowerRight'] as const) {
        for (const impl of ['MATH', 'EFFICIENT_ATTENTION'] as const) {
          const p = await sdpaKernel([impl], () => sdpa(q, k, v, { isCausal: true, causalVariant: variant })).data();
          const off = variant === 'lowerRight' ? S - L : 0;
          for (let i = 0; i < L; i++) for (let j = 0; j < S; j++) {
            const visible = p[i * S + j] > 0;
            expect(visible, `${impl} ${variant} L=${L} S=${S} (${i},${j})`).to.equal(j <= i + off);
          }
        }
      }
      dispose([q, k, v]);
    }
  });

  it('with top-left and L = 1 the output is V[0] (the KV-cache trap)', async () => {
    const q = randn([1, 2, 1, 8], { seed: 1 });
    const k = randn([1, 2, 6, 8], { seed: 2 });
    const v = randn([1, 2, 6, 8], { seed: 3 });
    const out = await sdpa(q, k, v, { isCausal: true }).data();
    const vd = await v.data();
    expect(maxDiff(out.subarray(0, 8), vd.subarray(0, 8))).to.be.below(1e-7);
    expect(maxDiff(out.subarray(8, 16), vd.subarray(48, 56))).to.be.below(1e-7);
    dispose([q, k, v]);
  });

  it('decode rows with lowerRight over a growing cache equal full causal attention', async () => {
    const T = 12;
    const q = cast(randn([1, 4, T, 16], { seed: 4 }), 'float16');
    const k = cast(randn([1, 2, T, 16], { seed: 5 }), 'float16');
    const v = cast(randn([1, 2, T, 16], { seed: 6 }), 'float16');
    const full = await sdpa(q, k, v, { isCausal: true, enableGqa: true }).data();
    const { slice } = await import('flashtensor');
    for (let t = 0; t < T; t++) {
      const qt = slice(q, [0, 0, t, 0], [1, 4, 1, 16]);
      const kt = slice(k, [0, 0, 0, 0], [1, 2, t + 1, 16]);
      const vt = slice(v, [0, 0, 0, 0], [1, 2, t + 1, 16]);
      const row = await sdpa(qt, kt, vt, { isCausal: true, causalVariant: 'lowerRight', enableGqa: true }).data();
      for (let h = 0; h < 4; h++) {
        expect(maxDiff(row.subarray(h * 16, h * 16 + 16), full.subarray((h * T + t) * 16, (h * T + t) * 16 + 16))).to.be.below(1e-3);
      }
      dispose([qt, kt, vt]);
    }
    dispose([q, k, v]);
  });
});

describe('flashAttnVarlen equals the padded batch on real tokens', () => {
  for (const side of ['left', 'right'] as const) {
    for (const causal of [false, true]) {
      it(`${side} padding, ${causal ? 'causal' : 'full'} attention, GQA 4/2`, async () => {
        const lens = [7, 1, 12, 4];
        const B = lens.length;
        const Smax = Math.max(...lens);
        const [H, Hkv, E] = [4, 2, 16];
        const mask = lens.map((n) => Array.from({ length: Smax }, (_, s) => (side === 'left' ? s >= Smax - n : s < n) ? 1 : 0));
        // Padded (B, S, H, E) activations, as a model holds them before the head transpose.
        const hq = randn([B, Smax, H, E], { seed: 11 });
        const hk = randn([B, Smax, Hkv, E], { seed: 12 });
        const hv = randn([B, Smax, Hkv, E], { seed: 13 });
        const uq = unpadInput(hq, mask);
        const uk = unpadInput(hk, mask);
        const uv = unpadInput(hv, mask);
        expect(uq.seqlens).to.deep.equal(lens);
        const packed = flashAttnVarlen(uq.hidden, uk.hidden, uv.hidden, uq.cuSeqlens, uk.cuSeqlens, uq.maxSeqlen, uk.maxSeqlen, { isCausal: causal });
        const repadded = padInput(packed, uq.indices, B, Smax);
        // Reference: padded sdpa with a key-padding (+ causal on real positions) bool mask.
        const { transpose } = await import('flashtensor');
        const [q, k, v] = [hq, hk, hv].map((t) => transpose(t, [0, 2, 1, 3]));
        const keep = new Uint8Array(B * Smax * Smax);
        for (let b = 0; b < B; b++) for (let i = 0; i < Smax; i++) for (let j = 0; j < Smax; j++) {
          keep[(b * Smax + i) * Smax + j] = mask[b][j] && (!causal || j <= i) ? 1 : 0;
        }
        const m = fromStorage(keep, [B, 1, Smax, Smax], 'bool');
        const ref = transpose(sdpa(q, k, v, { attnMask: m, enableGqa: true }), [0, 2, 1, 3]);
        const got = await repadded.data();
        const want = await ref.data();
        const row = H * E;
        for (let b = 0; b < B; b++) for (let s = 0; s < Smax; s++) {
          const at = (b * Smax + s) * row;
          if (mask[b][s]) expect(maxDiff(got.subarray(at, at + row), want.subarray(at, at + row))).to.be.below(1e-5);
          else expect(got.subarray(at, at + row).every((x) => x === 0), 'padding rows are zero').to.equal(true);
        }
        dispose([hq, hk, hv, uq.hidden, uq.indices, uq.cuSeqlens, uk.hidden, uk.indices, uk.cuSeqlens, uv.hidden, uv.indices, uv.cuSeqlens, packed, repadded, q, k, v, m, ref]);
      });
    }
  }

  it('validates cu_seqlens', () => {
    const q = randn([5, 2, 8], { seed: 1 });
    expect(() => flashAttnVarlen(q, q, q, [0, 2, 5], [0, 3, 4], 3, 3)).to.throw(/last entry of 'cuSeqlensK' \(4\) must equal the total number of tokens \(5\)/);
    expect(() => flashAttnVarlen(q, q, q, [0, 3, 2, 5], [0, 3, 2, 5], 3, 3)).to.throw(/non-decreasing/);
    expect(() => flashAttnVarlen(q, q, q, [1, 5], [1, 5], 5, 5)).to.throw(/\[0\] must be 0/);
    expect(() => flashAttnVarlen(q, q, q, [0, 5], [0, 2, 5], 5, 5)).to.throw(/batch \+ 1/);
    expect(() => flashAttnVarlen(q, q, q, [0, 5], [0, 5], 4, 5)).to.throw(/more than maxSeqlenQ = 4/);
    q.dispose();
  });
});

describe('kvLength: attending a prefix of a pre-allocated cache', () => {
  it('equals sdpa on the sliced keys/values, for every eligible implementation and with a mask', async () => {
    const { slice, ones } = await import('flashtensor');
    for (const dtype of ['float32', 'float16'] as const) {
      const q = cast(randn([2, 4, 3, 16], { seed: 21 }), dtype);
      const kc = cast(randn([2, 2, 20, 16], { seed: 22 }), dtype); // capacity 20, 11 filled
      const vc = cast(randn([2, 2, 20, 16], { seed: 23 }), dtype);
      const k = slice(kc, [0, 0, 0, 0], [2, 2, 11, 16]);
      const v = slice(vc, [0, 0, 0, 0], [2, 2, 11, 16]);
      const mask = ones([2, 1, 1, 11], 'bool');
      for (const opts of [{ isCausal: true, causalVariant: 'lowerRight' as const }, { attnMask: mask }]) {
        const want = await sdpaKernel(['MATH'], () => sdpa(q, k, v, { ...opts, enableGqa: true })).data();
        const eligible = explainSdpa(q, kc, vc, { ...opts, enableGqa: true, kvLength: 11 }).filter((e) => e.eligible).map((e) => e.backend);
        expect(eligible.length).to.be.at.least(2);
        for (const impl of eligible) {
          const got = await sdpaKernel([impl], () => sdpa(q, kc, vc, { ...opts, enableGqa: true, kvLength: 11 })).data();
          expect(maxDiff(got, want), `${dtype} ${impl}`).to.be.below(dtype === 'float16' ? 2e-3 : 1e-6);
        }
      }
      expect(() => sdpa(q, kc, vc, { kvLength: 21, enableGqa: true })).to.throw(/'kvLength' must be an integer in \[0, 20\]/);
      dispose([q, kc, vc, k, v, mask]);
    }
  });
});
