/**
 * PyTorch SDPA fixtures (shared/fixtures/sdpa, see its README) on every registered backend other
 * than the CPU (spec/attention/fixtures.spec.ts covers the CPU):
 * each case runs through every attention implementation that is eligible for it (flash,
 * memory-efficient, math — forced one at a time with sdpaKernel), plus the flash kernel directly
 * for float32 inputs (the dispatcher keeps flash for 16-bit dtypes, but the kernel computes f32).
 * Tolerances from the README: float32 inputs vs `out` 1e-5; float16 files vs `out_golden_f64` 2e-3;
 * fully-masked rows exactly 0.
 */

import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as ft from '../../index.js';
import '../../backends/webgpu/index.js';
import { ENGINE } from '../../lib/engine.js';
import type { DType } from '../../lib/dtype.js';
import type { Tensor } from '../../lib/tensor.js';
import { fixture } from '../helpers/fixtures.js';
import { requireWebGPU } from '../helpers/webgpu_env.js';

interface FixtureCase {
  name: string;
  file: string;
  attn_mask: { dtype: string } | null;
  is_causal: boolean;
  causal_variant: string | null;
  scale: number | null;
  enable_gqa: boolean;
  fully_masked_query_rows: number[][] | number[];
  edge_case: boolean;
}

const IMPLS = ['FLASH_ATTENTION', 'EFFICIENT_ATTENTION', 'MATH'] as const;
const DTYPE_REASON = /dtype float16 or bfloat16/;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

const index = JSON.parse(readFileSync(fixture('sdpa', 'cases.json'), 'utf8'));
const cases: FixtureCase[] = index.cases;
const lowPrecision: { name: string; dtype: string; file: string }[] = index.low_precision?.cases ?? [];

const gates: Record<string, () => Promise<boolean>> = { webgpu: requireWebGPU };
const backends: [string, boolean][] = [];
for (const b of ft.listBackends()) if (b !== 'cpu') backends.push([b, gates[b] ? await gates[b]() : true]);

/** Loads a fixture file's tensors on `backend`: q/k/v (and a float mask) in `dtype`, bool masks as bool, references as float32. */
async function load(file: string, dtype: DType, backend: string): Promise<Record<string, Tensor>> {
  const { tensors } = await ft.loadSafetensors(fixture('sdpa', file), {
    backend,
    dtype: (e) => (e.dtype === 'BOOL' ? 'bool' : ['q', 'k', 'v', 'attn_mask'].includes(e.name) ? dtype : 'float32'),
  });
  return tensors;
}

/** Runs one fixture file through every eligible implementation on `backend`; returns what ran. */
async function runFixture(c: FixtureCase, file: string, dtype: DType, backendName: string, reference: string, tol: number): Promise<string[]> {
  const t = await load(file, dtype, backendName);
  const want = await t[reference].data();
  const { q, k, v } = t;
  const mask = t.attn_mask ?? null;
  const opts: ft.SdpaOptions = {
    attnMask: mask, isCausal: c.is_causal || c.causal_variant === 'lower_right',
    causalVariant: c.causal_variant === 'lower_right' ? 'lowerRight' : 'upperLeft', scale: c.scale, enableGqa: c.enable_gqa,
  };
  const ran: string[] = [];
  const check = async (label: string, out: Tensor) => {
    const got = await out.data();
    out.dispose();
    const err = maxAbsDiff(got, want);
    expect(err, `${c.name} (${file}) via ${label} on ${backendName}: max |diff| ${err}`).to.be.at.most(tol);
    // Fully-masked rows must be exactly zero (not NaN, not tiny).
    for (let i = 0; i < want.length; i++) if (want[i] === 0 && got[i] !== 0 && Math.abs(got[i]) > 0) expect.fail(`${c.name} via ${label}: element ${i} should be exactly 0, got ${got[i]}`);
    ran.push(label);
  };
  try {
    for (const impl of IMPLS) {
      const verdict = ft.sdpaKernel([impl], () => ft.explainSdpa(q, k, v, opts)).find((e) => e.backend === impl)!;
      if (verdict.eligible) {
        await check(impl, ft.sdpaKernel([impl], () => ft.sdpa(q, k, v, opts)));
      } else if (impl === 'FLASH_ATTENTION' && verdict.reasons.every((r) => DTYPE_REASON.test(r))) {
        const out = ENGINE.runKernel('SdpaFlash', [q, k, v], {
          scale: opts.scale ?? 1 / Math.sqrt(q.shape[q.rank - 1]), causal: opts.isCausal ? opts.causalVariant : 'none', enableGqa: !!opts.enableGqa, hasMask: false, returnLse: false,
        }) as Tensor;
        await check('SdpaFlash kernel (f32)', out);
      }
    }
  } finally {
    ft.dispose(t);
  }
  return ran;
}

for (const [backendName, enabled] of backends) {
  (enabled && cases.length ? describe : describe.skip)(`sdpa fixtures (PyTorch 2.13) on ${backendName}`, function () {
    this.timeout(120000);
    const ranBy: Record<string, number> = {};
    for (const c of cases) {
      it(`${c.name} (float32)`, async () => {
        const ran = await runFixture(c, c.file, 'float32', backendName, 'out', 1e-5);
        expect(ran.length, `${c.name}: no implementation ran`).to.be.above(0);
        for (const r of ran) ranBy[r] = (ranBy[r] ?? 0) + 1;
      });
    }
    for (const lp of lowPrecision.filter((x) => x.dtype === 'float16')) {
      const c = cases.find((x) => x.name === lp.name)!;
      it(`${lp.name} (float16 file)`, async () => {
        const ran = await runFixture(c, lp.file, 'float16', backendName, 'out_golden_f64', 2e-3);
        expect(ran.length).to.be.above(0);
        for (const r of ran) ranBy[`${r} f16`] = (ranBy[`${r} f16`] ?? 0) + 1;
      });
    }
    it('exercised flash, memory-efficient and math', () => {
      expect(ranBy.MATH ?? 0, JSON.stringify(ranBy)).to.be.above(30);
      expect(ranBy.EFFICIENT_ATTENTION ?? 0, JSON.stringify(ranBy)).to.be.above(30);
      expect((ranBy['FLASH_ATTENTION f16'] ?? 0) + (ranBy['SdpaFlash kernel (f32)'] ?? 0), JSON.stringify(ranBy)).to.be.above(10);
    });
  });
}
