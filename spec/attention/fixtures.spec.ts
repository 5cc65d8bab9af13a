/**
 * Every case PyTorch computed in ../shared/fixtures/sdpa, through every implementation that is
 * eligible for it: float64 references at 1e-5 for float32 inputs, float16 inputs against the
 * float64 golden output at 2e-3, fully masked rows exactly 0.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { explainSdpa, loadSafetensors, sdpa, sdpaKernel, dispose, type SDPBackend, type SdpaOptions, type Tensor } from 'flashtensor';
import { fixture } from '../helpers/fixtures.js';

interface Case {
  name: string; file: string; is_causal: boolean; causal_variant: string | null; scale: number | null;
  enable_gqa: boolean; fully_masked_query_rows: number[][] | number[]; out_shape: number[]; edge_case: boolean;
}

const cases: Case[] = JSON.parse(readFileSync(fixture('sdpa', 'cases.json'), 'utf8')).cases;
const lowPrecision: { name: string; dtype: string; file: string }[] = JSON.parse(readFileSync(fixture('sdpa', 'cases.json'), 'utf8')).low_precision?.cases ?? [];

function options(c: Case, mask: Tensor | undefined): SdpaOptions {
  const lowerRight = c.causal_variant === 'lower_right';
  return { attnMask: mask, isCausal: c.is_causal || lowerRight, causalVariant: lowerRight ? 'lowerRight' : 'upperLeft', scale: c.scale, enableGqa: c.enable_gqa };
}

function maxDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).to.equal(want.length);
  let m = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

async function runAll(t: Record<string, Tensor>, c: Case, want: Float32Array | Float64Array, tol: number, label: string) {
  const opts = options(c, t.attn_mask);
  const eligible = explainSdpa(t.q, t.k, t.v, opts).filter((e) => e.eligible).map((e) => e.backend);
  expect(eligible, `${label}: math always qualifies`).to.include('MATH');
  for (const impl of eligible) {
    const out = sdpaKernel([impl as SDPBackend], () => sdpa(t.q, t.k, t.v, opts));
    expect(out.shape).to.deep.equal(c.out_shape);
    const got = await out.data();
    expect(maxDiff(got, want), `${label} via ${impl}`).to.be.at.most(tol);
    // Fully masked query rows are exactly zero, never NaN.
    const rows = (c.fully_masked_query_rows as unknown[]).length;
    if (rows) {
      const Ev = c.out_shape[c.out_shape.length - 1];
      for (let i = 0; i < got.length; i += Ev) {
        if (want.subarray(i, i + Ev).every((x) => x === 0)) {
          expect(Array.from(got.slice(i, i + Ev)).every((x) => x === 0), `${label} via ${impl}: masked row ${i / Ev}`).to.equal(true);
        }
      }
    }
    out.dispose();
  }
  return eligible;
}

describe('sdpa reproduces PyTorch (../shared/fixtures/sdpa)', () => {
  for (const c of cases) {
    it(`${c.name} (float32 inputs, every eligible implementation)`, async () => {
      // Inputs were drawn in float32: loading F64 as float32 is exact; the reference stays float64.
      const { tensors: t } = await loadSafetensors(fixture('sdpa', c.file));
      await runAll(t, c, (await loadRef(c.file)).out, 1e-5, c.name);
      dispose(Object.values(t));
    });
  }

  for (const lp of lowPrecision.filter((x) => x.dtype === 'float16' || x.dtype === 'float32')) {
    const c = cases.find((x) => x.name === lp.name)!;
    it(`${c.name} (${lp.dtype} file vs float64 golden)`, async () => {
      const { tensors: t } = await loadSafetensors(fixture('sdpa', lp.file));
      const golden = (await t.out_golden_f64.data()) as Float32Array;
      const eligible = await runAll(t, c, golden, lp.dtype === 'float16' ? 2e-3 : 1e-5, `${c.name}.${lp.dtype}`);
      const E = t.q.shape[t.q.rank - 1];
      const flashShaped = c.out_shape.length === 4 && E === t.v.shape[t.v.rank - 1] && E % 8 === 0 && !(c.is_causal && c.out_shape[2] !== t.k.shape[2]);
      if (lp.dtype === 'float16' && !t.attn_mask && flashShaped) {
        expect(eligible, 'float16 without a mask is flash-eligible').to.include('FLASH_ATTENTION');
      }
      dispose(Object.values(t));
    });
  }
});

/** The float64 reference output, read as float64 (not rounded to float32). */
async function loadRef(file: string): Promise<{ out: Float64Array }> {
  const { openSafetensors } = await import('flashtensor');
  const f = await openSafetensors(fixture('sdpa', file));
  const bytes = await f.readBytes('out');
  await f.close();
  return { out: new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
}
